"""
Two nodes of a cluster on 127.0.0.1, with the real reactor: node A
downloads a file from a hand-fed upstream; node B, asked for the same file,
follows A's download through A's ``/-/inflight/`` (signed, real HTTP) into a
download of its own.  Leases are kept in an in-memory S3 both nodes share.
"""

from __future__ import annotations

import hashlib
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Protocol
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool, ResponseDone
from twisted.web.iweb import IResponse
from twisted.web.resource import Resource
from twisted.web.server import Site

from tests.fakes import HandFedResponse
from tests.files.test_download import FakeUpstream, FileResource
from tests.realinstall import port_of
from tests.storage.memorys3 import MemoryS3, memory_client
from twisted_pypi.files.cluster import ClusterFetch
from twisted_pypi.files.download import Download, Downloads, FileSpec
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.leases import S3Leases
from twisted_pypi.upstream.peer import peer_fetcher
from twisted_pypi.upstream.stream import StreamingResponse, streaming
from twisted_pypi.web.inflight import INFLIGHT_CHILD, InflightResource

SECRET = b"a-cluster-secret-for-tests"
SEGMENTS = ("pypi", "https", "files.example", "packages", "big-1.0.tar.gz")
URL = "https://files.example/packages/big-1.0.tar.gz"
DATA = bytes(range(256)) * 4096  # 1 MiB
SPEC = FileSpec(URL, SEGMENTS, len(DATA), {"sha256": hashlib.sha256(DATA).hexdigest()})


_LOST = Failure(ConnectionLost())


class Body(Protocol):
    """
    Collects a response body and how it ended.

    :ivar data: The bytes so far.
    :ivar done: Fires with ``None`` when the body ended.
    :ivar reason: Why it ended, then.
    """

    def __init__(self) -> None:
        """Nothing yet."""
        self.data = b""
        self.done: Deferred[None] = Deferred()
        self.reason: Failure | None = None

    def clean(self) -> bool:
        """Whether the body ended, whole, as the server said."""
        return self.reason is not None and bool(self.reason.check(ResponseDone))

    def dataReceived(self, data: bytes) -> None:
        """Keep the bytes."""
        self.data += data

    def connectionLost(self, reason: Failure = _LOST) -> None:
        """Report the end."""
        self.reason = reason
        self.done.callback(None)


class TrackingSite(Site):
    """A site that keeps its connections, so a test can cut them."""

    def __init__(self, resource: Resource) -> None:
        """:param resource: The root."""
        super().__init__(resource)
        self.connections: list[Any] = []

    def buildProtocol(self, addr: Any) -> Any:
        """Keep each connection."""
        protocol = super().buildProtocol(addr)
        self.connections.append(protocol)
        return protocol


class Node:
    """
    One node: its cache, downloads whose bodies come through a
    :class:`ClusterFetch`, and a site with the file and ``/-/inflight/``.
    """

    def __init__(self, test: TestCase, store: MemoryS3, pool: HTTPConnectionPool):
        """Listen on 127.0.0.1, port 0."""
        self.upstream = FakeUpstream()
        self.cache = FileCache(FilePath(test.mktemp()), None, reactor)
        self.cache.scan()
        self.downloads = Downloads(self.cache, self._fetch, reactor)
        dash = Resource()
        dash.putChild(INFLIGHT_CHILD, InflightResource(self.downloads, SECRET, reactor))
        root = Resource()
        root.putChild(b"-", dash)
        root.putChild(b"file", FileResource(self.cache, self.downloads, SPEC))
        self.site = TrackingSite(root)
        factory: Any = self.site
        self.port: IListeningPort = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.url = f"http://127.0.0.1:{port_of(self.port)}"
        leases = S3Leases(
            memory_client(store, reactor), "bucket", "", self.url, reactor
        )
        peer = peer_fetcher(Agent(reactor, pool=pool), reactor, SECRET, 10.0)
        self.cluster = ClusterFetch(leases, streaming(self.upstream.fetch), peer)

    def _fetch(self, url: str) -> Deferred[StreamingResponse]:
        """
        What the lead's wiring does: each download gets a source from the
        cluster, told when the download ended.
        """
        download = self.downloads.get(SEGMENTS)
        assert download is not None
        source = self.cluster.for_file(SEGMENTS)
        download.when_done().addBoth(lambda _: source.ended())
        return source.fetch(url)

    def download(self) -> Download:
        """The file's download in flight here."""
        download = self.downloads.get(SEGMENTS)
        assert download is not None
        return download


class LoopbackTests(TestCase):
    """
    Node B follows node A's download.
    """

    def setUp(self) -> None:
        """Two nodes, one store of leases, one client agent."""
        self.store = MemoryS3()
        self.pool = HTTPConnectionPool(reactor)
        self.addCleanup(self.pool.closeCachedConnections)
        self.a = Node(self, self.store, self.pool)
        self.b = Node(self, self.store, self.pool)
        for node in (self.a, self.b):
            self.addCleanup(node.port.stopListening)
        self.agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))

    def get(self, node: Node) -> Deferred[tuple[IResponse, Body]]:
        """
        A client's GET of the file on ``node``.

        :return: A Deferred firing with the response and its body, once the
            response's headers came.
        """

        def read(response: IResponse) -> tuple[IResponse, Body]:
            body = Body()
            response.deliverBody(body)
            return response, body

        d = self.agent.request(b"GET", (node.url + "/file").encode())
        return d.addCallback(read)

    async def until(self, check: Any) -> None:
        """Let the reactor run until ``check()`` is true."""
        while not check():
            d: Deferred[None] = Deferred()
            reactor.callLater(0.01, d.callback, None)
            await d

    async def test_follow(self) -> None:
        """
        A client of B asking for a file A is downloading gets the right
        bytes, streamed from A: one upstream fetch for both nodes, both
        clients whole, both caches filled, the lease released after.
        """
        getting_a = self.get(self.a)
        await self.until(lambda: self.a.upstream.pending)
        upstream = self.a.upstream.respond(HandFedResponse(length=len(DATA)))
        _, body_a = await getting_a
        upstream.send(DATA[:100_000])
        response_b, body_b = await self.get(self.b)
        self.assertEqual(response_b.code, 200)
        self.assertEqual(self.b.cluster.followed(), {"/".join(SEGMENTS): self.a.url})
        await self.until(lambda: len(body_b.data) >= 100_000)
        upstream.send(DATA[100_000:])
        upstream.end()
        await body_a.done
        await body_b.done
        self.assertTrue(body_a.clean() and body_b.clean())
        self.assertEqual((body_a.data, body_b.data), (DATA, DATA))
        self.assertEqual(self.a.upstream.urls, [URL])
        self.assertEqual(self.b.upstream.urls, [])
        for node in (self.a, self.b):
            path = node.cache.lookup(SEGMENTS)
            assert path is not None
            self.assertEqual(path.getContent(), DATA)
        await self.until(lambda: not self.store.objects)

    async def test_owner_killed(self) -> None:
        """
        When A's side is cut mid-stream (A dies), B's client is aborted,
        never given a clean short body, and B caches nothing.
        """
        getting_a = self.get(self.a)
        await self.until(lambda: self.a.upstream.pending)
        upstream = self.a.upstream.respond(HandFedResponse(length=len(DATA)))
        _, body_a = await getting_a
        upstream.send(DATA[:100_000])
        response_b, body_b = await self.get(self.b)
        self.assertEqual(response_b.code, 200)
        await self.until(lambda: len(body_b.data) >= 100_000)
        b_download = self.b.download()
        with capturedLogs():
            for connection in self.a.site.connections:
                connection._channel.transport.abortConnection()
            await body_b.done
            await b_download.when_done().addErrback(lambda _: None)
        self.assertFalse(body_b.clean())
        self.assertLess(len(body_b.data), len(DATA))
        self.assertIsNone(self.b.cache.lookup(SEGMENTS))
        upstream.end(Failure(ConnectionLost()))
        await body_a.done
        await self.until(lambda: not self.store.objects)

    async def test_owner_download_fails(self) -> None:
        """
        When A's download fails (its upstream sends a corrupt body), A
        aborts B's stream and B aborts its client: nothing cached anywhere.
        """
        getting_a = self.get(self.a)
        await self.until(lambda: self.a.upstream.pending)
        upstream = self.a.upstream.respond(HandFedResponse(length=len(DATA)))
        _, body_a = await getting_a
        upstream.send(DATA[:1000])
        _, body_b = await self.get(self.b)
        await self.until(lambda: len(body_b.data) >= 1000)
        with capturedLogs():
            upstream.send(b"x" * (len(DATA) - 1000))
            upstream.end()
            await body_a.done
            await body_b.done
        self.assertFalse(body_a.clean() or body_b.clean())
        self.assertIsNone(self.a.cache.lookup(SEGMENTS))
        self.assertIsNone(self.b.cache.lookup(SEGMENTS))
        await self.until(lambda: not self.store.objects)
