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

import json
from urllib.parse import urljoin

import treq
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.python.filepath import FilePath

from tests.e2e.proxyprocess import ProxyProcess, start_twistd_proxy
from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, pip_argv, uv_argv
from tests.seaweed import SeaweedServer, shared_server
from tests.wheels import build_wheel

APP = build_wheel("tpsapp", "1.0", requires=["tpsdep>=1"])
DEP = build_wheel("tpsdep", "1.0")

#: The JSON page format.
_JSON = "application/vnd.pypi.simple.v1+json"

#: What an install leaves in the target directory.
INSTALLED = {"tpsapp-1.0.dist-info", "tpsdep-1.0.dist-info"}


class SharedStoreTests(RealInstallTestCase):
    """
    Nodes on one bucket share the files and pages they cached.
    """

    timeout = 240

    def setUp(self) -> None:
        """The shared SeaweedFS, a new bucket, a fake upstream."""
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


class StoreOutageTests(RealInstallTestCase):
    """
    A node whose store stops stays up: files it has a local copy of are
    still served, others fail cleanly with a 503 naming the store.
    """

    timeout = 240

    async def file_url(self, node: ProxyProcess, project: str) -> str:
        """The proxy's URL of the one file of ``project``."""
        page_url = f"{node.url}{project}/"
        accept: dict[bytes | str, bytes | str] = {"Accept": _JSON}
        response = await treq.get(page_url, headers=accept, persistent=False)
        page = json.loads(await response.content())
        url: str = page["files"][0]["url"]
        return urljoin(page_url, url)

    async def test_store_stopped(self) -> None:
        """
        With the store stopped, the health page answers, a file the node
        cached before is served whole from its local copy, and an uncached
        file is a 503 saying the store cannot be reached; nothing of it is
        published once the store is back.
        """
        server = SeaweedServer()
        self.addCleanup(server.close)
        server.start()
        bucket = server.new_bucket("outage")
        index = FakeIndex(mode="json")
        index.add("tpsapp", FakeFile(APP))
        index.add("tpsdep", FakeFile(DEP))
        upstream = self.start_upstream(index)
        home = self.scratch()
        home.makedirs()
        options = [
            "--index", f"up={upstream.url}",
            "--cache-dir", home.child("cache").path,
            "--store", f"s3://{bucket}",
            "--s3-endpoint", server.endpoint,
        ]  # fmt: skip
        env = {"AWS_ACCESS_KEY_ID": "any", "AWS_SECRET_ACCESS_KEY": "any"}
        node = await start_twistd_proxy(self, home, options, env)
        base = node.url.removesuffix("simple/")
        cached, uncached = [await self.file_url(node, p) for p in ("tpsapp", "tpsdep")]
        response = await treq.get(cached, persistent=False)
        self.assertEqual(await response.content(), APP.content)
        # The client is served before the upload ends: wait for the publish.
        for _ in range(600):
            if b"Cached " in node.log:
                break
            await deferLater(reactor, 0.05)
        self.assertIn(b"Cached ", node.log)
        server.stop()
        response = await treq.get(base + "-/health", persistent=False)
        self.assertEqual(response.code, 200)
        await response.content()
        response = await treq.get(cached, persistent=False)
        self.assertEqual(await response.content(), APP.content)
        response = await treq.get(uncached, persistent=False)
        self.assertEqual(response.code, 503)
        self.assertIn(b"store cannot be reached", await response.content())
        server.start()
        status, _, listing = server.request("GET", f"/{bucket}?list-type=2")
        self.assertEqual(status, 200)
        self.assertNotIn(DEP.filename.encode(), listing)
