"""
Tests for :mod:`twisted_pypi.web.passthrough`: one range of a file asked of
the upstream and relayed to the client.

Clients are real :class:`twisted.web.server.Site` connections over
``StringTransport``; the upstream is a hand-fed response (see
:class:`tests.fakes.HandFedResponse`), time a ``Clock``.
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.iweb import IResponse
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from tests.fakes import HandFedResponse
from tests.files.test_download import Client
from twisted_pypi.files.spec import FileSpec
from twisted_pypi.upstream.client import UpstreamError
from twisted_pypi.upstream.stream import StreamingResponse, streaming
from twisted_pypi.web.errors import send_failure
from twisted_pypi.web.passthrough import pass_range
from twisted_pypi.web.ranges import single_range
from twisted_pypi.web.respond import when_done

URL = "https://files.example/packages/demo-1.0-py3-none-any.whl"
SEGMENTS = ("pypi", "https", "files.example", "packages", URL.rsplit("/", 1)[1])
DATA = bytes(range(256)) * 4
IDLE = 30.0


class RangedUpstream:
    """
    A fetch function that records each request and hands out Deferreds.

    :ivar asked: ``(url, method, extra headers)`` of each request.
    """

    def __init__(self) -> None:
        """No request yet."""
        self.asked: list[tuple[str, bytes, Mapping[bytes, bytes] | None]] = []
        self.pending: list[Deferred[IResponse]] = []

    def fetch(
        self,
        url: str,
        method: bytes = b"GET",
        extra: Mapping[bytes, bytes] | None = None,
    ) -> Deferred[IResponse]:
        """Record the request; the test fires the Deferred."""
        self.asked.append((url, method, extra))
        d: Deferred[IResponse] = Deferred()
        self.pending.append(d)
        return d

    def respond(
        self, code: int, length: int | None, content_range: bytes | None = None
    ) -> HandFedResponse:
        """
        Answer the latest request.

        :param code: The status.
        :param length: The ``Content-Length``, if any.
        :param content_range: The ``Content-Range``, if any.
        """
        response = HandFedResponse(code, length)
        if content_range is not None:
            response.headers.setRawHeaders(b"content-range", [content_range])
        self.pending[-1].callback(response)
        return response


class RangeResource(Resource):
    """
    Passes each request's range of one file to the upstream, answering an
    :class:`UpstreamError` as the files resource does.

    :ivar whole: The upstream's ``200`` handed back, if one was.
    """

    isLeaf = True

    def __init__(self, upstream: RangedUpstream, spec: FileSpec, clock: Clock) -> None:
        """
        :param upstream: The upstream.
        :param spec: The one file.
        :param clock: The idle timer's.
        """
        super().__init__()
        self._fetch = streaming(upstream.fetch)
        self._spec = spec
        self._clock = clock
        self.whole: StreamingResponse | None = None

    def render_GET(self, request: Request) -> int:
        """Pass the range on."""
        work = Deferred.fromCoroutine(self._answer(request))
        when_done(request, work, "range")
        return NOT_DONE_YET

    async def _answer(self, request: Request) -> None:
        asked = single_range(request.getHeader(b"range"))
        assert asked is not None
        try:
            self.whole = await pass_range(
                request, self._fetch, self._spec, asked, self._clock, IDLE
            )
        except UpstreamError as e:
            send_failure(request, e)


class PassRangeTests(SynchronousTestCase):
    """
    :func:`pass_range`.
    """

    def setUp(self) -> None:
        """A file of known size, not asked for yet."""
        self.clock = Clock()
        self.upstream = RangedUpstream()
        self.use(FileSpec(URL, SEGMENTS, len(DATA)))

    def use(self, spec: FileSpec) -> None:
        """Pass ranges of ``spec`` from now on."""
        self.resource = RangeResource(self.upstream, spec, self.clock)
        self.site = Site(self.resource, reactor=self.clock)

    def client(self, asked: bytes) -> Client:
        """A client that asked for the range ``asked``."""
        return Client(self.site).get(b"Range: " + asked + b"\r\n")

    def test_range_relayed(self) -> None:
        """
        The range is asked of the upstream as a ``GET`` with that ``Range``
        only, and its 206 reaches the client with exactly those bytes, their
        ``Content-Range`` and length, the file's type and
        ``Accept-Ranges: bytes``.
        """
        client = self.client(b"bytes=2-5")
        self.assertEqual(self.upstream.asked, [(URL, b"GET", {b"range": b"bytes=2-5"})])
        response = self.upstream.respond(206, 4, b"bytes 2-5/1024")
        response.send(DATA[2:4])
        self.assertEqual(client.body(), DATA[2:4])
        response.send(DATA[4:6])
        response.end()
        self.assertTrue(client.head().startswith(b"HTTP/1.1 206 "))
        headers = client.headers()
        self.assertEqual(headers[b"content-range"], b"bytes 2-5/1024")
        self.assertEqual(headers[b"content-length"], b"4")
        self.assertEqual(headers[b"content-type"], b"application/zip")
        self.assertEqual(headers[b"accept-ranges"], b"bytes")
        self.assertEqual(client.body(), DATA[2:6])
        self.assertTrue(client.finished)
        self.assertFalse(client.transport.disconnected)

    def test_suffix_of_unknown_size(self) -> None:
        """
        A suffix range of a file of unknown size is asked as it is, and the
        upstream's answer gives the size.
        """
        self.use(FileSpec(URL, SEGMENTS))
        client = self.client(b"bytes=-3")
        self.assertEqual(self.upstream.asked[0][2], {b"range": b"bytes=-3"})
        response = self.upstream.respond(206, 3, b"bytes 1021-1023/1024")
        response.send(DATA[-3:])
        response.end()
        self.assertEqual(client.headers()[b"content-range"], b"bytes 1021-1023/1024")
        self.assertEqual(client.body(), DATA[-3:])

    def test_unknown_total(self) -> None:
        """An upstream that does not know the size says ``*``, and so do we."""
        self.use(FileSpec(URL, SEGMENTS))
        client = self.client(b"bytes=2-5")
        response = self.upstream.respond(206, 4, b"bytes 2-5/*")
        response.send(DATA[2:6])
        response.end()
        self.assertEqual(client.headers()[b"content-range"], b"bytes 2-5/*")
        self.assertEqual(client.body(), DATA[2:6])

    def assertBadGateway(self, client: Client, words: bytes) -> None:
        """The client got a 502 saying ``words``."""
        self.assertTrue(client.head().startswith(b"HTTP/1.1 502 "), client.head())
        self.assertIn(words, client.body())

    def test_other_range_refused(self) -> None:
        """
        A 206 of another range than the one asked for is a 502; the
        upstream's body is not read.
        """
        client = self.client(b"bytes=2-5")
        response = self.upstream.respond(206, 6, b"bytes 0-5/1024")
        self.assertBadGateway(client, b"bytes 0-5/1024 to bytes=2-5")
        self.assertEqual(response.transport.producerState, "stopped")

    def test_no_content_range_refused(self) -> None:
        """A 206 without a ``Content-Range`` is a 502."""
        client = self.client(b"bytes=2-5")
        self.upstream.respond(206, 4)
        self.assertBadGateway(client, b"no valid Content-Range")

    def test_other_size_refused(self) -> None:
        """A 206 of a file of another size than the index's is a 502."""
        client = self.client(b"bytes=2-5")
        self.upstream.respond(206, 4, b"bytes 2-5/999")
        self.assertBadGateway(client, b"is 999 bytes, not the index")

    def test_length_disagrees(self) -> None:
        """A 206 whose length is not its range's is a 502."""
        client = self.client(b"bytes=2-5")
        self.upstream.respond(206, 5, b"bytes 2-5/1024")
        self.assertBadGateway(client, b"Content-Length (5)")

    def test_unsatisfiable_passed_on(self) -> None:
        """An upstream's 416 is the client's, with the file's size."""
        self.use(FileSpec(URL, SEGMENTS))
        client = self.client(b"bytes=5000-")
        response = self.upstream.respond(416, 0, b"bytes */1024")
        self.assertTrue(client.head().startswith(b"HTTP/1.1 416 "))
        self.assertEqual(client.headers()[b"content-range"], b"bytes */1024")
        self.assertEqual(response.transport.producerState, "stopped")

    def test_whole_file_handed_back(self) -> None:
        """
        An upstream that ignores the range (200) is handed back, its body
        unread, and nothing is sent to the client.
        """
        client = self.client(b"bytes=2-5")
        response = self.upstream.respond(200, len(DATA))
        whole = self.resource.whole
        assert whole is not None
        self.assertEqual((whole.code, whole.length), (200, len(DATA)))
        self.assertIsNone(response.protocol)
        self.assertEqual(client.transport.value(), b"")

    def test_error_status(self) -> None:
        """Another status is a 502 saying which."""
        client = self.client(b"bytes=2-5")
        self.upstream.respond(404, 0)
        self.assertBadGateway(client, b"404")

    def test_no_answer(self) -> None:
        """An upstream that does not answer in time is a 504."""
        client = self.client(b"bytes=2-5")
        self.upstream.pending[0].errback(TimeoutError())
        self.assertTrue(client.head().startswith(b"HTTP/1.1 504 "))


class RelayTests(SynchronousTestCase):
    """
    How :func:`pass_range` relays the upstream's body: backpressure, a client
    that leaves, a silent upstream, a body of the wrong length.
    """

    def setUp(self) -> None:
        """A client asked for ``bytes=0-99``; the upstream's 206 arrived."""
        self.clock = Clock()
        self.upstream = RangedUpstream()
        resource = RangeResource(
            self.upstream, FileSpec(URL, SEGMENTS, len(DATA)), self.clock
        )
        self.client = Client(Site(resource, reactor=self.clock)).get(
            b"Range: bytes=0-99\r\n"
        )
        self.response = self.upstream.respond(206, None, b"bytes 0-99/1024")

    def test_backpressure(self) -> None:
        """
        A client that stops reading pauses the upstream; reading again
        resumes it.
        """
        self.response.send(DATA[:10])
        self.client.pause()
        self.assertEqual(self.response.transport.producerState, "paused")
        self.client.resume()
        self.assertEqual(self.response.transport.producerState, "producing")

    def test_client_leaves(self) -> None:
        """A client that leaves closes the upstream connection."""
        self.response.send(DATA[:10])
        self.client.lose()
        self.assertEqual(self.response.transport.producerState, "stopped")

    def test_silent_upstream(self) -> None:
        """
        An upstream silent for the idle timeout while the client waits
        aborts the client's connection and closes the upstream's; the time
        the client itself pauses the upstream does not count.
        """
        self.response.send(DATA[:10])
        self.client.pause()
        self.clock.advance(IDLE * 2)
        self.assertFalse(self.client.transport.disconnected)
        self.client.resume()
        self.clock.advance(IDLE - 1)
        self.response.send(DATA[10:20])
        self.clock.advance(IDLE - 1)
        self.assertFalse(self.client.transport.disconnected)
        with capturedLogs() as events:
            self.clock.advance(1)
        self.assertTrue(self.client.transport.disconnected)
        self.assertEqual(self.response.transport.producerState, "stopped")
        self.assertIn("sent nothing for 30 s", str(events[-1]["why"]))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_cut_short(self) -> None:
        """A body cut off by the upstream aborts the client's connection."""
        self.response.send(DATA[:10])
        with capturedLogs():
            self.response.end(Failure(ConnectionLost()))
        self.assertTrue(self.client.transport.disconnected)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_ends_short(self) -> None:
        """
        A body that ends cleanly before the range's length aborts the
        client's connection: the promised length is a lie.
        """
        self.response.send(DATA[:10])
        with capturedLogs():
            self.response.end()
        self.assertTrue(self.client.transport.disconnected)

    def test_runs_long(self) -> None:
        """
        A body longer than the range aborts the client's connection, and
        the extra bytes are not sent.
        """
        with capturedLogs():
            self.response.send(DATA[:101])
        self.assertTrue(self.client.transport.disconnected)
        self.assertEqual(self.client.body(), b"")
        self.assertEqual(self.response.transport.producerState, "stopped")
