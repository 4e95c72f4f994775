"""
End-to-end: two real proxy processes (``twistd -n pypiproxy``) sharing one
``--store`` bucket on a real SeaweedFS (credentials in the standard AWS
environment variables), in front of a fake upstream on 127.0.0.1.

What node A cached is installed by real pip and real uv through node B with
the upstream stopped (files and pages come from the store); then both nodes
are restarted with empty cache directories, the upstream still stopped, and
uv installs again.
"""

from __future__ import annotations

from twisted.python.filepath import FilePath

from tests.e2e.proxyprocess import ProxyProcess, start_twistd_proxy
from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, pip_argv, uv_argv
from tests.seaweed import SeaweedServer, shared_server
from tests.wheels import build_wheel

APP = build_wheel("tpsapp", "1.0", requires=["tpsdep>=1"])
DEP = build_wheel("tpsdep", "1.0")

#: What an install leaves in the target directory.
INSTALLED = {"tpsapp-1.0.dist-info", "tpsdep-1.0.dist-info"}


class SharedStoreTests(RealInstallTestCase):
    """
    Nodes on one bucket share the files and pages they cached.
    """

    timeout = 240

    def setUp(self) -> None:
        super().setUp()
        self.server: SeaweedServer = shared_server()
        self.bucket = self.server.new_bucket("e2e")
        index = FakeIndex(mode="json")
        index.add("tpsapp", FakeFile(APP))
        index.add("tpsdep", FakeFile(DEP))
        self.upstream = self.start_upstream(index)

    async def node(self) -> ProxyProcess:
        """A proxy on the bucket, with a new, empty cache directory."""
        keys = self.server.keys
        assert keys is not None
        home = self.scratch()
        home.makedirs()
        options = [
            "--index", f"up={self.upstream.url}",
            "--cache-dir", home.child("cache").path,
            "--store", f"s3://{self.bucket}/fleet",
            "--s3-endpoint", self.server.endpoint,
        ]  # fmt: skip
        env = {
            "AWS_ACCESS_KEY_ID": keys.access_key,
            "AWS_SECRET_ACCESS_KEY": keys.secret_key,
        }
        return await start_twistd_proxy(self, home, options, env)

    async def install(self, argv: list[str], target: FilePath[str]) -> None:
        """Run an installer; it succeeds and installs the set."""
        code, output = await self.run_process(argv, self.env)
        self.assertEqual(code, 0, output)
        self.assertEqual(
            {n for n in target.listdir() if n.endswith(".dist-info")}, INSTALLED
        )

    async def test_install_through_other_node(self) -> None:
        """
        pip through node A fills the store; with the upstream stopped pip
        and uv install the same through node B, and once both nodes are
        restarted with empty cache directories, uv installs again.
        """
        assert self.uv is not None
        node_a = await self.node()
        node_b = await self.node()
        target = self.scratch()
        await self.install(pip_argv(node_a.url, target, "tpsapp"), target)
        await self.upstream.stop()
        fetched = sum(self.upstream.file_requests().values())
        for argv_of in (pip_argv, lambda u, t, r: uv_argv(self.uv, u, t, r)):
            target = self.scratch()
            await self.install(argv_of(node_b.url, target, "tpsapp"), target)
        await node_a.stop()
        await node_b.stop()
        await self.node()
        restarted_b = await self.node()
        target = self.scratch()
        await self.install(uv_argv(self.uv, restarted_b.url, target, "tpsapp"), target)
        self.assertEqual(sum(self.upstream.file_requests().values()), fetched)
