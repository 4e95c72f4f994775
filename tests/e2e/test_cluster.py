"""
End-to-end: two real proxy processes (``twistd -n pypiproxy``) on one
``--store`` bucket of a real SeaweedFS, each with ``--node-url`` and
``--cluster-secret``, in front of a fake upstream on 127.0.0.1 whose file
body the test releases by hand.

Each node's ``--node-url`` is a port forwarder in the test process (listening
on a port the system picks, forwarding to the node once it listens): the
nodes reach each other through it, and it needs no port chosen in advance.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urljoin

from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater
from twisted.protocols.portforward import ProxyFactory
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse
from twisted.web.server import Request

from tests.e2e.proxyprocess import ProxyProcess, start_twistd_proxy
from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import Upstream, port_of
from tests.seaweed import SeaweedServer, shared_server
from tests.wheels import BuiltWheel

#: A file of a few megabytes (the bytes need not be a real wheel: the
#: proxy checks their length and hash against the page).
CONTENT = os.urandom(3 << 20)
WHEEL = BuiltWheel("bigpkg-1.0-py3-none-any.whl", CONTENT, b"Name: bigpkg\n")
FILE_PATH = f"/packages/{WHEEL.filename}"


#: The bytes the upstream sends before holding back the rest.
FIRST = 256 * 1024

#: The JSON page format.
_JSON = "application/vnd.pypi.simple.v1+json"

#: The cluster's secret.
SECRET = "an-e2e-cluster-secret-0123456789"

#: Seconds a test waits for something that should happen at once.
_PATIENCE = 20.0


class Client(Protocol):
    """
    One client's GET of the file: its bytes, when the first arrived, how
    the body ended.

    :ivar data: The bytes so far.
    :ivar started: When the request was sent (``time.monotonic``).
    :ivar first_byte: When the first body byte arrived, if it did.
    :ivar reason: Why the body ended, once it did.
    :ivar done: Fires when the body ended (or the request failed).
    """

    def __init__(self) -> None:
        """Not sent yet."""
        self.data = bytearray()
        self.started = time.monotonic()
        self.first_byte: float | None = None
        self.reason: Failure | None = None
        self.code: int | None = None
        self.done: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        """Keep the bytes; note the first."""
        if self.first_byte is None:
            self.first_byte = time.monotonic()
        self.data += data

    def connectionLost(self, reason: Failure = Failure(ResponseDone())) -> None:  # noqa: B008
        """The body ended, cleanly or not."""
        self.reason = reason
        self.done.callback(None)

    @property
    def clean(self) -> bool:
        """Whether the body ended whole, as the server said."""
        return self.reason is not None and bool(self.reason.check(ResponseDone))

    def got(self, response: IResponse) -> None:
        """The response's headers came: read its body."""
        self.code = response.code
        response.deliverBody(self)

    def failed(self, reason: Failure) -> None:
        """No response at all."""
        self.reason = reason
        self.done.callback(None)


class ClusterTests(TestCase):
    """
    One upstream fetch for the cluster, streamed to every client of every
    node; a node that dies mid-download fails the other node's clients
    cleanly and leaves nothing behind.
    """

    timeout = 120

    def setUp(self) -> None:
        """The shared SeaweedFS, a new bucket, a fake upstream holding files."""
        self.server: SeaweedServer = shared_server()
        self.bucket = self.server.new_bucket("cluster")
        index = FakeIndex(mode="json", hold_files=True)
        index.add("bigpkg", FakeFile(WHEEL))
        self.index = index
        self.upstream = Upstream(index)
        self.addCleanup(lambda: Deferred.fromCoroutine(self.upstream.stop()))
        self.pool = HTTPConnectionPool(reactor, persistent=False)
        self.agent = Agent(reactor, pool=self.pool)

    def scratch(self) -> FilePath[str]:
        """A new directory, deleted after the test."""
        path = FilePath(self.mktemp())
        path.makedirs()
        self.addCleanup(shutil.rmtree, path.path, ignore_errors=True)
        return path

    async def node(self) -> ProxyProcess:
        """
        A proxy on the bucket with an empty cache directory, its
        ``--node-url`` a forwarder to it.
        """
        keys = self.server.keys
        assert keys is not None
        forwarder = ProxyFactory("127.0.0.1", 0)
        factory: Any = forwarder
        port: IListeningPort = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        home = self.scratch()
        options = [
            "--index", f"up={self.upstream.url}",
            "--cache-dir", home.child("cache").path,
            "--store", f"s3://{self.bucket}/fleet",
            "--s3-endpoint", self.server.endpoint,
            "--node-url", f"http://127.0.0.1:{port_of(port)}",
            "--cluster-secret", SECRET,
        ]  # fmt: skip
        env = {
            "AWS_ACCESS_KEY_ID": keys.access_key,
            "AWS_SECRET_ACCESS_KEY": keys.secret_key,
        }
        process = await start_twistd_proxy(self, home, options, env)
        forwarder.port = await process.listening
        return process

    def get(self, node: ProxyProcess) -> Client:
        """
        A client's GET of the file through ``node``, sent now (after
        :meth:`page` on any node).
        """
        client = Client()
        url = urljoin(node.url + "bigpkg/", self.file_url)
        d = self.agent.request(b"GET", url.encode("ascii"))
        d.addCallbacks(client.got, client.failed)
        return client

    async def until(self, check: Callable[[], Any], what: str) -> None:
        """Let the reactor run until ``check()`` is true (or fail, saying what)."""
        deadline = time.monotonic() + _PATIENCE
        while not check():
            if time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}")
            await deferLater(reactor, 0.02)

    async def page(self, node: ProxyProcess) -> None:
        """
        Fetch the project's page through ``node``; keep the file's link
        (relative: the same on every node).
        """
        client = Client()
        headers = Headers({b"accept": [_JSON.encode()]})
        url = (node.url + "bigpkg/").encode("ascii")
        d = self.agent.request(b"GET", url, headers)
        d.addCallbacks(client.got, client.failed)
        await client.done
        self.assertEqual(client.code, 200)
        self.file_url = json.loads(bytes(client.data))["files"][0]["url"]

    def held(self) -> list[Request]:
        """The upstream's file requests held, still open."""
        return [r for r in self.index.held if not r.finished and r.channel]

    def upstream_gets(self) -> int:
        """The upstream's GETs of the file."""
        return self.index.count(FILE_PATH)

    def published(self) -> bool:
        """Whether the file's object is in the bucket."""
        status, _, listing = self.server.request(
            "GET", f"/{quote(self.bucket)}?list-type=2&prefix=fleet%2Ffiles%2F"
        )
        self.assertEqual(status, 200)
        return WHEEL.filename.encode() in listing

    async def test_one_fetch_for_the_cluster(self) -> None:
        """
        Four clients split across two nodes ask for a cold file at once:
        the upstream is asked once, every client gets its first bytes while
        the upstream still holds back the rest of the file, and every client
        gets the whole file; the following node streamed it from the owning
        node and did not upload it again.
        """
        node_a, node_b = await self.node(), await self.node()
        await gatherResults(
            [Deferred.fromCoroutine(self.page(n)) for n in (node_a, node_b)]
        )
        clients = [self.get(node) for node in (node_a, node_b, node_a, node_b)]
        await self.until(self.held, "the upstream request")
        [request] = self.held()
        request.write(CONTENT[:FIRST])
        await self.until(
            lambda: all(c.first_byte is not None for c in clients),
            "every client's first byte",
        )
        # Every client has bytes; the upstream has sent FIRST bytes only.
        self.assertTrue(all(0 < len(c.data) <= FIRST for c in clients))
        for offset in range(FIRST, len(CONTENT), 512 * 1024):
            request.write(CONTENT[offset : offset + 512 * 1024])
            await deferLater(reactor, 0.01)
        request.finish()
        await gatherResults([c.done for c in clients])
        digest = hashlib.sha256(CONTENT).hexdigest()
        for client in clients:
            self.assertTrue(client.clean, client.reason)
            self.assertEqual(hashlib.sha256(client.data).hexdigest(), digest)
        self.assertEqual(self.upstream_gets(), 1)
        await self.until(self.published, "the file's object")  # after the clients
        nodes = {"A": node_a, "B": node_b}
        following = [n for n, node in nodes.items() if b"Streaming " in node.log]
        self.assertEqual(len(following), 1, nodes)
        follower = nodes[following[0]]
        # Its body ended before the owner's publish: it waited for that.
        await self.until(lambda: b"was in the store already" in follower.log, "it")
        for node in nodes.values():
            self.assertIn(b"Cluster node http://127.0.0.1:", node.log)
            self.assertNotIn(SECRET.encode(), node.log)
        self.assertNotIn(b"during the upload", follower.log)

    async def test_owner_killed(self) -> None:
        """
        The node that owns a download is killed mid-body: the clients of
        the node following it are aborted (never a clean short response),
        nothing is published, and the next request, on the surviving node,
        is served whole after exactly one new upstream fetch.
        """
        node_a, node_b = await self.node(), await self.node()
        await self.page(node_a)
        owner_client = self.get(node_a)
        await self.until(self.held, "the upstream request")
        [request] = self.held()
        request.write(CONTENT[:FIRST])
        await self.until(lambda: owner_client.first_byte, "node A's first byte")
        clients = [self.get(node_b), self.get(node_b)]
        await self.until(
            lambda: all(len(c.data) >= FIRST for c in clients),
            "node B's clients' first bytes",
        )
        assert node_a.transport is not None
        node_a.transport.signalProcess("KILL")
        await node_a.ended
        await gatherResults([c.done for c in clients])
        for client in clients:
            self.assertFalse(client.clean, "a clean short response")
            self.assertLess(len(client.data), len(CONTENT))
        self.assertFalse(self.published())
        self.assertEqual(self.upstream_gets(), 1)
        self.index.hold_files = False
        again = self.get(node_b)
        await again.done
        self.assertTrue(again.clean, again.reason)
        self.assertEqual(bytes(again.data), CONTENT)
        self.assertEqual(self.upstream_gets(), 2)
        await self.until(self.published, "the file's object")  # after the client
        self.assertTrue(re.search(rb"does not serve it", node_b.log), node_b.log)
