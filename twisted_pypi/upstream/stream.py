# -*- test-case-name: tests.upstream.test_stream -*-
"""
Streaming an upstream file's response body into a consumer.

The file layer downloads without knowing HTTP: it asks a fetch function for
a :class:`StreamingResponse` (status, length) and has its body written into
any ``IConsumer``, with the upstream connection registered as the
consumer's push producer (so the consumer can pause the upstream).  How the
HTTP client reports the end of a body (``ResponseDone``,
``PotentialDataLoss``, a failure) stays here, and so does turning its
failures into :class:`~twisted_pypi.upstream.client.UpstreamError` with a
message in words (:func:`~twisted_pypi.upstream.describe.describe_error`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from typing import Protocol as TypingProtocol

from attrs import frozen
from twisted.internet import error
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.internet.interfaces import IConsumer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.iweb import UNKNOWN_LENGTH, IResponse

from twisted_pypi.upstream.client import UpstreamError, UpstreamTimeout
from twisted_pypi.upstream.describe import describe_error

__all__ = [
    "BodyCutShort",
    "StreamingFetch",
    "StreamingResponse",
    "close_body",
    "streaming",
]


class BodyCutShort(UpstreamError):
    """
    The upstream's body ended before it was whole; the message says why in
    words (``"the upstream closed the connection"``), the download says
    after how many bytes.
    """


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
            written, or failing with :class:`BodyCutShort` if it was cut
            short.  Cancelling it closes the upstream connection and
            unregisters from the consumer.
        """
        streamer = _BodyStreamer(consumer)
        self._response.deliverBody(streamer)
        return streamer.done

    def header(self, name: bytes) -> bytes | None:
        """
        :param name: A header's name.
        :return: Its last value in the response, or ``None``.
        """
        values = self._response.headers.getRawHeaders(name)
        return values[-1] if values else None

    def discard(self) -> None:
        """
        Do not read the body: close the upstream connection.
        """
        close_body(self._response)


def close_body(response: IResponse) -> None:
    """
    Do not read ``response``'s body: close its connection.
    """
    response.deliverBody(_Stop())


class StreamingFetch(TypingProtocol):
    """
    Issues an upstream ``GET`` for a URL, with more request headers if
    given (such as a ``Range``); see :func:`streaming`.
    """

    def __call__(
        self, url: str, extra: Mapping[bytes, bytes] | None = None
    ) -> Deferred[StreamingResponse]:
        """
        :param url: The file's URL.
        :param extra: More request headers.
        """


def streaming(fetch: Callable[..., Deferred[IResponse]]) -> StreamingFetch:
    """
    A fetch function of streaming responses.

    :param fetch: Issues an upstream request: ``fetch(url)`` a ``GET``,
        ``fetch(url, b"GET", extra)`` one with more headers (see
        :func:`twisted_pypi.app.filefetch.file_fetcher`).
    :return: The same, its responses as :class:`StreamingResponse`, its
        failures as :class:`UpstreamError` (:class:`UpstreamTimeout` for a
        timeout) saying why in words; cancelling its Deferred cancels the
        request.
    """

    def fetch_streaming(
        url: str, extra: Mapping[bytes, bytes] | None = None
    ) -> Deferred[StreamingResponse]:
        """Issue the request; wrap the response."""
        d = fetch(url) if extra is None else fetch(url, b"GET", extra)
        return d.addCallbacks(StreamingResponse.of, _in_words)

    return fetch_streaming


def _in_words(reason: Failure) -> Failure:
    """
    A request that failed, as an :class:`UpstreamError` saying why in words
    and caused by the original; a cancellation, or an error already ours, as
    it is.
    """
    if reason.check(CancelledError, UpstreamError):
        return reason
    cause = reason.value
    timeout = reason.check(DeferredTimeout, error.TimeoutError)
    exc = (UpstreamTimeout if timeout else UpstreamError)(describe_error(cause))
    exc.__cause__ = cause
    return Failure(exc)


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
            self.done.errback(BodyCutShort(describe_error(reason.value)))

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
