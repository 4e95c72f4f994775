"""
Cached files sent with ``sendfile(2)`` over real loopback connections, with
the real reactor: a whole file, backpressure from a client that stops
reading, a client that goes away mid-body, keep-alive, and TLS (served by
reading instead).
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
from typing import Any

from twisted.internet import reactor, ssl
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import (
    SSL4ClientEndpoint,
    TCP4ClientEndpoint,
    connectProtocol,
)
from twisted.internet.error import ConnectionDone
from twisted.internet.protocol import Protocol
from twisted.internet.task import deferLater
from twisted.logger import ILogObserver, LogLevel, globalLogPublisher
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.web.server import Site
from zope.interface import provider

from tests.web.handsocket import SpySend
from tests.web.test_fileserve import Response
from tests.web.test_sendfile import SEGMENTS, Served
from twisted_pypi.storage.filecache import FileCache

#: Larger than the kernel buffers a client that stops reading leaves room
#: for (its receive buffer is set small; the sender's grows to 4 MiB).
SIZE = 8 * 1024 * 1024 + 13
DATA = random.Random(7).randbytes(SIZE)
GET = b"GET /f HTTP/1.1\r\nHost: proxy\r\n"
_DONE = Failure(ConnectionDone())
_reactor: Any = reactor


def complete(raw: bytes) -> list[Response]:
    """The complete responses at the start of ``raw`` (by Content-Length)."""
    found: list[Response] = []
    while True:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            return found
        response = Response(head + sep)
        length = int(response.headers.get(b"content-length", b"0"))
        if len(rest) < length:
            return found
        response.body, raw = rest[:length], rest[length:]
        found.append(response)


class Client(Protocol):
    """
    A raw HTTP/1.1 client with a small receive buffer.

    :ivar received: Everything received.
    :ivar lost: Fires when the connection is gone.
    """

    def __init__(self) -> None:
        """Nothing yet."""
        self.received = bytearray()
        self.lost: Deferred[None] = Deferred()
        self._waiting: list[tuple[int, Deferred[list[Response]]]] = []

    def connectionMade(self) -> None:
        """Keep the receive window small, so a pause stalls the server."""
        handle: Any = self.transport.getHandle()  # type: ignore[union-attr]
        if isinstance(handle, socket.socket):  # not under TLS
            handle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)

    def responses(self, count: int) -> Deferred[list[Response]]:
        """:return: Fires with the responses once ``count`` are complete."""
        d: Deferred[list[Response]] = Deferred()
        self._waiting.append((count, d))
        self.dataReceived(b"")
        return d

    def dataReceived(self, data: bytes) -> None:
        """Collect, and fire the waits that are met."""
        self.received += data
        if not self._waiting:
            return
        done = complete(bytes(self.received))
        for entry in list(self._waiting):
            if len(done) >= entry[0]:
                self._waiting.remove(entry)
                entry[1].callback(done)

    def connectionLost(self, reason: Failure = _DONE) -> None:
        """Note it."""
        self.lost.callback(None)


class BlockSpy(SpySend):
    """
    A recording ``sendfile`` that also tells when the socket first refused
    more.

    :ivar blocking: Fires at the first ``EAGAIN``.
    """

    def __init__(self) -> None:
        """Not blocked yet."""
        super().__init__()
        self.blocking: Deferred[None] = Deferred()

    def __call__(self, out_fd: int, in_fd: int, offset: int, count: int) -> int:
        """Send; note the first refusal."""
        try:
            return super().__call__(out_fd, in_fd, offset, count)
        except BlockingIOError:
            if not self.blocking.called:
                self.blocking.callback(None)
            raise


class LoopbackTests(TestCase):
    """
    A site serving a cached file of :data:`SIZE` bytes on 127.0.0.1.
    """

    def setUp(self) -> None:
        """The cache, its file and the listening site."""
        self.cache = FileCache(FilePath(self.mktemp()), None, reactor)
        self.cache.scan()
        spool = self.cache.open_spool()
        spool.write(DATA)
        self.successResultOf(self.cache.commit(spool, SEGMENTS))
        self.path = self.cache.path_for(SEGMENTS).path
        self.spy = BlockSpy()
        self.warnings: list[dict[str, Any]] = []

        @provider(ILogObserver)
        def observe(event: dict[str, Any]) -> None:
            if event["log_level"] >= LogLevel.warn:
                self.warnings.append(event)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)

    def listen(self, tls: bool = False) -> int:
        """Serve the file; :return: the port."""
        self.resource = Served(self.cache, self.spy, False)
        site = Site(self.resource)
        port: Any
        if tls:
            key = ssl.KeyPair.generate(size=2048)
            options = key.selfSignedCert(1, CN="127.0.0.1").options()
            port = _reactor.listenSSL(0, site, options, interface="127.0.0.1")
        else:
            port = _reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        number: int = port.getHost().port
        return number

    async def connect(self, tls: bool = False) -> Client:
        """A client connected to a fresh site."""
        port = self.listen(tls)
        endpoint: Any
        if tls:
            options = ssl.CertificateOptions()
            endpoint = SSL4ClientEndpoint(reactor, "127.0.0.1", port, options)
        else:
            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
        client: Client = await connectProtocol(endpoint, Client())
        self.addCleanup(lambda: client.lost)
        self.addCleanup(client.transport.loseConnection)  # type: ignore[union-attr]
        return client

    def assertFileClosed(self) -> None:
        """The descriptors ``sendfile`` read from are closed."""
        self.assertTrue(self.spy.fds)
        for fd in self.spy.fds:
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            self.assertNotEqual(target, self.path)

    def server_buffered(self) -> int:
        """Bytes held in the server transport's own buffer."""
        transport: Any = self.resource.requests[0].transport
        return int(
            len(transport.dataBuffer) - transport.offset + transport._tempDataLen
        )

    async def test_whole_file(self) -> None:
        """
        A GET over TCP gets every byte, sent by ``sendfile`` after the
        headers, never while the transport held bytes.
        """
        client = await self.connect()
        client.transport.write(GET + b"\r\n")  # type: ignore[union-attr]
        [response] = await client.responses(1)
        self.assertEqual(response.status, b"HTTP/1.1 200 OK")
        self.assertEqual(hashlib.sha256(response.body).digest(), _DIGEST)
        self.assertEqual(self.spy.sent, SIZE)
        self.assertEqual(self.spy.early, 0)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertEqual(self.warnings, [])

    async def test_slow_client(self) -> None:
        """
        A client that stops reading stalls the body: the server waits for
        the socket with nothing in its own buffer, sending nothing more
        however many turns the reactor takes, and once the client reads
        again the rest arrives intact.
        """
        client = await self.connect()
        client.transport.pauseProducing()  # type: ignore[union-attr]
        client.transport.write(GET + b"\r\n")  # type: ignore[union-attr]
        await self.spy.blocking
        await deferLater(reactor, 0)
        stalled = self.spy.sent
        self.assertLess(stalled, SIZE)
        for _ in range(5):
            await deferLater(reactor, 0)
            self.assertEqual(self.server_buffered(), 0)
        self.assertLess(self.spy.sent, SIZE)
        self.assertFalse(self.resource.requests[0].finished)
        self.assertTrue(self.cache.is_pinned(SEGMENTS))
        client.transport.resumeProducing()  # type: ignore[union-attr]
        [response] = await client.responses(1)
        self.assertEqual(hashlib.sha256(response.body).digest(), _DIGEST)
        self.assertEqual(self.spy.sent, SIZE)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))

    async def test_client_leaves(self) -> None:
        """
        A client that goes away mid-body: the server closes the file and
        unpins it, and logs nothing above info.
        """
        client = await self.connect()
        client.transport.pauseProducing()  # type: ignore[union-attr]
        client.transport.write(GET + b"\r\n")  # type: ignore[union-attr]
        await self.spy.blocking
        finished = self.resource.requests[0].notifyFinish()
        client.transport.abortConnection()  # type: ignore[union-attr]
        failure = await _failure_of(finished)
        self.assertIsNotNone(failure)
        self.assertLess(self.spy.sent, SIZE)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertFileClosed()
        self.assertEqual(self.warnings, [])

    async def test_keep_alive(self) -> None:
        """
        After a body sent by ``sendfile`` the same connection answers the
        next request.
        """
        client = await self.connect()
        client.transport.write(GET + b"\r\n")  # type: ignore[union-attr]
        await client.responses(1)
        client.transport.write(  # type: ignore[union-attr]
            GET + b"Range: bytes=100-199\r\n\r\n"
        )
        first, second = await client.responses(2)
        self.assertEqual(hashlib.sha256(first.body).digest(), _DIGEST)
        self.assertEqual(second.status, b"HTTP/1.1 206 Partial Content")
        self.assertEqual(second.body, DATA[100:200])
        self.assertFalse(client.lost.called)
        self.assertEqual(self.spy.sent, SIZE + 100)

    async def test_tls(self) -> None:
        """
        Over TLS the file is read and encrypted instead: every byte
        arrives, and ``sendfile`` is never called.
        """
        client = await self.connect(tls=True)
        client.transport.write(GET + b"\r\n")  # type: ignore[union-attr]
        [response] = await client.responses(1)
        self.assertEqual(hashlib.sha256(response.body).digest(), _DIGEST)
        self.assertEqual(self.spy.calls, [])
        self.assertFalse(self.cache.is_pinned(SEGMENTS))


_DIGEST = hashlib.sha256(DATA).digest()


async def _failure_of(d: Deferred[None]) -> Failure | None:
    """:return: How ``d`` failed, or ``None`` if it succeeded."""
    try:
        await d
    except Exception:
        return Failure()
    return None
