"""
Tests for :mod:`twisted_pypi.upstream.stream`: an upstream file's body
streamed into a consumer.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred, TimeoutError, fail, succeed
from twisted.internet.error import ConnectionLost, ConnectionRefusedError
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseDone, ResponseFailed, ResponseNeverReceived
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import IResponse

from tests.consumers import Consumer
from tests.fakes import HandFedResponse
from twisted_pypi.upstream.client import UpstreamError, UpstreamTimeout
from twisted_pypi.upstream.stream import BodyCutShort, StreamingResponse, streaming


class StreamingResponseTests(SynchronousTestCase):
    """
    :class:`StreamingResponse` and :func:`streaming`.
    """

    def test_status_and_length(self) -> None:
        """The status and the length (``None`` when unknown) are given."""
        known = StreamingResponse.of(HandFedResponse(404, 12))
        unknown = StreamingResponse.of(HandFedResponse())
        self.assertEqual((known.code, known.length), (404, 12))
        self.assertIsNone(unknown.length)

    def test_body_streams(self) -> None:
        """
        Body bytes reach the consumer as they arrive, with the connection
        registered as its streaming producer until the body ends.
        """
        response = HandFedResponse()
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
        response = HandFedResponse()
        consumer = Consumer(pause_each=True)
        StreamingResponse.of(response).stream_to(consumer)
        assert response.protocol is not None
        response.protocol.dataReceived(b"ab")
        self.assertEqual(response.transport.producerState, "paused")

    def test_potential_data_loss_is_end(self) -> None:
        """A body without a length that ends with the connection is whole."""
        response = HandFedResponse()
        d = StreamingResponse.of(response).stream_to(Consumer())
        response.end(Failure(PotentialDataLoss()))
        self.successResultOf(d)

    def test_cut_short(self) -> None:
        """
        A body cut short fails with :class:`BodyCutShort` (an
        ``UpstreamError``) saying why in words.
        """
        response = HandFedResponse()
        d = StreamingResponse.of(response).stream_to(Consumer())
        response.end(Failure(ResponseFailed([Failure(ConnectionLost())])))
        failure = self.failureResultOf(d, BodyCutShort)
        self.assertIsInstance(failure.value, UpstreamError)
        self.assertEqual(
            failure.getErrorMessage(), "the connection to the upstream was lost"
        )

    def test_fetch_failures_in_words(self) -> None:
        """
        A request that fails fails with an ``UpstreamError`` saying why in
        words, caused by the original; a timeout with ``UpstreamTimeout``; a
        cancellation as it is.
        """
        refused = ResponseNeverReceived([Failure(ConnectionRefusedError())])
        fetch = streaming(lambda url: fail(refused))
        failure = self.failureResultOf(fetch("http://h/f"), UpstreamError)
        self.assertEqual(
            failure.getErrorMessage(), "the upstream refused the connection"
        )
        self.assertIs(failure.value.__cause__, refused)
        late = TimeoutError("no response headers within 10 s")
        fetch = streaming(lambda url: fail(late))
        failure = self.failureResultOf(fetch("http://h/f"), UpstreamTimeout)
        self.assertEqual(failure.getErrorMessage(), "no response headers within 10 s")
        fetch = streaming(lambda url: fail(CancelledError()))
        self.failureResultOf(fetch("http://h/f"), CancelledError)

    def test_cancel_stops_upstream(self) -> None:
        """
        Cancelling closes the upstream connection and unregisters; a late
        end of the body is ignored.
        """
        response = HandFedResponse()
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
        response = HandFedResponse()
        StreamingResponse.of(response).discard()
        self.assertEqual(response.transport.producerState, "stopped")

    def test_streaming_fetch(self) -> None:
        """
        A streaming fetch function wraps the responses of another, and
        cancelling it cancels the request.
        """
        response = HandFedResponse(200, 3)
        fetched = self.successResultOf(streaming(lambda url: succeed(response))("u"))
        self.assertEqual(fetched.length, 3)
        cancelled: list[str] = []
        pending: Deferred[IResponse] = Deferred(lambda _: cancelled.append("yes"))
        d = streaming(lambda url: pending)("u")
        d.cancel()
        self.assertEqual(cancelled, ["yes"])
        self.failureResultOf(d, CancelledError)

    def test_extra_headers(self) -> None:
        """
        More request headers given to the streaming fetch are passed on to
        the fetch function as a ``GET``'s; without them it is called with
        the URL alone.
        """
        calls: list[tuple[object, ...]] = []

        def fetch(*args: object) -> Deferred[IResponse]:
            calls.append(args)
            return succeed(HandFedResponse(206))

        streamed = streaming(fetch)
        self.successResultOf(streamed("u", {b"range": b"bytes=0-1"}))
        self.successResultOf(streamed("v"))
        self.assertEqual(calls, [("u", b"GET", {b"range": b"bytes=0-1"}), ("v",)])

    def test_header(self) -> None:
        """A response header's last value is given; a missing one is None."""
        response = HandFedResponse(206)
        response.headers.setRawHeaders(b"content-range", [b"x", b"bytes 0-1/2"])
        streamed = StreamingResponse.of(response)
        self.assertEqual(streamed.header(b"Content-Range"), b"bytes 0-1/2")
        self.assertIsNone(streamed.header(b"etag"))
