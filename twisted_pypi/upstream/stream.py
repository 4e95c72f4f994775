# -*- test-case-name: tests.upstream.test_stream -*-
"""
Streaming an upstream file's response body into a consumer.

The file layer downloads without knowing HTTP: it asks a fetch function for
a :class:`StreamingResponse` (status, length) and has its body written into
any ``IConsumer``, with the upstream connection registered as the
consumer's push producer (so the consumer can pause the upstream).  How the
HTTP client reports the end of a body (``ResponseDone``,
``PotentialDataLoss``, a failure) stays here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConsumer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import UNKNOWN_LENGTH, IResponse

from twisted_pypi.upstream.client import UpstreamError

__all__ = ["StreamingResponse", "streaming"]


@frozen
class StreamingResponse:
    """
    An upstream's answer to a file request, its body not read yet.

    :ivar code: The HTTP status.
    :ivar length: The body's length (``Content-Length``), if known.
    """

    code: int
    length: int | None
    _response: IResponse

    @classmethod
    def of(cls, response: IResponse) -> StreamingResponse:
        """
        :param response: A response whose body was not delivered yet.
        :return: It, ready to stream.
        """
        length = response.length
        known = length is not UNKNOWN_LENGTH and length is not None
        return cls(response.code, int(length) if known else None, response)

    def stream_to(self, consumer: IConsumer) -> Deferred[None]:
        """
        Write the body to ``consumer`` as it arrives; the upstream connection
        is the consumer's streaming producer meanwhile.

        :param consumer: Where the body goes.
        :return: A Deferred firing with ``None`` once the whole body was
            written, or failing with :class:`UpstreamError` if it was cut
            short.  Cancelling it closes the upstream connection and
            unregisters from the consumer.
        """
        streamer = _BodyStreamer(consumer)
        self._response.deliverBody(streamer)
        return streamer.done

    def discard(self) -> None:
        """
        Do not read the body: close the upstream connection.
        """
        self._response.deliverBody(_Stop())


def streaming(
    fetch: Callable[[str], Deferred[IResponse]],
) -> Callable[[str], Deferred[StreamingResponse]]:
    """
    A fetch function of streaming responses.

    :param fetch: Issues an upstream ``GET`` for a URL (see
        :func:`twisted_pypi.app.service.file_fetcher`).
    :return: The same, its responses as :class:`StreamingResponse`;
        cancelling its Deferred cancels the request.
    """

    def fetch_streaming(url: str) -> Deferred[StreamingResponse]:
        """Issue the request; wrap the response."""
        return fetch(url).addCallback(StreamingResponse.of)

    return fetch_streaming


class _BodyStreamer(Protocol):
    """
    Hands a body to a consumer, then reports how it ended.
    """

    def __init__(self, consumer: IConsumer) -> None:
        """:param consumer: Where the body goes."""
        self._consumer = consumer
        self._ended = False
        self.done: Deferred[None] = Deferred(self._cancel)

    def connectionMade(self) -> None:
        """Let the consumer pause the upstream connection."""
        producer: Any = self.transport  # an IPushProducer too
        self._consumer.registerProducer(producer, True)

    def dataReceived(self, data: bytes) -> None:
        """:param data: Body bytes."""
        if not self._ended:
            self._consumer.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """:param reason: Why the body ended."""
        if self._ended:
            return
        self._ended = True
        self._consumer.unregisterProducer()
        if reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(None)
        else:
            why = f"body cut short: {reason.getErrorMessage()}"
            self.done.errback(UpstreamError(why))

    def _cancel(self, done: Deferred[None]) -> None:
        """The consumer gave up: unregister and close the connection."""
        if self._ended:
            return
        self._ended = True
        self._consumer.unregisterProducer()
        if self.transport is not None:
            self.transport.stopProducing()  # type: ignore[attr-defined]


class _Stop(Protocol):
    """Closes the connection of a body nobody reads."""

    def connectionMade(self) -> None:
        """Stop at once."""
        assert self.transport is not None
        self.transport.stopProducing()  # type: ignore[attr-defined]
