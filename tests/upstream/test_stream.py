"""
Tests for :mod:`twisted_pypi.upstream.stream`: an upstream file's body
streamed into a consumer.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IProtocol
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseDone, ResponseFailed
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IResponse
from zope.interface import implementer

from tests.consumers import Consumer
from twisted_pypi.upstream.client import UpstreamError
from twisted_pypi.upstream.stream import StreamingResponse, streaming


@implementer(IResponse)
class Response:
    """
    An ``IResponse`` whose body the test delivers by hand.

    :ivar protocol: The body's protocol, once delivered.
    :ivar transport: Stands for the upstream connection.
    """

    def __init__(self, code: int = 200, length: int | object = UNKNOWN_LENGTH) -> None:
        """
        :param code: The status.
        :param length: The ``Content-Length``, or ``UNKNOWN_LENGTH``.
        """
        self.version = (b"HTTP", 1, 1)
        self.code = code
        self.phrase = b"OK"
        self.headers = Headers()
        self.length = length
        self.request = None
        self.previousResponse = None
        self.protocol: IProtocol | None = None
        self.transport = StringTransport()

    def deliverBody(self, protocol: IProtocol) -> None:
        """Connect the protocol to the fake connection."""
        self.protocol = protocol
        protocol.makeConnection(self.transport)

    def setPreviousResponse(self, response: IResponse) -> None:
        """Not used."""

    def end(self, reason: Failure) -> None:
        """End the body."""
        assert self.protocol is not None
        self.protocol.connectionLost(reason)


class StreamingResponseTests(SynchronousTestCase):
    """
    :class:`StreamingResponse` and :func:`streaming`.
    """

    def test_status_and_length(self) -> None:
        """The status and the length (``None`` when unknown) are given."""
        known = StreamingResponse.of(Response(404, 12))
        unknown = StreamingResponse.of(Response())
        self.assertEqual((known.code, known.length), (404, 12))
        self.assertIsNone(unknown.length)

    def test_body_streams(self) -> None:
        """
        Body bytes reach the consumer as they arrive, with the connection
        registered as its streaming producer until the body ends.
        """
        response = Response()
        consumer = Consumer()
        d = StreamingResponse.of(response).stream_to(consumer)
        self.assertEqual(consumer.registrations, [(response.transport, True)])
        assert response.protocol is not None
        response.protocol.dataReceived(b"ab")
        response.protocol.dataReceived(b"cd")
        self.assertEqual(consumer.chunks, [b"ab", b"cd"])
        self.assertNoResult(d)
        response.end(Failure(ResponseDone()))
        self.assertIsNone(self.successResultOf(d))
        self.assertIsNone(consumer.producer)

    def test_consumer_pauses_upstream(self) -> None:
        """The consumer's pause reaches the upstream connection."""
        response = Response()
        consumer = Consumer(pause_each=True)
        StreamingResponse.of(response).stream_to(consumer)
        assert response.protocol is not None
        response.protocol.dataReceived(b"ab")
        self.assertEqual(response.transport.producerState, "paused")

    def test_potential_data_loss_is_end(self) -> None:
        """A body without a length that ends with the connection is whole."""
        response = Response()
        d = StreamingResponse.of(response).stream_to(Consumer())
        response.end(Failure(PotentialDataLoss()))
        self.successResultOf(d)

    def test_cut_short(self) -> None:
        """A body cut short fails with an UpstreamError saying so."""
        response = Response()
        d = StreamingResponse.of(response).stream_to(Consumer())
        response.end(Failure(ResponseFailed([Failure(ConnectionLost())])))
        failure = self.failureResultOf(d, UpstreamError)
        self.assertIn("body cut short", failure.getErrorMessage())

    def test_cancel_stops_upstream(self) -> None:
        """
        Cancelling closes the upstream connection and unregisters; a late
        end of the body is ignored.
        """
        response = Response()
        consumer = Consumer()
        d = StreamingResponse.of(response).stream_to(consumer)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(response.transport.producerState, "stopped")
        self.assertIsNone(consumer.producer)
        assert response.protocol is not None
        response.protocol.dataReceived(b"late")
        response.end(Failure(ResponseDone()))
        self.assertEqual(consumer.chunks, [])

    def test_discard(self) -> None:
        """Discarding a response closes its connection unread."""
        response = Response()
        StreamingResponse.of(response).discard()
        self.assertEqual(response.transport.producerState, "stopped")

    def test_streaming_fetch(self) -> None:
        """
        A streaming fetch function wraps the responses of another, and
        cancelling it cancels the request.
        """
        response = Response(200, 3)
        fetched = self.successResultOf(streaming(lambda url: succeed(response))("u"))
        self.assertEqual(fetched.length, 3)
        cancelled: list[str] = []
        pending: Deferred[IResponse] = Deferred(lambda _: cancelled.append("yes"))
        d = streaming(lambda url: pending)("u")
        d.cancel()
        self.assertEqual(cancelled, ["yes"])
        self.failureResultOf(d, CancelledError)
