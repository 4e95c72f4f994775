"""
End-to-end: a private index kept in a bucket (``--local
team=s3://BUCKET/team``) shared by two real proxy processes (``twistd -n
pypiproxy``) on a real SeaweedFS: real twine uploads a wheel to node A, node
A lists it at once, node B within its page TTL, and real pip installs it
through node B.
"""

from __future__ import annotations

import json
import sys

import bcrypt
import treq
from twisted.internet import reactor
from twisted.internet.task import deferLater

from tests.e2e.proxyprocess import ProxyProcess, start_twistd_proxy
from tests.fakeindex import FakeIndex
from tests.realinstall import RealInstallTestCase, pip_argv
from tests.seaweed import SeaweedServer, shared_server
from tests.wheels import build_wheel

WHEEL = build_wheel("tp-private", "1.0")

#: The JSON page format.
_JSON = "application/vnd.pypi.simple.v1+json"

#: Seconds a node's listing of the bucket stays good.
TTL = 1


class PrivateBucketTests(RealInstallTestCase):
    """
    An upload to one node is installed through another.
    """

    timeout = 240

    def setUp(self) -> None:
        """The shared SeaweedFS, a new bucket, an empty fake upstream."""
        super().setUp()
        self.server: SeaweedServer = shared_server()
        self.bucket = self.server.new_bucket("private")
        self.upstream = self.start_upstream(FakeIndex(mode="json"))
        self.users = self.scratch()
        hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
        self.users.setContent(f"alice:{hashed}\n".encode())

    async def node(self) -> ProxyProcess:
        """A proxy with the private index in the bucket, taking uploads."""
        keys = self.server.keys
        assert keys is not None
        home = self.scratch()
        home.makedirs()
        options = [
            "--index", f"up={self.upstream.url}",
            "--cache-dir", home.child("cache").path,
            "--local", f"team=s3://{self.bucket}/team",
            "--s3-endpoint", self.server.endpoint,
            "--index-ttl", str(TTL),
            "--upload-users", self.users.path,
        ]  # fmt: skip
        env = {
            "AWS_ACCESS_KEY_ID": keys.access_key,
            "AWS_SECRET_ACCESS_KEY": keys.secret_key,
        }
        return await start_twistd_proxy(self, home, options, env)

    async def listed(self, node: ProxyProcess) -> list[str]:
        """The filenames the node's page of the project lists."""
        accept: dict[bytes | str, bytes | str] = {"Accept": _JSON}
        response = await treq.get(
            f"{node.url}tp-private/", headers=accept, persistent=False
        )
        body = await response.content()
        if response.code != 200:
            return []
        return [f["filename"] for f in json.loads(body)["files"]]

    async def test_upload_to_a_install_through_b(self) -> None:
        """
        twine uploads to node A; A lists the file at once, B (which had
        listed the bucket before) within its TTL, with the file's sha256;
        pip installs it through B, the bytes coming from the bucket.
        """
        node_a = await self.node()
        node_b = await self.node()
        self.assertEqual(await self.listed(node_b), [])
        dist = self.scratch()
        dist.makedirs()
        dist.child(WHEEL.filename).setContent(WHEEL.content)
        upload_url = node_a.url.removesuffix("simple/") + "upload/team/"
        code, output = await self.run_process(
            [sys.executable, "-m", "twine", "upload", "--repository-url", upload_url,
             "-u", "alice", "-p", "s3cret", "--non-interactive",
             "--disable-progress-bar", dist.child(WHEEL.filename).path],
            self.env,
        )  # fmt: skip
        self.assertEqual(code, 0, output)
        self.assertEqual(await self.listed(node_a), [WHEEL.filename])
        for _ in range(100):
            if await self.listed(node_b):
                break
            await deferLater(reactor, 0.1)
        self.assertEqual(await self.listed(node_b), [WHEEL.filename])
        target = self.scratch()
        code, output = await self.run_process(
            pip_argv(node_b.url, target, "tp-private"), self.env
        )
        self.assertEqual(code, 0, output)
        self.assertIn("tp_private-1.0.dist-info", target.listdir())
        status, headers, _ = self.server.request(
            "HEAD", f"/{self.bucket}/team/{WHEEL.filename}"
        )
        self.assertEqual(
            (status, headers.get("x-amz-meta-sha256")), (200, WHEEL.sha256)
        )
