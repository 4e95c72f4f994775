"""
Tests for :mod:`twisted_pypi.web.fileserve`: complete cached files over real
:class:`twisted.web.server.Site` connections, checked on the wire.
"""

from __future__ import annotations

import os

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.lrufiles import TOUCH_INTERVAL
from twisted_pypi.web.fileserve import SMALL_BODY, content_type, serve_cached

SEGMENTS = ("pypi", "https", "files.example", "packages", "demo-1.0.tar.gz")
OTHER = ("pypi", "https", "files.example", "packages", "other-1.0.tar.gz")
DATA = b"0123456789"
MTIME_NS = 1_600_000_000_123_456_789
ETAG = b'"a-16345785dffbcd15"'
LAST_MODIFIED = b"Sun, 13 Sep 2020 12:26:41 GMT"
IMMUTABLE = b"max-age=365000000, immutable"
UNSATISFIABLE = b"HTTP/1.1 416 Requested Range not satisfiable"


class CachedResource(Resource):
    """
    Serves one cached file, the way the resource layer does.
    """

    isLeaf = True

    def __init__(
        self, cache: FileCache, segments: tuple[str, ...], small_body: int = SMALL_BODY
    ) -> None:
        """
        :param cache: The file cache.
        :param segments: The file to serve.
        :param small_body: See :func:`serve_file`.
        """
        super().__init__()
        self.cache = cache
        self.segments = segments
        self.small_body = small_body

    def render_GET(self, request: Request) -> bytes | int:
        """Serve the file."""
        request.setHeader(b"x-cache", b"HIT")
        return serve_cached(
            request, self.cache, self.segments, small_body=self.small_body
        )

    render_HEAD = render_GET


class PausingTransport(StringTransport):
    """
    A client whose buffer is full after every write: it pauses its producer.
    """

    def write(self, data: bytes) -> None:
        """Take the bytes, then ask the producer to pause."""
        super().write(data)
        if self.producer is not None:
            self.producer.pauseProducing()


class Response:
    """
    A parsed response.

    :ivar status: The status line.
    :ivar headers: Header name (lower case) to value.
    :ivar body: The body bytes.
    """

    def __init__(self, raw: bytes) -> None:
        """:param raw: The bytes the client received."""
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.status = lines[0]
        self.headers = {
            k.lower(): v for k, _, v in (line.partition(b": ") for line in lines[1:])
        }


class _Base(SynchronousTestCase):
    """
    A cache holding one file with a known modification time.
    """

    #: Bodies up to this size are sent at once (see :data:`SMALL_BODY`).
    small_body = SMALL_BODY

    def setUp(self) -> None:
        """A scanned cache with one file of ten bytes."""
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.cache = FileCache(FilePath(self.mktemp()), None, self.clock)
        self.cache.scan()
        self.path = self.put(SEGMENTS, DATA)
        os.utime(self.path.path, ns=(MTIME_NS, MTIME_NS))

    def put(self, segments: tuple[str, ...], data: bytes) -> FilePath[str]:
        """Commit a file to the cache."""
        spool = self.cache.open_spool()
        spool.write(data)
        self.successResultOf(self.cache.commit(spool, segments))
        return self.cache.path_for(segments)

    def connect(
        self,
        segments: tuple[str, ...] = SEGMENTS,
        chunk: int = 65536,
        transport: StringTransport | None = None,
    ) -> tuple[StringTransport, object]:
        """A client connection to a site serving ``segments``."""
        self.cache.read_chunk_size = chunk
        resource = CachedResource(self.cache, segments, self.small_body)
        site = Site(resource, reactor=self.clock)
        protocol = site.buildProtocol(None)
        assert protocol is not None
        transport = transport or StringTransport()
        protocol.makeConnection(transport)
        return transport, protocol

    def request(
        self,
        headers: bytes = b"",
        method: bytes = b"GET",
        segments: tuple[str, ...] = SEGMENTS,
    ) -> Response:
        """Send one request and parse the response."""
        transport, protocol = self.connect(segments)
        protocol.dataReceived(  # type: ignore[attr-defined]
            method + b" /f HTTP/1.1\r\nHost: proxy\r\n" + headers + b"\r\n"
        )
        self.assertFalse(transport.disconnecting)
        return Response(transport.value())


class GetTests(_Base):
    """
    Plain ``GET`` and ``HEAD``.
    """

    def test_get(self) -> None:
        """
        A GET answers 200 with the file and exact headers: Content-Length,
        Content-Type, ETag, Last-Modified, Accept-Ranges, immutable
        Cache-Control, the caller's X-Cache, and no Content-Encoding (even
        for a .tar.gz).
        """
        response = self.request(b"Accept-Encoding: gzip\r\n")
        self.assertEqual(response.status, b"HTTP/1.1 200 OK")
        self.assertEqual(response.body, DATA)
        headers = response.headers
        self.assertEqual(headers[b"content-length"], b"10")
        self.assertEqual(headers[b"content-type"], b"application/gzip")
        self.assertEqual(headers[b"etag"], ETAG)
        self.assertEqual(headers[b"last-modified"], LAST_MODIFIED)
        self.assertEqual(headers[b"accept-ranges"], b"bytes")
        self.assertEqual(headers[b"cache-control"], IMMUTABLE)
        self.assertEqual(headers[b"x-cache"], b"HIT")
        self.assertNotIn(b"content-encoding", headers)
        self.assertNotIn(b"transfer-encoding", headers)

    def test_head(self) -> None:
        """A HEAD answers GET's headers, Content-Length included, and no body."""
        get = self.request()
        head = self.request(method=b"HEAD")
        self.assertEqual(head.status, b"HTTP/1.1 200 OK")
        self.assertEqual(head.body, b"")
        for name in (b"content-length", b"content-type", b"etag", b"cache-control"):
            self.assertEqual(head.headers[name], get.headers[name])
        self.assertEqual(head.headers[b"content-length"], b"10")

    def test_wheel_type(self) -> None:
        """A wheel is served as application/zip."""
        wheel = ("pypi", "https", "h", "demo-1.0-py3-none-any.whl")
        self.put(wheel, b"PK")
        response = self.request(segments=wheel)
        self.assertEqual(response.headers[b"content-type"], b"application/zip")
        self.assertEqual(response.body, b"PK")

    def test_content_types(self) -> None:
        """Content types by suffix; anything else is application/octet-stream."""
        cases = {
            "a-1.0.tar.gz": b"application/gzip",
            "a-1.0.TGZ": b"application/gzip",
            "a-1.0.zip": b"application/zip",
            "a-1.0-py3-none-any.whl": b"application/zip",
            "a-1.0-py3-none-any.whl.metadata": b"text/plain; charset=utf-8",
            "a-1.0.tar.bz2": b"application/octet-stream",
            "a-1.0.egg": b"application/octet-stream",
        }
        for name, expected in cases.items():
            self.assertEqual(content_type(name), expected, name)

    def test_not_cached(self) -> None:
        """A file that is not in the cache answers 404."""
        response = self.request(segments=OTHER)
        self.assertEqual(response.status, b"HTTP/1.1 404 Not Found")

    def test_unsafe_segments(self) -> None:
        """Unsafe segments are refused before touching the file system."""
        request = Request(self.connect()[1]._channel)  # type: ignore[attr-defined]
        self.assertRaises(ValueError, serve_cached, request, self.cache, ("..", "x"))

    def test_etag_stable_across_uses(self) -> None:
        """
        Serving a file marks it used without changing its ETag or
        Last-Modified.
        """
        self.put(OTHER, b"x")
        first = self.request()
        self.assertEqual([key for key, _ in self.cache.entries()], [OTHER, SEGMENTS])
        self.clock.advance(TOUCH_INTERVAL + 1)
        second = self.request()
        self.assertEqual(second.headers[b"etag"], first.headers[b"etag"])
        self.assertEqual(second.headers[b"last-modified"], LAST_MODIFIED)
        self.assertEqual(os.stat(self.path.path).st_mtime_ns, MTIME_NS)


class RangeTests(_Base):
    """
    ``Range`` and ``If-Range``.
    """

    def assertPartial(self, response: Response, range_: bytes, body: bytes) -> None:
        """A 206 with this Content-Range and body."""
        self.assertEqual(response.status, b"HTTP/1.1 206 Partial Content")
        self.assertEqual(response.headers[b"content-range"], range_)
        self.assertEqual(response.headers[b"content-length"], b"%d" % len(body))
        self.assertEqual(response.body, body)

    def test_closed_range(self) -> None:
        """``bytes=a-b`` answers 206 with exactly those bytes."""
        response = self.request(b"Range: bytes=2-5\r\n")
        self.assertPartial(response, b"bytes 2-5/10", b"2345")

    def test_open_range(self) -> None:
        """``bytes=a-`` answers 206 from ``a`` to the end."""
        response = self.request(b"Range: bytes=7-\r\n")
        self.assertPartial(response, b"bytes 7-9/10", b"789")

    def test_suffix_range(self) -> None:
        """``bytes=-n`` answers 206 with the last ``n`` bytes."""
        response = self.request(b"Range: bytes=-3\r\n")
        self.assertPartial(response, b"bytes 7-9/10", b"789")

    def test_long_suffix_range(self) -> None:
        """A suffix longer than the file means the whole file."""
        response = self.request(b"Range: bytes=-50\r\n")
        self.assertPartial(response, b"bytes 0-9/10", DATA)

    def test_end_past_file(self) -> None:
        """An end past the file is clipped to the last byte."""
        response = self.request(b"Range: bytes=8-100\r\n")
        self.assertPartial(response, b"bytes 8-9/10", b"89")

    def test_unsatisfiable(self) -> None:
        """
        A range starting past the end answers 416 with ``Content-Range:
        bytes */10``, no body, and no immutable Cache-Control.
        """
        response = self.request(b"Range: bytes=10-20\r\n")
        self.assertEqual(response.status, UNSATISFIABLE)
        self.assertEqual(response.headers[b"content-range"], b"bytes */10")
        self.assertEqual(response.body, b"")
        self.assertNotIn(b"cache-control", response.headers)

    def test_unsatisfiable_multiple(self) -> None:
        """Several ranges that all start past the end answer 416."""
        response = self.request(b"Range: bytes=10-11,20-\r\n")
        self.assertEqual(response.status, UNSATISFIABLE)
        self.assertEqual(response.headers[b"content-range"], b"bytes */10")
        self.assertEqual(response.body, b"")

    def test_multiple_ranges(self) -> None:
        """Several ranges answer a multipart/byteranges 206 with each part."""
        response = self.request(b"Range: bytes=0-1,4-5\r\n")
        self.assertEqual(response.status, b"HTTP/1.1 206 Partial Content")
        kind = response.headers[b"content-type"]
        self.assertTrue(kind.startswith(b"multipart/byteranges; boundary="))
        length = b"%d" % len(response.body)
        self.assertEqual(response.headers[b"content-length"], length)
        self.assertIn(b"Content-range: bytes 0-1/10\r\n\r\n01\r\n", response.body)
        self.assertIn(b"Content-range: bytes 4-5/10\r\n\r\n45\r\n", response.body)

    def test_malformed_range(self) -> None:
        """A malformed Range header is ignored: 200 with the whole file."""
        response = self.request(b"Range: lines=1-2\r\n")
        self.assertEqual(response.status, b"HTTP/1.1 200 OK")
        self.assertEqual(response.body, DATA)

    def test_if_range_etag(self) -> None:
        """If-Range with the current ETag honours the range."""
        response = self.request(b"Range: bytes=0-1\r\nIf-Range: " + ETAG + b"\r\n")
        self.assertPartial(response, b"bytes 0-1/10", b"01")

    def test_if_range_date(self) -> None:
        """If-Range with the exact Last-Modified date honours the range."""
        header = b"Range: bytes=0-1\r\nIf-Range: " + LAST_MODIFIED + b"\r\n"
        self.assertPartial(self.request(header), b"bytes 0-1/10", b"01")

    def test_if_range_stale(self) -> None:
        """
        If-Range with another ETag, a weak ETag, or another date answers the
        full 200.
        """
        for validator in [
            b'"other"',
            b"W/" + ETAG,
            b"Sun, 13 Sep 2020 12:26:40 GMT",
        ]:
            header = b"Range: bytes=0-1\r\nIf-Range: " + validator + b"\r\n"
            response = self.request(header)
            self.assertEqual(response.status, b"HTTP/1.1 200 OK", validator)
            self.assertEqual(response.body, DATA)
            self.assertNotIn(b"content-range", response.headers)


class ConditionalTests(_Base):
    """
    ``If-None-Match`` and ``If-Modified-Since``.
    """

    def assertNotModified(self, response: Response) -> None:
        """A 304 with the ETag and Cache-Control, no body, no Content-Length."""
        self.assertEqual(response.status, b"HTTP/1.1 304 Not Modified")
        self.assertEqual(response.headers[b"etag"], ETAG)
        self.assertEqual(response.headers[b"cache-control"], IMMUTABLE)
        self.assertNotIn(b"content-length", response.headers)
        self.assertNotIn(b"transfer-encoding", response.headers)
        self.assertEqual(response.body, b"")

    def test_if_none_match(self) -> None:
        """If-None-Match with the current ETag answers 304."""
        self.assertNotModified(self.request(b"If-None-Match: " + ETAG + b"\r\n"))

    def test_if_none_match_list(self) -> None:
        """A list of tags, weak or not, matches when one of them is current."""
        header = b'If-None-Match: "x", W/' + ETAG + b"\r\n"
        self.assertNotModified(self.request(header))

    def test_if_none_match_star(self) -> None:
        """``If-None-Match: *`` answers 304."""
        self.assertNotModified(self.request(b"If-None-Match: *\r\n"))

    def test_head_not_modified(self) -> None:
        """A conditional HEAD answers 304 too."""
        header = b"If-None-Match: " + ETAG + b"\r\n"
        self.assertNotModified(self.request(header, method=b"HEAD"))

    def test_if_none_match_stale(self) -> None:
        """
        If-None-Match with another tag answers 200, even with an
        If-Modified-Since that alone would give 304.
        """
        header = b'If-None-Match: "x"\r\nIf-Modified-Since: ' + LAST_MODIFIED + b"\r\n"
        response = self.request(header)
        self.assertEqual(response.status, b"HTTP/1.1 200 OK")
        self.assertEqual(response.body, DATA)

    def test_if_modified_since(self) -> None:
        """If-Modified-Since at or after Last-Modified answers 304."""
        self.assertNotModified(
            self.request(b"If-Modified-Since: " + LAST_MODIFIED + b"\r\n")
        )

    def test_modified_since(self) -> None:
        """If-Modified-Since before Last-Modified answers 200."""
        header = b"If-Modified-Since: Sun, 13 Sep 2020 12:26:40 GMT\r\n"
        self.assertEqual(self.request(header).body, DATA)


class ProducerTests(_Base):
    """
    Streaming, chunk size and pinning.
    """

    small_body = 0  # the test files are small: stream them all

    def test_chunk_per_resume(self) -> None:
        """
        A saturated client gets one chunk of the configured size per resume,
        the file stays pinned while it is sent, and is unpinned when done.
        """
        transport, protocol = self.connect(chunk=4, transport=PausingTransport())
        protocol.dataReceived(b"GET /f HTTP/1.1\r\nHost: p\r\n\r\n")  # type: ignore[attr-defined]
        self.assertEqual(Response(transport.value()).body, b"0123")
        self.assertTrue(self.cache.is_pinned(SEGMENTS))
        assert transport.producer is not None
        transport.producer.resumeProducing()
        self.assertEqual(Response(transport.value()).body, b"01234567")
        transport.producer.resumeProducing()
        transport.producer.resumeProducing()
        self.assertEqual(Response(transport.value()).body, DATA)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertFalse(transport.disconnecting)

    def test_client_leaves(self) -> None:
        """A client leaving mid-file unpins the file."""
        transport, protocol = self.connect(chunk=4, transport=PausingTransport())
        protocol.dataReceived(b"GET /f HTTP/1.1\r\nHost: p\r\n\r\n")  # type: ignore[attr-defined]
        self.assertTrue(self.cache.is_pinned(SEGMENTS))
        protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
        self.assertFalse(self.cache.is_pinned(SEGMENTS))

    def test_pinned_file_survives_eviction(self) -> None:
        """
        A file being sent is not evicted by commits over budget, although it
        is the least recently used: the next unpinned file goes instead.
        """
        self.cache.max_size = 12
        transport, protocol = self.connect(chunk=4, transport=PausingTransport())
        protocol.dataReceived(b"GET /f HTTP/1.1\r\nHost: p\r\n\r\n")  # type: ignore[attr-defined]
        self.put(OTHER, b"xxxxx")
        third = self.put(("pypi", "https", "h", "third-1.0.tar.gz"), b"yyyyy")
        self.assertTrue(self.path.exists())
        self.assertFalse(self.cache.path_for(OTHER).exists())
        self.assertTrue(third.exists())
        assert transport.producer is not None
        for _ in range(3):
            transport.producer.resumeProducing()
        self.assertEqual(Response(transport.value()).body, DATA)


def parse_multipart(response: Response) -> list[tuple[bytes, bytes]]:
    """
    The parts of a multipart/byteranges response: ``(Content-range, body)``
    each, checked to be framed by the announced boundary.
    """
    kind = response.headers[b"content-type"]
    boundary = kind.split(b"boundary=", 1)[1].strip(b'"')
    body = response.body
    closing = b"\r\n--" + boundary + b"--\r\n"
    assert body.endswith(closing), body
    parts = []
    for chunk in body[: -len(closing)].split(b"\r\n--" + boundary + b"\r\n")[1:]:
        head, _, data = chunk.partition(b"\r\n\r\n")
        headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        assert headers[b"Content-type"] == b"application/gzip"
        parts.append((headers[b"Content-range"], data))
    return parts


class MoreRangeTests(_Base):
    """
    Multiple ranges, 416, ``If-Range`` and ``HEAD`` in detail.
    """

    def test_multiple_ranges_exact(self) -> None:
        """
        Each part of a multipart answer carries exactly its bytes, in the
        order asked, and the length announced is the length sent.
        """
        response = self.request(b"Range: bytes=8-,0-2,-1\r\n")
        self.assertEqual(response.status, b"HTTP/1.1 206 Partial Content")
        self.assertEqual(
            parse_multipart(response),
            [
                (b"bytes 8-9/10", b"89"),
                (b"bytes 0-2/10", b"012"),
                (b"bytes 9-9/10", b"9"),
            ],
        )
        self.assertEqual(
            response.headers[b"content-length"], b"%d" % len(response.body)
        )
        self.assertNotIn(b"content-range", response.headers)

    def test_multiple_ranges_some_unsatisfiable(self) -> None:
        """Ranges past the end are left out of a multipart answer."""
        response = self.request(b"Range: bytes=50-60,1-1\r\n")
        self.assertEqual(parse_multipart(response), [(b"bytes 1-1/10", b"1")])

    def test_unsatisfiable_headers(self) -> None:
        """A 416 says its empty length and keeps the validators."""
        response = self.request(b"Range: bytes=10-\r\n")
        self.assertEqual(response.status, UNSATISFIABLE)
        self.assertEqual(response.headers[b"content-length"], b"0")
        self.assertEqual(response.headers[b"etag"], ETAG)
        self.assertEqual(response.headers[b"accept-ranges"], b"bytes")

    def test_if_range_without_range(self) -> None:
        """If-Range without a Range is a plain 200."""
        response = self.request(b"If-Range: " + ETAG + b"\r\n")
        self.assertEqual(response.status, b"HTTP/1.1 200 OK")
        self.assertEqual(response.body, DATA)

    def test_if_range_stale_multiple(self) -> None:
        """A stale If-Range turns a multiple-range request into the full 200."""
        response = self.request(b'Range: bytes=0-1,4-5\r\nIf-Range: "old"\r\n')
        self.assertEqual(response.status, b"HTTP/1.1 200 OK")
        self.assertEqual(response.headers[b"content-type"], b"application/gzip")
        self.assertEqual(response.body, DATA)

    def test_head_ignores_range(self) -> None:
        """
        A HEAD with a Range answers the whole file's headers: 200, its full
        length, no Content-Range, no body.
        """
        response = self.request(b"Range: bytes=0-1\r\n", method=b"HEAD")
        self.assertEqual(response.status, b"HTTP/1.1 200 OK")
        self.assertEqual(response.headers[b"content-length"], b"10")
        self.assertEqual(response.headers[b"last-modified"], LAST_MODIFIED)
        self.assertNotIn(b"content-range", response.headers)
        self.assertEqual(response.body, b"")

    def test_empty_file(self) -> None:
        """An empty file is a 200 with no body; any range of it is a 416."""
        empty = ("pypi", "https", "h", "empty-1.0.tar.gz")
        self.put(empty, b"")
        whole = self.request(segments=empty)
        self.assertEqual((whole.status, whole.body), (b"HTTP/1.1 200 OK", b""))
        self.assertEqual(whole.headers[b"content-length"], b"0")
        ranged = self.request(b"Range: bytes=0-\r\n", segments=empty)
        self.assertEqual(ranged.status, UNSATISFIABLE)


class MoreProducerTests(_Base):
    """
    Backpressure across parts, clients leaving, files changing under us.
    """

    small_body = 0  # the test files are small: stream them all

    def test_multipart_backpressure(self) -> None:
        """
        A saturated client gets a multipart body one chunk per resume: the
        pause carries over from one range to the next.
        """
        transport, protocol = self.connect(chunk=3, transport=PausingTransport())
        protocol.dataReceived(  # type: ignore[attr-defined]
            b"GET /f HTTP/1.1\r\nHost: p\r\nRange: bytes=0-5,6-9\r\n\r\n"
        )
        bodies = [Response(transport.value()).body]
        assert transport.producer is not None
        for _ in range(10):
            transport.producer.resumeProducing()
            bodies.append(Response(transport.value()).body)
        self.assertEqual(
            parse_multipart(Response(transport.value())),
            [(b"bytes 0-5/10", b"012345"), (b"bytes 6-9/10", b"6789")],
        )
        # Nothing of the file before the first resume, then one resume per
        # chunk of three bytes: 0-2, 3-5, 6-8, 9 (each with what follows it
        # up to the next chunk: a part boundary, the closing boundary).
        self.assertTrue(bodies[0].endswith(b"Content-range: bytes 0-5/10\r\n\r\n"))
        growth = [b for a, b in zip(bodies, bodies[1:], strict=False) if b != a]
        self.assertEqual(len(growth), 4)
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertFalse(transport.disconnecting)

    def test_client_leaving_stops_reading(self) -> None:
        """
        A client that leaves mid-file stops the reading: the file is read no
        more, whatever its producer is told.
        """
        reads: list[int] = []
        real_pread = os.pread

        def counting(fd: int, n: int, offset: int) -> bytes:
            """Count the reads."""
            reads.append(offset)
            return real_pread(fd, n, offset)

        self.patch(os, "pread", counting)
        transport, protocol = self.connect(chunk=4, transport=PausingTransport())
        protocol.dataReceived(b"GET /f HTTP/1.1\r\nHost: p\r\n\r\n")  # type: ignore[attr-defined]
        producer = transport.producer
        assert producer is not None
        protocol.connectionLost(Failure(ConnectionDone()))  # type: ignore[attr-defined]
        before = len(reads)
        producer.resumeProducing()
        producer.resumeProducing()
        self.assertEqual(len(reads), before)
        self.assertEqual(Response(transport.value()).body, b"0123")

    def test_file_shrinks(self) -> None:
        """
        A file that shrinks while it is sent cannot give the length
        promised: the connection is aborted.
        """
        transport, protocol = self.connect(chunk=4, transport=PausingTransport())
        protocol.dataReceived(b"GET /f HTTP/1.1\r\nHost: p\r\n\r\n")  # type: ignore[attr-defined]
        with open(self.path.path, "r+b") as f:
            f.truncate(6)
        assert transport.producer is not None
        transport.producer.resumeProducing()
        transport.producer.resumeProducing()
        self.assertTrue(transport.disconnected)
        self.assertEqual(Response(transport.value()).body, b"012345")


class SmallBodyTests(_Base):
    """
    A small local file's body is read and written at once, in the turn that
    answers the request.
    """

    def serve(self) -> tuple[Response, list[object], list[tuple[int, int]]]:
        """
        GET the file: the response, the readers opened, and the ranges they
        were asked to stream.
        """
        transport, protocol = self.connect(chunk=4)
        opened: list[object] = []
        streamed: list[tuple[int, int]] = []
        real_open = self.cache.open

        def spy(key: tuple[str, ...]) -> object:
            reader = real_open(key)
            assert reader is not None
            real_stream = reader.stream

            def stream(consumer: object, offset: int, length: int) -> object:
                streamed.append((offset, length))
                return real_stream(consumer, offset, length)  # type: ignore[arg-type]

            reader.stream = stream  # type: ignore[method-assign,assignment]
            opened.append(reader)
            return reader

        self.cache.open = spy  # type: ignore[method-assign,assignment]
        protocol.dataReceived(  # type: ignore[attr-defined]
            b"GET /f HTTP/1.1\r\nHost: proxy\r\n\r\n"
        )
        return Response(transport.value()), opened, streamed

    def test_at_once(self) -> None:
        """
        The whole body is read at once, not streamed; the file is closed and
        no longer pinned when the request returns.
        """
        response, [reader], streamed = self.serve()
        self.assertEqual(response.body, DATA)
        self.assertEqual(streamed, [])
        self.assertRaises(ValueError, reader.fileno)  # type: ignore[attr-defined]
        self.assertFalse(self.cache.is_pinned(SEGMENTS))

    def test_multipart(self) -> None:
        """
        Several small ranges are sent at once as one multipart body.
        """
        response = self.request(b"Range: bytes=0-1,5-6\r\n")
        self.assertEqual(response.status, b"HTTP/1.1 206 Partial Content")
        self.assertIn(b"\r\n\r\n01\r\n", response.body)
        self.assertIn(b"\r\n\r\n56\r\n", response.body)

    def test_larger_streamed(self) -> None:
        """
        A body over the limit is streamed by the reader instead.
        """
        self.small_body = 5
        response, _, streamed = self.serve()
        self.assertEqual(response.body, DATA)
        self.assertEqual(streamed, [(0, len(DATA))])
