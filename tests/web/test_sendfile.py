"""
Tests for :mod:`twisted_pypi.web.sendfile`: cached files sent with
``sendfile(2)`` through :func:`~twisted_pypi.web.fileserve.serve_cached`, on a
real loopback socket with small kernel buffers, the reactor turned by hand
(see :mod:`tests.web.handsocket`).
"""

from __future__ import annotations

import errno
import os
import random
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IConsumer, ISSLTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, capturedLogs
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from zope.interface import directlyProvides, implementer

from tests.runnerguard import QueuedRunner
from tests.web.handsocket import HandConnection, SpySend
from tests.web.test_fileserve import Response, parse_multipart
from twisted_pypi.core.runner import Runner
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.interfaces import IFileReader
from twisted_pypi.storage.rangereader import LocalFileReader, open_path
from twisted_pypi.web import fileserve
from twisted_pypi.web.fileserve import serve_cached, serve_file
from twisted_pypi.web.sendfile import TURN_BYTES, SendFile, plain_socket

SEGMENTS = ("pypi", "https", "files.example", "packages", "big-1.0.tar.gz")
SIZE = 300_007
DATA = random.Random(12).randbytes(SIZE)
GET = b"GET /f HTTP/1.1\r\nHost: proxy\r\n"


def responses(raw: bytes) -> list[Response]:
    """
    The responses in what a client received on one connection, each body
    cut at its ``Content-Length`` (none for a 304 or a ``HEAD``).
    """
    found = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, raw[:200]
        response = Response(head + sep)
        length = int(response.headers.get(b"content-length", b"0"))
        if response.status.split()[1] == b"304":
            length = 0
        response.body, raw = rest[:length], rest[length:]
        found.append(response)
    return found


@implementer(IFileReader)
class StoreReader:
    """
    A reader of a file that is not local (as an object store's is): it
    provides :class:`IFileReader` only.
    """

    def __init__(self, path: str) -> None:
        """:param path: The file, read through a local reader."""
        self._reader = open_path(path)
        self.stat = self._reader.stat

    def stream(self, consumer: IConsumer, offset: int, length: int) -> Deferred[None]:
        """See :meth:`IFileReader.stream`."""
        return self._reader.stream(consumer, offset, length)

    def close(self) -> None:
        """See :meth:`IFileReader.close`."""
        self._reader.close()


class Served(Resource):
    """
    Serves one cached file as the resource layer does, with a given
    ``sendfile``.

    :ivar requests: The requests served.
    """

    isLeaf = True

    def __init__(
        self,
        cache: FileCache,
        send: SendFile | None,
        remote: bool,
        run: Runner | None = None,
    ) -> None:
        """
        :param cache: The cache holding the file.
        :param send: The ``sendfile`` to serve with.
        :param remote: Read the file as a store-backed file instead.
        :param run: Runs a ``sendfile`` of bytes not in memory.
        """
        super().__init__()
        self.cache = cache
        self.send = send
        self.remote = remote
        self.run = run
        #: A body of at most this many bytes is read and sent at once.
        self.small_body = 0
        self.requests: list[Request] = []

    def render_GET(self, request: Request) -> bytes | int:
        """Serve the file."""
        self.requests.append(request)
        request.setHeader(b"x-cache", b"HIT")
        if self.remote:
            path = self.cache.path_for(SEGMENTS).path
            serve_file(
                request, StoreReader(path), b"application/gzip", None, self.send, 0
            )
            return NOT_DONE_YET
        return serve_cached(
            request,
            self.cache,
            SEGMENTS,
            send_file=self.send,
            small_body=self.small_body,
            run=self.run,
        )

    render_HEAD = render_GET


class _Base(SynchronousTestCase):
    """
    A cache holding one file of :data:`SIZE` bytes.
    """

    def setUp(self) -> None:
        """The cache and its file."""
        self.clock = Clock()
        self.cache = FileCache(FilePath(self.mktemp()), None, self.clock)
        self.cache.scan()
        spool = self.cache.open_spool()
        spool.write(DATA)
        self.successResultOf(self.cache.commit(spool, SEGMENTS))
        self.path = self.cache.path_for(SEGMENTS).path

    def connect(
        self,
        fail: Callable[[int], int | None] = lambda n: None,
        send: SendFile | None = None,
        remote: bool = False,
        small: bool = True,
        run: Runner | None = None,
    ) -> tuple[HandConnection, SpySend]:
        """
        A connection to a site serving the file with a recording
        ``sendfile`` (or ``send``).
        """
        spy = SpySend(lambda: connection.transport, fail)
        self.resource = Served(self.cache, spy if send is None else send, remote, run)
        protocol = Site(self.resource, reactor=self.clock).buildProtocol(None)
        assert protocol is not None
        connection = HandConnection(protocol, small)
        self.addCleanup(connection.close)
        return connection, spy

    def get(
        self, headers: bytes = b"", **kwargs: object
    ) -> tuple[Response, HandConnection, SpySend]:
        """One request, run to the end."""
        connection, spy = self.connect(**kwargs)  # type: ignore[arg-type]
        connection.send(GET + headers + b"\r\n")
        connection.run()
        [response] = responses(bytes(connection.received))
        return response, connection, spy

    def assertSentByKernel(
        self, connection: HandConnection, spy: SpySend, size: int
    ) -> None:
        """
        ``size`` bytes were sent by ``sendfile``, never while the transport
        held bytes, none of them through the transport's buffer; the
        connection stays open and the file was closed and unpinned.
        """
        self.assertEqual(spy.sent, size)
        self.assertEqual(spy.early, 0)
        self.assertLess(connection.transport.buffered_in, 1000)
        self.assertIsNone(connection.transport.lost)
        self.assertFalse(connection.transport.disconnecting)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertFileClosed(spy)

    def assertFileClosed(self, spy: SpySend) -> None:
        """The descriptors ``sendfile`` read from are closed now."""
        self.assertTrue(spy.fds)
        for fd in spy.fds:
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue
            self.assertNotEqual(target, self.path)


class ZeroCopyTests(_Base):
    """
    GET and HEAD of a local file on plain TCP.
    """

    def test_whole_file(self) -> None:
        """
        A GET is answered 200 with the exact Content-Length and every byte,
        copied by ``sendfile`` after the headers left the transport, waiting
        for the socket whenever it was full; the access log's byte count is
        the file's size.
        """
        response, connection, spy = self.get()
        self.assertEqual(response.status, b"HTTP/1.1 200 OK")
        self.assertEqual(response.headers[b"content-length"], b"%d" % SIZE)
        self.assertEqual(response.body, DATA)
        self.assertSentByKernel(connection, spy, SIZE)
        self.assertGreater(spy.blocked, 0)
        self.assertEqual(self.resource.requests[0].sentLength, SIZE)

    def test_single_range(self) -> None:
        """A single range is answered 206 with exactly its bytes."""
        response, connection, spy = self.get(b"Range: bytes=1000-250000\r\n")
        self.assertEqual(response.status, b"HTTP/1.1 206 Partial Content")
        self.assertEqual(
            response.headers[b"content-range"], b"bytes 1000-250000/%d" % SIZE
        )
        self.assertEqual(response.body, DATA[1000:250001])
        self.assertSentByKernel(connection, spy, 249001)

    def test_multiple_ranges(self) -> None:
        """
        Several ranges are answered with a multipart body: each boundary
        written through the transport, each part's bytes by ``sendfile``
        once the boundary before them was sent, in the order asked.
        """
        response, connection, spy = self.get(b"Range: bytes=200000-,5-10,-100\r\n")
        self.assertEqual(response.status, b"HTTP/1.1 206 Partial Content")
        self.assertEqual(
            parse_multipart(response),
            [
                (b"bytes 200000-%d/%d" % (SIZE - 1, SIZE), DATA[200000:]),
                (b"bytes 5-10/%d" % SIZE, DATA[5:11]),
                (b"bytes %d-%d/%d" % (SIZE - 100, SIZE - 1, SIZE), DATA[-100:]),
            ],
        )
        self.assertEqual(spy.sent, SIZE - 200000 + 6 + 100)
        self.assertEqual(spy.early, 0)

    def test_head(self) -> None:
        """A HEAD sends the headers only: no ``sendfile``."""
        connection, spy = self.connect()
        connection.send(b"HEAD /f HTTP/1.1\r\nHost: proxy\r\n\r\n")
        connection.run()
        [response] = responses(bytes(connection.received))
        self.assertEqual(response.headers[b"content-length"], b"%d" % SIZE)
        self.assertEqual(response.body, b"")
        self.assertEqual(spy.calls, [])
        self.assertFalse(self.cache.is_pinned(SEGMENTS))

    def test_not_modified(self) -> None:
        """A 304 sends no body: no ``sendfile``."""
        etag = self.get()[0].headers[b"etag"]
        response, connection, spy = self.get(b"If-None-Match: " + etag + b"\r\n")
        self.assertEqual(response.status, b"HTTP/1.1 304 Not Modified")
        self.assertEqual(spy.calls, [])

    def test_keep_alive(self) -> None:
        """
        The connection serves a second request after a body sent by
        ``sendfile``, and a pipelined third: each response framed by its
        exact Content-Length.
        """
        connection, spy = self.connect()
        connection.send(GET + b"\r\n")
        connection.run()
        connection.send(GET + b"Range: bytes=10-19\r\n\r\n" + GET + b"\r\n")
        connection.run()
        first, second, third = responses(bytes(connection.received))
        self.assertEqual(first.body, DATA)
        self.assertEqual(second.body, DATA[10:20])
        self.assertEqual(third.body, DATA)
        self.assertEqual(spy.sent, 2 * SIZE + 10)
        self.assertEqual(spy.early, 0)
        self.assertIsNone(connection.transport.lost)

    def test_turn_limit(self) -> None:
        """
        A client that takes everything at once is sent at most
        :data:`TURN_BYTES` per turn of the reactor, so other connections
        get their turns.
        """
        spool = self.cache.open_spool()
        spool.write(b"x" * (TURN_BYTES + 5))
        self.successResultOf(self.cache.commit(spool, SEGMENTS))
        calls: list[tuple[int, int]] = []

        def take_all(out_fd: int, in_fd: int, offset: int, count: int) -> int:
            calls.append((offset, count))
            return count

        connection, _ = self.connect(send=take_all)
        connection.send(GET + b"\r\n")
        connection.run()
        self.assertEqual(calls, [(0, TURN_BYTES), (TURN_BYTES, 5)])
        self.assertTrue(self.resource.requests[0].finished)


class SlowClientTests(_Base):
    """
    Backpressure and clients that go away.
    """

    def test_slow_client(self) -> None:
        """
        A client that does not read stalls the body on the full socket: the
        transport holds nothing and the rest of the file stays on disk
        (pinned) until the client reads, then every byte arrives.
        """
        connection, spy = self.connect()
        connection.send(GET + b"\r\n")
        connection.run(read=False)
        self.assertGreater(spy.blocked, 0)
        self.assertLess(spy.sent, SIZE)
        transport = connection.transport
        self.assertEqual(len(transport.dataBuffer) - transport.offset, 0)
        self.assertEqual(transport._tempDataLen, 0)
        self.assertIn(transport, connection.reactor.getWriters())
        self.assertTrue(self.cache.is_pinned(SEGMENTS))
        for _ in range(3):
            connection.read()
            connection.run(read=False)
            self.assertLess(connection.transport.buffered_in, 1000)
        connection.run()
        [response] = responses(bytes(connection.received))
        self.assertEqual(response.body, DATA)
        self.assertSentByKernel(connection, spy, SIZE)

    def test_client_leaves(self) -> None:
        """
        A client that goes away mid-body stops the sending: the file is
        closed and unpinned, and nothing is logged above info.
        """
        connection, spy = self.connect()
        connection.send(GET + b"\r\n")
        with capturedLogs() as events:
            connection.run(read=False)
            connection.client.close()  # unread bytes: a reset
            connection.run(read=False)
        self.assertIsNotNone(connection.transport.lost)
        self.assertLess(spy.sent, SIZE)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertFileClosed(spy)
        self.assertEqual([e for e in events if e["log_level"] > LogLevel.info], [])


class FallbackTests(_Base):
    """
    Where ``sendfile`` cannot be used, the file is read through the reactor.
    """

    def assertRead(self, response: Response, connection: HandConnection) -> None:
        """The whole file arrived, through the transport's buffer."""
        self.assertEqual(response.body, DATA)
        self.assertGreater(connection.transport.buffered_in, SIZE)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertIsNone(connection.transport.lost)

    def test_refused_at_first(self) -> None:
        """
        ``sendfile`` failing at its first call with ``EINVAL`` or
        ``ENOSYS`` hands the whole body to the reading producer.
        """
        for code in (errno.EINVAL, errno.ENOSYS):
            response, connection, spy = self.get(fail=lambda n, c=code: c)
            self.assertRead(response, connection)
            self.assertEqual(len(spy.calls), 1)

    def test_refused_midway(self) -> None:
        """
        ``sendfile`` refused after some parts were sent: the rest of the
        multipart body is read from where it stopped, in order.
        """
        response, connection, spy = self.get(
            b"Range: bytes=0-99999,5-10,-100\r\n",
            fail=lambda n: errno.EINVAL if n == 3 else None,
        )
        self.assertEqual(
            [data for _, data in parse_multipart(response)],
            [DATA[:100000], DATA[5:11], DATA[-100:]],
        )
        self.assertEqual(len(spy.calls), 4)
        self.assertGreater(spy.sent, 0)
        self.assertEqual(spy.early, 0)

    def test_tls(self) -> None:
        """A connection with TLS is served by reading: no ``sendfile``."""
        connection, spy = self.connect()
        directlyProvides(connection.transport, ISSLTransport)
        connection.send(GET + b"\r\n")
        connection.run()
        [response] = responses(bytes(connection.received))
        self.assertRead(response, connection)
        self.assertEqual(spy.calls, [])

    def test_started_tls(self) -> None:
        """A TCP connection that started TLS is served by reading."""
        connection, spy = self.connect()
        connection.transport.TLS = True  # type: ignore[attr-defined]
        connection.send(GET + b"\r\n")
        connection.run()
        [response] = responses(bytes(connection.received))
        self.assertRead(response, connection)
        self.assertEqual(spy.calls, [])

    def test_store_backed_file(self) -> None:
        """A file whose reader is not local is served by reading."""
        response, connection, spy = self.get(remote=True)
        self.assertRead(response, connection)
        self.assertEqual(spy.calls, [])

    def test_no_sendfile(self) -> None:
        """Without a ``sendfile`` (not Linux) the file is read."""
        connection, _ = self.connect()
        self.resource.send = None
        connection.send(GET + b"\r\n")
        connection.run()
        [response] = responses(bytes(connection.received))
        self.assertRead(response, connection)


class FailureTests(_Base):
    """
    A body that cannot be completed aborts the connection.
    """

    def test_read_error(self) -> None:
        """
        ``sendfile`` failing with an I/O error aborts the connection (the
        promised length cannot be kept), logs it, and releases the file.
        """
        with capturedLogs() as events:
            _, connection, spy = self.get(fail=lambda n: errno.EIO if n == 2 else None)
        self.assertTrue(connection.transport.aborted)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertFileClosed(spy)
        [warning] = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertIn("error", warning)

    def test_file_shrank(self) -> None:
        """
        A file that turns out shorter than its size aborts the connection
        once its end is reached, and says so.
        """

        def shrink(n: int) -> None:
            if n == 0:
                os.truncate(self.path, 1000)

        with capturedLogs() as events:
            _, connection, spy = self.get(fail=shrink)
        self.assertTrue(connection.transport.aborted)
        self.assertEqual(spy.sent, 1000)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        [warning] = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertEqual(warning["missing"], SIZE - 1000)

    def test_client_gone_during_sendfile(self) -> None:
        """
        ``sendfile`` finding the client gone (``EPIPE``, ``ECONNRESET``)
        drops the connection and releases the file without a warning.
        """
        for code in (errno.EPIPE, errno.ECONNRESET):
            with capturedLogs() as events:
                _, connection, spy = self.get(
                    fail=lambda n, c=code: c if n == 2 else None
                )
            self.assertTrue(connection.transport.aborted)
            self.assertFalse(self.cache.is_pinned(SEGMENTS))
            self.assertFileClosed(spy)
            self.assertEqual([e for e in events if e["log_level"] > LogLevel.info], [])


class DiskWaitTests(_Base):
    """
    A range not in the page cache is sent by a pool thread, which waits for
    the disk instead of the reactor.
    """

    @staticmethod
    def open_fds(target: str) -> int:
        """How many of this process's descriptors are open on ``target``."""
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                count += os.readlink(f"/proc/self/fd/{fd}") == target
            except OSError:
                continue
        return count

    def setUp(self) -> None:
        """No range of the file is in memory, as far as the probe says."""
        super().setUp()
        self.patch(LocalFileReader, "in_memory", lambda self, offset, length: False)

    def test_sent_from_thread(self) -> None:
        """
        Nothing of the file is sent on the reactor's thread: each range
        waits for the pool, and once the pool has sent them all the client
        has the whole file and the file and the socket's duplicate are
        closed.
        """
        pool = QueuedRunner()
        connection, spy = self.connect(run=pool, small=False)
        connection.send(GET + b"\r\n")
        connection.run()
        self.assertEqual(spy.sent, 0)
        self.assertEqual(len(pool.queued), 1)
        while pool.queued:
            pool.run_one()
            connection.run()
        [response] = responses(bytes(connection.received))
        self.assertEqual(response.body, DATA)
        self.assertEqual(spy.sent, SIZE)
        self.assertEqual(spy.early, 0)
        self.assertFileClosed(spy)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))

    def test_small_body_not_in_memory(self) -> None:
        """
        A body small enough to be read and sent at once is not, when the
        page cache does not hold it: it too waits for the pool.
        """
        self.patch(fileserve, "read_cached", lambda fd, offset, length: None)
        pool = QueuedRunner()
        connection, spy = self.connect(run=pool, small=False)
        self.resource.small_body = SIZE
        connection.send(GET + b"\r\n")
        connection.run()
        self.assertEqual((spy.sent, len(pool.queued)), (0, 1))
        while pool.queued:
            pool.run_all()
            connection.run()
        [response] = responses(bytes(connection.received))
        self.assertEqual(response.body, DATA)

    def test_client_gone_while_away(self) -> None:
        """
        A client that leaves while a thread is sending keeps the file and
        the socket's duplicate open until the thread is done; then both are
        closed and nothing more is sent.
        """
        pool = QueuedRunner()
        connection, spy = self.connect(run=pool)
        connection.send(GET + b"\r\n")
        connection.run()
        self.assertEqual(len(pool.queued), 1)
        sock = os.readlink(f"/proc/self/fd/{connection.transport.socket.fileno()}")
        self.assertEqual(self.open_fds(sock), 2)
        connection.transport.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.open_fds(sock), 1)
        self.assertEqual(self.open_fds(self.path), 1)
        pool.run_one()
        self.assertEqual(self.open_fds(sock), 0)
        self.assertEqual(self.open_fds(self.path), 0)
        self.assertEqual(pool.queued, [])


class PlainSocketTests(_Base):
    """
    :func:`plain_socket`: which connections ``sendfile`` may write to.
    """

    def request(self, connection: HandConnection) -> Request:
        """A request on ``connection``'s HTTP/1.1 channel."""
        protocol: Any = connection.protocol
        return Request(protocol._channel)

    def test_plain_tcp(self) -> None:
        """A TCP ``FileDescriptor`` fed by its HTTP channel gives its socket."""
        connection, _ = self.connect()
        self.assertEqual(
            plain_socket(self.request(connection)),
            (connection.transport, connection.transport.socket.fileno()),
        )

    def test_other_producer(self) -> None:
        """
        A transport whose producer is not the request's channel is not
        used (its pauses would not reach the body).
        """
        connection, _ = self.connect()
        connection.transport.unregisterProducer()
        self.assertIsNone(plain_socket(self.request(connection)))

    def test_closed(self) -> None:
        """A connection that is gone is not used."""
        connection, _ = self.connect()
        connection.transport.connected = 0
        self.assertIsNone(plain_socket(self.request(connection)))

    def test_not_a_file_descriptor(self) -> None:
        """Any other transport (here a test's string transport) is not used."""
        protocol = Site(Resource(), reactor=self.clock).buildProtocol(None)
        assert protocol is not None
        protocol.makeConnection(StringTransport())
        self.assertIsNone(plain_socket(Request(protocol._channel)))
