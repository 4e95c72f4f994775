"""
Tests for :mod:`twisted_pypi.files.download`: one upstream download streamed to
every client and to disk.

Clients are real :class:`twisted.web.server.Site` connections over
:class:`StringTransport`; the upstream is a fake ``IResponse`` whose body the
tests feed by hand.
"""

from __future__ import annotations

import hashlib
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.iweb import IResponse
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from tests.fakeorigin import FakeOrigin
from tests.fakes import HandFedResponse
from twisted_pypi.files.download import Downloads
from twisted_pypi.files.spec import (
    DownloadError,
    FileSpec,
    State,
    UpstreamError,
    UpstreamTimeout,
    VerificationError,
)
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.upstream.stream import StreamingResponse, streaming
from twisted_pypi.web.fileserve import serve_cached
from twisted_pypi.web.following import serve_download

URL = "https://files.example/packages/demo-1.0.tar.gz"
SEGMENTS = ("pypi", "https", "files.example", "packages", "demo-1.0.tar.gz")
DATA = bytes(range(256)) * 4
SHA256 = hashlib.sha256(DATA).hexdigest()
IDLE = 30.0


class FakeUpstream:
    """
    A ``fetch`` function that records URLs and hands out Deferreds.
    """

    def __init__(self) -> None:
        """Start with no requests."""
        self.urls: list[str] = []
        self.pending: list[Deferred[IResponse]] = []
        self.cancelled: list[str] = []

    def fetch(self, url: str) -> Deferred[IResponse]:
        """Record the request; the test fires the Deferred."""
        self.urls.append(url)
        d: Deferred[IResponse] = Deferred(lambda _: self.cancelled.append(url))
        self.pending.append(d)
        return d

    def respond(self, response: HandFedResponse) -> HandFedResponse:
        """Answer the latest request with ``response``."""
        self.pending[-1].callback(response)
        return response


class FileResource(Resource):
    """
    What the resource layer does for one file: serve it from the cache, or
    follow its download, answering 502/504 when it fails before headers.
    """

    isLeaf = True

    def __init__(self, cache: FileCache, downloads: Downloads, spec: FileSpec) -> None:
        """
        :param cache: The file cache.
        :param downloads: The downloads in flight.
        :param spec: The one file this resource serves.
        """
        super().__init__()
        self.cache = cache
        self.downloads = downloads
        self.spec = spec

    def render_GET(self, request: Request) -> bytes | int:
        """Serve from the cache, or from the download."""
        if self.cache.lookup(self.spec.segments) is not None:
            request.setHeader(b"x-cache", b"HIT")
            return serve_cached(request, self.cache, self.spec.segments)
        request.setHeader(b"x-cache", b"MISS")
        d = serve_download(request, self.downloads.start_or_join(self.spec))
        d.addErrback(self._failed, request)
        return NOT_DONE_YET

    def _failed(self, failure: Failure, request: Request) -> None:
        """Answer 504 for a timeout, else 502 (no header was sent)."""
        failure.trap(DownloadError, UpstreamError)
        request.setResponseCode(504 if failure.check(UpstreamTimeout) else 502)
        request.setHeader(b"content-length", b"15")
        request.write(b"upstream failed")
        request.finish()


class PausingTransport(StringTransport):
    """
    A client connection whose buffer is full after every body write: it
    pauses its producer each time, as a slow client's socket would.
    """

    def write(self, data: bytes) -> None:
        """Take the bytes, then ask the producer to pause."""
        super().write(data)
        if self.producer is not None:
            self.producer.pauseProducing()


class Client:
    """
    One client connection to the proxy's site.
    """

    def __init__(self, site: Site, transport: StringTransport | None = None) -> None:
        """
        :param site: The proxy's site.
        :param transport: The connection, a plain StringTransport by default.
        """
        self.transport = transport or StringTransport()
        self.protocol = site.buildProtocol(None)
        assert self.protocol is not None
        self.protocol.makeConnection(self.transport)

    def get(self, extra: bytes = b"", method: bytes = b"GET") -> Client:
        """Send a request."""
        self.protocol.dataReceived(
            method + b" /file HTTP/1.1\r\nHost: proxy\r\n" + extra + b"\r\n"
        )
        return self

    def request(self) -> Request:
        """A GET request on this connection, to hand to a download directly."""
        request = Request(self.protocol._channel)
        request.method = b"GET"
        request.clientproto = b"HTTP/1.1"
        return request

    def head(self) -> bytes:
        """The response's status line and headers."""
        raw: bytes = self.transport.value()
        return raw.partition(b"\r\n\r\n")[0]

    def headers(self) -> dict[bytes, bytes]:
        """The response's headers, names lower-cased."""
        lines = self.head().split(b"\r\n")[1:]
        return {k.lower(): v for k, _, v in (line.partition(b": ") for line in lines)}

    def body(self) -> bytes:
        """The response's body so far (identity-encoded responses)."""
        raw: bytes = self.transport.value()
        return raw.partition(b"\r\n\r\n")[2]

    @property
    def finished(self) -> bool:
        """Whether the response was finished (none in progress)."""
        return not self.protocol._channel.requests

    def pause(self) -> None:
        """The client stops reading: the connection pauses its producer."""
        assert self.transport.producer is not None
        self.transport.producer.pauseProducing()

    def resume(self) -> None:
        """The client reads again."""
        assert self.transport.producer is not None
        self.transport.producer.resumeProducing()

    def lose(self) -> None:
        """The connection closes."""
        self.protocol.connectionLost(Failure(ConnectionDone()))


class _Base(SynchronousTestCase):
    """
    A cache, an upstream, a registry of downloads and a site.
    """

    chunk_size = 65536

    def setUp(self) -> None:
        """A scanned empty cache; the default file has a size and a sha256."""
        self.clock = Clock()
        self.cache = FileCache(FilePath(self.mktemp()), None, self.clock)
        self.cache.scan()
        self.upstream = FakeUpstream()
        self.downloads = Downloads(
            self.cache,
            streaming(self.upstream.fetch),
            self.clock,
            IDLE,
            self.chunk_size,
        )
        self.use(FileSpec(URL, SEGMENTS, len(DATA), {"sha256": SHA256}))

    def use(self, spec: FileSpec) -> None:
        """Serve ``spec`` from now on."""
        self.spec = spec
        resource = FileResource(self.cache, self.downloads, spec)
        self.site = Site(resource, reactor=self.clock)

    def client(self, transport: StringTransport | None = None) -> Client:
        """A new client that has sent a GET."""
        return Client(self.site, transport).get()

    def assertAborted(self, client: Client) -> None:
        """The client's connection was aborted (not closed cleanly)."""
        self.assertTrue(client.transport.disconnected)

    def assertNothingCached(self) -> None:
        """No file, no partial file, no download in flight, no pins left."""
        self.assertIsNone(self.cache.lookup(SEGMENTS))
        self.assertEqual(self.cache.tmp_dir.children(), [])
        self.assertIsNone(self.downloads.get(SEGMENTS))
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertEqual(self.cache.reserved, 0)


class SingleFlightTests(_Base):
    """
    Many clients, one upstream download.
    """

    def test_many_clients_one_fetch(self) -> None:
        """
        However many clients ask for an uncached file at once, exactly one
        upstream request is made, and every client gets identical, whole
        bytes; then the file is in the cache.
        """
        clients = [self.client() for _ in range(5)]
        self.assertEqual(self.upstream.urls, [URL])
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        response.send(DATA[:100])
        response.send(DATA[100:])
        response.end()
        for client in clients:
            self.assertTrue(client.head().startswith(b"HTTP/1.1 200 OK"))
            self.assertEqual(client.body(), DATA)
            self.assertFalse(client.transport.disconnecting)
        path = self.cache.lookup(SEGMENTS)
        assert path is not None
        self.assertEqual(path.getContent(), DATA)
        self.assertEqual(self.cache.tmp_dir.children(), [])
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertEqual(self.cache.reserved, 0)

    def test_bytes_stream_as_they_arrive(self) -> None:
        """
        Each upstream chunk reaches every client at once, before the
        download ends, and is on disk too.
        """
        clients = [self.client(), self.client()]
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA[:10])
        for client in clients:
            self.assertEqual(client.body(), DATA[:10])
        download = self.downloads.get(SEGMENTS)
        assert download is not None
        self.assertEqual(download.written, 10)
        [temp] = self.cache.tmp_dir.children()
        self.assertEqual(temp.getContent(), DATA[:10])

    def test_registry_cleared_in_same_turn(self) -> None:
        """
        The download leaves the registry the moment the file is committed, so
        the next request is served from the cache without a new fetch.
        """
        self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        self.assertIsNotNone(self.downloads.get(SEGMENTS))
        response.end()
        self.assertIsNone(self.downloads.get(SEGMENTS))
        late = self.client()
        self.assertEqual(late.headers()[b"x-cache"], b"HIT")
        self.assertEqual(late.body(), DATA)
        self.assertEqual(len(self.upstream.urls), 1)

    def test_in_flight_status(self) -> None:
        """In-flight downloads report their URL, bytes written and length."""
        self.client()
        self.upstream.respond(HandFedResponse()).send(DATA[:7])
        [status] = self.downloads.in_flight()
        self.assertEqual(
            (status.url, status.written, status.expected_length, status.followers),
            (URL, 7, len(DATA), 1),
        )

    def test_reservation_while_in_flight(self) -> None:
        """The expected size is reserved in the cache until the download ends."""
        self.client()
        self.assertEqual(self.cache.reserved, len(DATA))
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        response.end()
        self.assertEqual(self.cache.reserved, 0)
        self.assertEqual(self.cache.total_size, len(DATA))


class HeaderTests(_Base):
    """
    The headers a following client gets.
    """

    def test_content_length_up_front(self) -> None:
        """
        The index's size is sent as Content-Length with the headers, as soon
        as the upstream's headers arrive and before any body byte.
        """
        client = self.client()
        self.assertEqual(client.transport.value(), b"")
        self.upstream.respond(HandFedResponse())
        headers = client.headers()
        self.assertEqual(headers[b"content-length"], str(len(DATA)).encode())
        self.assertEqual(client.body(), b"")

    def test_content_length_from_upstream(self) -> None:
        """Without an index size the upstream's Content-Length is sent."""
        self.use(FileSpec(URL, SEGMENTS, None, {}))
        client = self.client()
        self.upstream.respond(HandFedResponse(length=1234))
        self.assertEqual(client.headers()[b"content-length"], b"1234")

    def test_chunked_when_length_unknown(self) -> None:
        """With no length known at all the response is chunked."""
        self.use(FileSpec(URL, SEGMENTS, None, {}))
        client = self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(b"hello")
        response.end()
        self.assertEqual(client.headers()[b"transfer-encoding"], b"chunked")
        self.assertEqual(client.body(), b"5\r\nhello\r\n0\r\n\r\n")
        self.assertIsNotNone(self.cache.lookup(SEGMENTS))

    def test_exact_headers(self) -> None:
        """
        A following client gets 200, Content-Type, immutable Cache-Control,
        and neither Content-Encoding nor Accept-Ranges, even if it asked for
        a range.
        """
        client = Client(self.site).get(b"Range: bytes=0-9\r\nAccept-Encoding: gzip\r\n")
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        response.end()
        self.assertTrue(client.head().startswith(b"HTTP/1.1 200 OK\r\n"))
        headers = client.headers()
        self.assertEqual(headers[b"content-type"], b"application/gzip")
        self.assertEqual(headers[b"cache-control"], b"max-age=365000000, immutable")
        self.assertEqual(headers[b"x-cache"], b"MISS")
        self.assertNotIn(b"content-encoding", headers)
        self.assertNotIn(b"accept-ranges", headers)
        self.assertEqual(client.body(), DATA)

    def test_last_byte_waits_for_verification(self) -> None:
        """
        With the length announced, the last byte is held back until the hash
        is checked: a client never holds a whole-looking body that fails
        verification.
        """
        client = Client(self.site).get()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        self.assertEqual(client.body(), DATA[:-1])
        response.end()
        self.assertEqual(client.body(), DATA)

    def test_bad_hash_never_whole(self) -> None:
        """
        When the hash does not match, the client got all but the last byte
        and then an aborted connection.
        """
        self.use(
            FileSpec(
                self.spec.url, self.spec.segments, self.spec.size, {"sha256": "0" * 64}
            )
        )
        client = Client(self.site).get()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        response.end()
        self.assertEqual(client.body(), DATA[:-1])
        self.assertAborted(client)

    def test_head_refused(self) -> None:
        """A download does not serve HEAD requests."""
        self.downloads.start_or_join(self.spec)
        download = self.downloads.get(SEGMENTS)
        assert download is not None
        request = Client(self.site).request()
        request.method = b"HEAD"
        self.assertRaises(ValueError, serve_download, request, download)


class BackpressureTests(_Base):
    """
    Slow and paused clients.
    """

    chunk_size = 100

    def test_paused_client(self) -> None:
        """
        A paused client gets nothing more (and is not finished) until it
        resumes, while the download goes on; then it gets the rest.
        """
        client = self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA[:300])
        client.pause()
        response.send(DATA[300:])
        self.assertEqual(client.body(), DATA[:300])
        response.end()
        self.assertEqual(client.body(), DATA[:300])
        self.assertIsNotNone(self.cache.lookup(SEGMENTS))
        client.resume()
        self.assertEqual(client.body(), DATA)

    def test_slow_client_does_not_slow_others(self) -> None:
        """
        A paused client stops neither another client nor the file write: the
        other client finishes and the file is committed.
        """
        slow, fast = self.client(), self.client()
        response = self.upstream.respond(HandFedResponse())
        slow.pause()
        response.send(DATA[:500])
        response.send(DATA[500:])
        response.end()
        self.assertEqual(fast.body(), DATA)
        self.assertEqual(slow.body(), b"")
        path = self.cache.lookup(SEGMENTS)
        assert path is not None
        self.assertEqual(path.getContent(), DATA)
        self.assertTrue(self.cache.is_pinned(SEGMENTS))
        slow.resume()
        self.assertEqual(slow.body(), DATA)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))

    def test_reads_at_most_one_chunk_per_resume(self) -> None:
        """
        With a saturated client, the follower writes one chunk per resume and
        nothing while paused: memory stays flat however far the file is
        ahead of the client.
        """
        self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        slow = self.client(PausingTransport())
        self.assertEqual(slow.body(), DATA[:100])
        response.send(b"")
        self.assertEqual(slow.body(), DATA[:100])
        slow.resume()
        self.assertEqual(slow.body(), DATA[:200])

    def test_late_joiner_gets_whole_file(self) -> None:
        """
        A client arriving mid-download gets the whole file: what is on disk,
        then the rest as it comes.
        """
        self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA[:300])
        late = self.client()
        self.assertEqual(late.headers()[b"content-length"], str(len(DATA)).encode())
        self.assertEqual(late.body(), DATA[:300])
        response.send(DATA[300:])
        response.end()
        self.assertEqual(late.body(), DATA)
        self.assertEqual(len(self.upstream.urls), 1)

    def test_disconnecting_client(self) -> None:
        """
        A client that disconnects mid-download does not stop the download;
        the other client finishes and the file is committed.
        """
        leaving, staying = self.client(), self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA[:10])
        leaving.lose()
        response.send(DATA[10:])
        response.end()
        self.assertEqual(leaving.body(), DATA[:10])
        self.assertEqual(staying.body(), DATA)
        self.assertIsNotNone(self.cache.lookup(SEGMENTS))
        self.assertEqual(response.transport.producerState, "producing")
        self.assertFalse(self.cache.is_pinned(SEGMENTS))

    def test_all_clients_leave(self) -> None:
        """When every client leaves, the download still fills the cache."""
        client = self.client()
        client.lose()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        response.end()
        self.assertIsNotNone(self.cache.lookup(SEGMENTS))
        self.assertEqual(client.transport.value(), b"")


class ObserverTests(_Base):
    """
    :meth:`Download.when_started`, :meth:`Download.when_done` and
    :func:`serve_download`'s Deferred (:meth:`Download.follow`'s).
    """

    def test_each_waiter_own_deferred(self) -> None:
        """
        Every waiter gets its own Deferred; cancelling one affects neither
        the others nor the download.
        """
        download = self.downloads.start_or_join(self.spec)
        first, second = download.when_started(), download.when_started()
        self.assertIsNot(first, second)
        first.cancel()
        self.failureResultOf(first, CancelledError)
        done = download.when_done()
        response = self.upstream.respond(HandFedResponse())
        self.assertEqual(self.successResultOf(second), len(DATA))
        self.assertEqual(self.successResultOf(download.when_started()), len(DATA))
        response.send(DATA)
        response.end()
        self.assertEqual(self.successResultOf(done), self.cache.stat(SEGMENTS))

    def test_waiters_fail(self) -> None:
        """Waiters fail with the download's error, and later ones at once."""
        download = self.downloads.start_or_join(self.spec)
        started, done = download.when_started(), download.when_done()
        self.upstream.respond(HandFedResponse(code=500))
        self.failureResultOf(started, UpstreamError)
        self.failureResultOf(done, UpstreamError)
        self.failureResultOf(download.when_started(), UpstreamError)

    def test_serve_fails_before_headers(self) -> None:
        """
        serve_download() fails with the DownloadError when the download fails before
        headers, leaving the request to the caller, and with the error at
        once on a download that already failed.
        """
        download = self.downloads.start_or_join(self.spec)
        request = Client(self.site).request()
        d = serve_download(request, download)
        self.clock.advance(IDLE)
        self.failureResultOf(d, UpstreamTimeout)
        self.assertFalse(request.startedWriting)
        self.failureResultOf(serve_download(request, download), UpstreamTimeout)

    def test_verification_error_type(self) -> None:
        """A mismatch fails waiters with a VerificationError."""
        download = self.downloads.start_or_join(self.spec)
        done = download.when_done()
        response = self.upstream.respond(HandFedResponse())
        response.send(b"x")
        response.end()
        self.failureResultOf(done, VerificationError)

    def test_cancel_after_headers_aborts(self) -> None:
        """Cancelling serve_download()'s Deferred after headers aborts."""
        download = self.downloads.start_or_join(self.spec)
        client = Client(self.site)
        request = client.request()
        d = serve_download(request, download)
        self.upstream.respond(HandFedResponse()).send(DATA[:5])
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertTrue(client.transport.disconnected)
        self.assertEqual(download.status().followers, 0)

    def test_serve_succeeds_when_client_leaves(self) -> None:
        """serve_download()'s Deferred fires with None when the client goes away."""
        download = self.downloads.start_or_join(self.spec)
        client = Client(self.site)
        request = client.request()
        d = serve_download(request, download)
        request.connectionLost(Failure(ConnectionDone()))
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(download.status().followers, 0)

    def test_cancel_after_client_left(self) -> None:
        """
        Cancelling serve_download()'s Deferred because the client left (the caller's
        own notifyFinish errback running first) detaches without touching
        the dead connection.
        """
        download = self.downloads.start_or_join(self.spec)
        client = Client(self.site)
        request = client.request()
        served: list[Deferred[None]] = []
        request.notifyFinish().addErrback(lambda _: served[0].cancel())
        served.append(serve_download(request, download))
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA[:5])
        request.connectionLost(Failure(ConnectionDone()))
        self.failureResultOf(served[0], CancelledError)
        self.assertFalse(client.transport.disconnected)
        self.assertEqual(download.status().followers, 0)
        response.send(DATA[5:])
        response.end()
        self.assertIsNotNone(self.cache.lookup(SEGMENTS))


class CommittedHookTests(SynchronousTestCase):
    """
    :attr:`Downloads.committed` is told of each download once its file is
    committed, and of no other.
    """

    def test_committed(self) -> None:
        """
        A committed download is told, with its file readable; a failed one
        is not.
        """
        origin = FakeOrigin({URL: DATA})
        told: list[Any] = []
        cache = FileCache(FilePath(self.mktemp()), None, Clock())
        downloads = Downloads(cache, streaming(origin), Clock(), committed=told.append)
        download = downloads.start_or_join(FileSpec(URL, SEGMENTS, len(DATA)))
        self.successResultOf(download.when_done())
        self.assertEqual(told, [download])
        reader = download.open_reader()
        self.assertEqual(reader.read(0, len(DATA)), DATA)
        reader.close()
        origin.failing.add(URL)
        other = (*SEGMENTS[:-1], "other-1.0.tar.gz")
        failed = downloads.start_or_join(FileSpec(URL, other))
        self.failureResultOf(failed.when_done())
        self.assertEqual(told, [download])


class GivenResponseTests(_Base):
    """
    :meth:`Downloads.start_or_join` with an upstream answer the caller
    already has (the upstream ignored a ``Range`` and sent the whole file).
    """

    def test_new_download_takes_it(self) -> None:
        """
        A new download reads the given response's body instead of asking
        the upstream again, and commits the file as usual.
        """
        response = HandFedResponse(length=len(DATA))
        download = self.downloads.start_or_join(
            self.spec, StreamingResponse.of(response)
        )
        self.assertEqual(self.upstream.urls, [])
        self.assertIs(download.state, State.STREAMING)
        response.send(DATA)
        response.end()
        self.assertIs(download.state, State.DONE)
        path = self.cache.lookup(SEGMENTS)
        assert path is not None
        self.assertEqual(path.getContent(), DATA)

    def test_joined_download_closes_it(self) -> None:
        """
        With a download of the file in flight, the given response is closed
        unread and the download in flight is joined.
        """
        first = self.downloads.start_or_join(self.spec)
        response = HandFedResponse(length=len(DATA))
        joined = self.downloads.start_or_join(self.spec, StreamingResponse.of(response))
        self.assertIs(joined, first)
        self.assertEqual(response.transport.producerState, "stopped")
        self.assertEqual(self.upstream.urls, [URL])
