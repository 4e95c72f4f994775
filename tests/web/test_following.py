"""
Tests for :mod:`twisted_pypi.web.following`: a request as the sink of a
download's follower.  The whole path (downloads, followers, requests) is
tested in :mod:`tests.files.test_download`.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site
from zope.interface.verify import verifyObject

from tests.fakes import HandFedResponse
from tests.files.test_download import DATA, SEGMENTS, Client, _Base
from twisted_pypi.files.interfaces import IFollowerSink
from twisted_pypi.web.following import RequestSink, serve_download


class Capture(Resource):
    """
    Keeps the request it renders, unanswered.

    :ivar requests: The requests.
    """

    isLeaf = True

    def __init__(self) -> None:
        """No request yet."""
        super().__init__()
        self.requests: list[Request] = []

    def render_GET(self, request: Request) -> int:
        """Keep the request."""
        self.requests.append(request)
        return NOT_DONE_YET


def make_request() -> tuple[Request, StringTransport]:
    """A GET request, received on a connection of its own, not answered."""
    resource = Capture()
    # The connection's timers run on a clock of their own, not the reactor.
    protocol = Site(resource, reactor=Clock()).buildProtocol(None)
    assert protocol is not None
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(b"GET /f HTTP/1.1\r\nHost: proxy\r\n\r\n")
    [request] = resource.requests
    return request, transport


class RequestSinkTests(SynchronousTestCase):
    """
    :class:`RequestSink`.
    """

    def test_interface(self) -> None:
        """A request sink is a follower sink."""
        self.assertTrue(
            verifyObject(IFollowerSink, RequestSink(make_request()[0], b"x"))
        )

    def test_start_sends_headers(self) -> None:
        """
        Starting sends 200 with the length, type and immutable caching, and
        neither Accept-Ranges nor Content-Encoding, before any body byte.
        """
        request, transport = make_request()
        request.setHeader(b"accept-ranges", b"bytes")
        request.setHeader(b"content-encoding", b"gzip")
        RequestSink(request, b"application/zip").start(12)
        head = transport.value()
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertTrue(head.endswith(b"\r\n\r\n"))
        lowered = head.lower()
        self.assertIn(b"content-length: 12\r\n", lowered)
        self.assertIn(b"content-type: application/zip\r\n", lowered)
        self.assertIn(b"cache-control: max-age=365000000, immutable\r\n", lowered)
        self.assertNotIn(b"accept-ranges", lowered)
        self.assertNotIn(b"content-encoding", lowered)

    def test_abort(self) -> None:
        """Aborting cuts the connection; once it is gone, aborting does nothing."""
        request, transport = make_request()
        sink = RequestSink(request, b"x")
        sink.start(None)
        sink.abort()
        self.assertTrue(transport.disconnected)
        gone, _ = make_request()
        gone.connectionLost(Failure(ConnectionDone()))
        RequestSink(gone, b"x").abort()

    def test_when_closed(self) -> None:
        """The sink closes with None when the client leaves, and on finish."""
        request, _ = make_request()
        closed = RequestSink(request, b"x").when_closed()
        request.connectionLost(Failure(ConnectionDone()))
        self.assertIsNone(self.successResultOf(closed))
        request, _ = make_request()
        sink = RequestSink(request, b"x")
        closed = sink.when_closed()
        sink.start(0)
        sink.finish()
        self.assertIsNone(self.successResultOf(closed))

    def test_closed_before_asked(self) -> None:
        """
        The sink of a request whose client left before anyone asked is
        closed at once.
        """
        request, _ = make_request()
        request.connectionLost(Failure(ConnectionDone()))
        self.assertIsNone(
            self.successResultOf(RequestSink(request, b"x").when_closed())
        )


class ClientGoneFirstTests(_Base):
    """
    A request whose client left before it was attached to a download.
    """

    def test_nothing_opened_or_written(self) -> None:
        """
        Following a download for a client that already left writes nothing
        to it and leaves no follower (no reader open, no pin); the download
        fills the cache all the same.
        """
        download = self.downloads.start_or_join(self.spec)
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA[:5])
        client = Client(self.site)
        # The connection's idle timer is the real reactor's: end it.
        self.addCleanup(client.protocol.connectionLost, Failure(ConnectionDone()))
        request = client.request()
        request.connectionLost(Failure(ConnectionDone()))
        self.assertIsNone(self.successResultOf(serve_download(request, download)))
        self.assertEqual(client.transport.value(), b"")
        self.assertEqual(download.status().followers, 0)
        response.send(DATA[5:])
        response.end()
        self.assertIsNotNone(self.cache.lookup(SEGMENTS))
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
