"""
Tests for :mod:`twisted_pypi.web.rangedfiles`: ``Range`` requests for files
not cached, answered from a download's spool or by the upstream.

Clients are real :class:`twisted.web.server.Site` connections over
``StringTransport``; the upstream is hand-fed (see
:class:`tests.web.test_passthrough.RangedUpstream`); downloads go to a real
file cache; time is a ``Clock``.  The whole ``/files/`` route is tested in
:mod:`tests.web.test_files_ranges`.
"""

from __future__ import annotations

from typing import cast

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from twisted.web.test.requesthelper import DummyRequest

from tests.files.test_download import Client
from tests.web.test_passthrough import DATA, IDLE, SEGMENTS, URL, RangedUpstream
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads, FileSpec
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.upstream.client import UpstreamError
from twisted_pypi.upstream.stream import streaming
from twisted_pypi.web.errors import send_failure
from twisted_pypi.web.following import serve_download
from twisted_pypi.web.rangedfiles import RangedFiles, asked_range, honours_ranges
from twisted_pypi.web.respond import when_done

#: How far ahead of a download a range may start here.
AHEAD = 100


class OneFile(Resource):
    """
    What the files resource does for one file not cached: a range from the
    download in flight or from the upstream, anything else from the
    download; an :class:`UpstreamError` before any header is a 502 or 504.
    """

    isLeaf = True

    def __init__(self, ranges: RangedFiles, downloads: Downloads, spec: FileSpec):
        """
        :param ranges: Answers the ranges.
        :param downloads: The downloads in flight.
        :param spec: The one file.
        """
        super().__init__()
        self._ranges = ranges
        self._downloads = downloads
        self._spec = spec

    def render_GET(self, request: Request) -> int:
        """Answer as the files resource does."""
        when_done(request, Deferred.fromCoroutine(self._answer(request)), "file")
        return NOT_DONE_YET

    async def _answer(self, request: Request) -> None:
        asked = asked_range(request, self._spec.segments)
        download = self._downloads.get(self._spec.segments)
        try:
            if asked is None:
                download = self._downloads.start_or_join(self._spec)
                await serve_download(request, download)
            elif download is not None:
                await self._ranges.from_download(request, download, asked)
            else:
                await self._ranges.from_upstream(request, self._spec, asked)
        except UpstreamError as e:
            send_failure(request, e)


class RangedFilesTests(SynchronousTestCase):
    """
    :class:`RangedFiles` behind :class:`OneFile`.
    """

    def setUp(self) -> None:
        """A file of known size, neither cached nor downloaded."""
        self.clock = Clock()
        self.cache = FileCache(FilePath(self.mktemp()), None, self.clock)
        self.cache.scan()
        self.upstream = RangedUpstream()
        self.downloads = Downloads(
            self.cache, streaming(self.upstream.fetch), self.clock, IDLE
        )
        self.stats = Stats(self.clock)
        self.ranges = RangedFiles(
            self.downloads, self.upstream.fetch, self.stats, AHEAD
        )
        self.use(FileSpec(URL, SEGMENTS, len(DATA)))

    def use(self, spec: FileSpec) -> None:
        """Serve ``spec`` from now on."""
        self.spec = spec
        self.site = Site(OneFile(self.ranges, self.downloads, spec), reactor=self.clock)

    def client(self, asked: bytes | None = None) -> Client:
        """A client that asked for the range ``asked``, or the whole file."""
        extra = b"" if asked is None else b"Range: " + asked + b"\r\n"
        return Client(self.site).get(extra)

    def downloading(self, length: int | None = len(DATA), written: int = 0) -> None:
        """
        A client started the file's download; the upstream answered with
        ``length`` and sent its first ``written`` bytes.
        """
        self.client()
        self.response = self.upstream.respond(200, length)
        if written:
            self.response.send(DATA[:written])

    def assertPartial(self, client: Client, first: int, last: int) -> None:
        """The client got a whole 206 of bytes ``first`` to ``last``."""
        self.assertTrue(client.head().startswith(b"HTTP/1.1 206 "), client.head())
        headers = client.headers()
        self.assertEqual(
            headers[b"content-range"], b"bytes %d-%d/%d" % (first, last, len(DATA))
        )
        self.assertEqual(headers[b"content-length"], b"%d" % (last - first + 1))
        self.assertEqual(headers[b"accept-ranges"], b"bytes")
        self.assertEqual(client.body(), DATA[first : last + 1])
        self.assertTrue(client.finished)
        self.assertFalse(client.transport.disconnected)

    def ranged_asks(self) -> list[bytes]:
        """The ``Range`` of every upstream request that had one."""
        return [extra[b"range"] for _, _, extra in self.upstream.asked if extra]

    def test_from_spool(self) -> None:
        """
        A range of a file being downloaded whose bytes are on disk is
        answered from the spool at once, without asking the upstream.
        """
        self.downloading(written=100)
        client = self.client(b"bytes=10-49")
        self.assertPartial(client, 10, 49)
        self.assertEqual(self.ranged_asks(), [])
        self.assertEqual(len(self.upstream.asked), 1)
        self.assertEqual(self.stats.ranges, {"spool": 1})

    def test_waits_for_bytes(self) -> None:
        """
        A range a little ahead of the download gets its headers at once and
        its bytes as they arrive, and is finished once it has them all,
        before the download ends.
        """
        self.downloading(written=100)
        client = self.client(b"bytes=150-199")
        self.assertTrue(client.head().startswith(b"HTTP/1.1 206 "))
        self.assertEqual(client.body(), b"")
        self.response.send(DATA[100:170])
        self.assertEqual(client.body(), DATA[150:170])
        self.response.send(DATA[170:300])
        self.assertPartial(client, 150, 199)
        self.assertIsNotNone(self.downloads.get(SEGMENTS))
        self.assertEqual(self.ranged_asks(), [])

    def test_download_not_started(self) -> None:
        """
        A range of a download still waiting for the upstream's headers
        (the index gave the size) is answered from its spool once they and
        the bytes came.
        """
        self.client()
        client = self.client(b"bytes=0-9")
        self.assertEqual(client.transport.value(), b"")
        self.upstream.respond(200, len(DATA)).send(DATA[:20])
        self.assertPartial(client, 0, 9)
        self.assertEqual(self.ranged_asks(), [])

    def test_far_ahead(self) -> None:
        """
        A range starting more than the allowance past the bytes on disk is
        passed to the upstream as the range resolved in the file's size.
        """
        self.downloading(written=10)
        client = self.client(b"bytes=-24")
        self.assertEqual(self.ranged_asks(), [b"bytes=1000-1023"])
        response = self.upstream.respond(206, 24, b"bytes 1000-1023/1024")
        response.send(DATA[1000:])
        response.end()
        self.assertPartial(client, 1000, 1023)
        self.assertEqual(self.stats.ranges, {"upstream": 1})

    def test_unknown_length(self) -> None:
        """
        While the file's length is unknown (no size on the index, none from
        the upstream), a range of its download is passed to the upstream.
        """
        self.use(FileSpec(URL, SEGMENTS))
        self.downloading(length=None, written=100)
        self.client(b"bytes=0-9")
        self.assertEqual(self.ranged_asks(), [b"bytes=0-9"])

    def test_unsatisfiable_in_flight(self) -> None:
        """
        A range past the end of a file being downloaded is a 416 with its
        size, without asking the upstream.
        """
        self.downloading(written=10)
        client = self.client(b"bytes=1024-")
        self.assertTrue(client.head().startswith(b"HTTP/1.1 416 "))
        self.assertEqual(client.headers()[b"content-range"], b"bytes */1024")
        self.assertEqual(self.ranged_asks(), [])

    def test_passed_through(self) -> None:
        """
        A range of a file neither cached nor downloaded is passed to the
        upstream, and no download starts: nothing is written to the cache.
        """
        client = self.client(b"bytes=2-5")
        self.assertEqual(self.upstream.asked, [(URL, b"GET", {b"range": b"bytes=2-5"})])
        response = self.upstream.respond(206, 4, b"bytes 2-5/1024")
        response.send(DATA[2:6])
        response.end()
        self.assertPartial(client, 2, 5)
        self.assertIsNone(self.downloads.get(SEGMENTS))
        self.assertEqual(self.downloads.in_flight(), [])
        self.assertEqual(self.cache.tmp_dir.children(), [])
        self.assertEqual(self.stats.ranges, {"upstream": 1})

    def test_passed_through_resolved(self) -> None:
        """
        With the index's size known, a suffix is asked of the upstream as
        the closed range it stands for, and a range past the end is a 416
        without asking.
        """
        self.client(b"bytes=-4")
        self.assertEqual(self.ranged_asks(), [b"bytes=1020-1023"])
        client = self.client(b"bytes=2000-")
        self.assertTrue(client.head().startswith(b"HTTP/1.1 416 "))
        self.assertEqual(client.headers()[b"content-range"], b"bytes */1024")
        self.assertEqual(len(self.upstream.asked), 1)

    def test_upstream_ignores_ranges(self) -> None:
        """
        An upstream that answers a range with the whole file (200): that
        answer becomes the file's download, without asking again; the range
        is answered from its spool as the bytes arrive, and the file is
        cached.
        """
        client = self.client(b"bytes=2-5")
        response = self.upstream.respond(200, len(DATA))
        self.assertIsNotNone(self.downloads.get(SEGMENTS))
        response.send(DATA[:10])
        self.assertPartial(client, 2, 5)
        response.send(DATA[10:])
        response.end()
        self.assertIsNotNone(self.cache.lookup(SEGMENTS))
        self.assertEqual(len(self.upstream.asked), 1)
        self.assertEqual(self.stats.ranges, {"spool": 1})

    def test_ignored_range_of_unknown_length(self) -> None:
        """
        When the upstream ignores the range and the file's length is still
        unknown, the client gets the whole file (200) from the download.
        """
        self.use(FileSpec(URL, SEGMENTS))
        client = self.client(b"bytes=2-5")
        response = self.upstream.respond(200, None)
        response.send(DATA)
        response.end()
        self.assertTrue(client.head().startswith(b"HTTP/1.1 200 "), client.head())
        self.assertEqual(client.body(), b"400\r\n" + DATA + b"\r\n0\r\n\r\n")

    def test_download_fails_before_headers(self) -> None:
        """
        A range waiting on a download that fails before its headers is a
        502.
        """
        self.client()
        client = self.client(b"bytes=0-9")
        with capturedLogs():
            self.upstream.respond(404, 0)
        self.assertTrue(client.head().startswith(b"HTTP/1.1 502 "), client.head())

    def test_download_fails_midway(self) -> None:
        """
        A range waiting for bytes of a download that fails is aborted, so
        that its partial body cannot look whole.
        """
        self.downloading(written=10)
        client = self.client(b"bytes=50-59")
        with capturedLogs():
            self.response.end(Failure(ConnectionLost()))
        self.assertTrue(client.transport.disconnected)

    def test_client_leaves(self) -> None:
        """
        A client that leaves while its range waits detaches; the download
        goes on and the file is cached.
        """
        self.downloading(written=10)
        client = self.client(b"bytes=50-59")
        client.lose()
        self.response.send(DATA[10:])
        self.response.end()
        self.assertIsNotNone(self.cache.lookup(SEGMENTS))
        self.assertFalse(self.cache.is_pinned(SEGMENTS))


class AskedRangeTests(SynchronousTestCase):
    """
    :func:`asked_range` and :func:`honours_ranges`: which requests are
    answered with a range.
    """

    def request(self, method: bytes = b"GET", **headers: bytes) -> Request:
        """A request with these headers (``if_range`` for ``If-Range``)."""
        request = DummyRequest([b"f"])
        request.method = method
        for name, value in headers.items():
            request.requestHeaders.setRawHeaders(name.replace("_", "-"), [value])
        return cast(Request, request)

    def test_one_range(self) -> None:
        """A ``GET`` of a file with one range is answered with it."""
        asked = asked_range(self.request(range=b"bytes=-10"), SEGMENTS)
        self.assertEqual(asked, (None, 10))

    def test_whole_file(self) -> None:
        """
        No range, several, a malformed one, an ``If-Range``, a ``HEAD`` and
        a ``.metadata`` file take the whole-file path.
        """
        metadata = (*SEGMENTS[:-1], SEGMENTS[-1] + ".metadata")
        for request, segments in (
            (self.request(), SEGMENTS),
            (self.request(range=b"bytes=0-1,5-6"), SEGMENTS),
            (self.request(range=b"bytes=5-1"), SEGMENTS),
            (self.request(range=b"bytes=0-1", if_range=b'"e"'), SEGMENTS),
            (self.request(b"HEAD", range=b"bytes=0-1"), SEGMENTS),
            (self.request(range=b"bytes=0-1"), metadata),
        ):
            self.assertIsNone(asked_range(request, segments), request.requestHeaders)

    def test_honours_ranges(self) -> None:
        """
        Ranges are promised for a file of known length, never for a
        ``.metadata`` file or one of unknown length.
        """
        self.assertTrue(honours_ranges(SEGMENTS, 10))
        self.assertFalse(honours_ranges(SEGMENTS, None))
        metadata = (*SEGMENTS[:-1], SEGMENTS[-1] + ".metadata")
        self.assertFalse(honours_ranges(metadata, 10))
