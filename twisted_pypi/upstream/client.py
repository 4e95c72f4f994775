"""
Fetching index pages from an upstream: conditional GETs with timeouts, a size
cap, and errors that say what went wrong.

The HTTP client is injected (a ``treq.client.HTTPClient`` or anything with the
same ``get`` method, such as ``treq.testing.StubTreq``), and so is the clock
that drives the timeouts.
"""

from __future__ import annotations

from typing import Any
from typing import Protocol as TypingProtocol

from attrs import frozen
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss

from twisted_pypi import __version__
from twisted_pypi.core.links import redact
from twisted_pypi.core.lookup import UpstreamTimedOut, UpstreamUnavailable
from twisted_pypi.upstream.describe import describe_error

__all__ = [
    "PAGE_ACCEPT",
    "USER_AGENT",
    "PageClient",
    "PageResponse",
    "UpstreamError",
    "UpstreamTimeout",
    "fetch_page",
    "read_body",
]

#: What the proxy asks an upstream for: JSON first, HTML as a fallback.
PAGE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)

#: How a body that ended normally is reported.
_DONE = Failure(ResponseDone())

#: The User-Agent of every upstream request.
USER_AGENT = f"twisted-pypi/{__version__}"


class UpstreamError(UpstreamUnavailable):
    """
    The upstream could not give an answer: a connection failure, an unexpected
    status, a body that was cut short or too large.
    """


class UpstreamTimeout(UpstreamError, UpstreamTimedOut):
    """
    The upstream did not answer, or stopped sending, within the time allowed.
    """


class PageClient(TypingProtocol):
    """
    The part of ``treq.client.HTTPClient`` this module uses.
    """

    def get(
        self,
        url: str,
        /,
        *,
        headers: dict[bytes | str, bytes | str],
        unbuffered: bool,
        timeout: float,
        reactor: Any,
        auth: tuple[str, str] | None = None,
    ) -> Deferred[Any]:
        """
        Issue a GET request; see ``treq.client.HTTPClient.get``.
        """


@frozen
class PageResponse:
    """
    An upstream's answer to a page request.

    :ivar status: The HTTP status code.
    :ivar url: The URL that answered, after any redirects; relative links
        resolve against it.
    :ivar body: The (decoded) body; empty unless ``status`` is 200.
    :ivar content_type: The ``Content-Type`` header, or ``None``.
    :ivar etag: The ``ETag`` header, or ``None``.
    :ivar serial: The ``X-PyPI-Last-Serial`` header, or ``None``.
    """

    status: int
    url: str
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    serial: str | None = None


class _BodyCollector(Protocol):
    """
    Collects a response body up to a size cap, giving up when the body stays
    silent for longer than the idle timeout.
    """

    def __init__(
        self, done: Deferred[bytes], clock: IReactorTime, limit: int, idle: float
    ) -> None:
        self._done = done
        self._clock = clock
        self._limit = limit
        self._idle = idle
        self._chunks: list[bytes] = []
        self._length = 0
        self._timer: IDelayedCall | None = clock.callLater(idle, self._stalled)
        self._failure: Failure | None = None

    def _stalled(self) -> None:
        self._timer = None
        self._stop(UpstreamTimeout(f"the body stalled for {self._idle:g} s"))

    def _stop(self, error: UpstreamError) -> None:
        self._failure = Failure(error)
        if self.transport is not None:
            self.transport.stopProducing()  # type: ignore[attr-defined]

    def dataReceived(self, data: bytes) -> None:
        if self._failure is not None:
            return
        self._length += len(data)
        if self._length > self._limit:
            self._stop(UpstreamError(f"the page is larger than {self._limit} bytes"))
            return
        self._chunks.append(data)
        if self._timer is not None:
            self._timer.reset(self._idle)

    def connectionLost(self, reason: Failure = _DONE) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._failure is not None:
            self._done.errback(self._failure)
        elif reason.check(ResponseDone, PotentialDataLoss):
            self._done.callback(b"".join(self._chunks))
        else:
            self._done.errback(
                UpstreamError(f"the body was cut short: {describe_error(reason.value)}")
            )


def read_body(
    response: Any, clock: IReactorTime, limit: int, idle: float
) -> Deferred[bytes]:
    """
    Read a whole response body, within a size cap and an idle timeout.

    :param response: An ``IResponse`` (or treq's wrapper of one).
    :param clock: Drives the idle timeout.
    :param limit: The most bytes accepted.
    :param idle: Seconds the body may stay silent.
    :return: A Deferred that fires with the body, or fails with
        :class:`UpstreamError` (or :class:`UpstreamTimeout`).
    """
    done: Deferred[bytes] = Deferred()
    response.deliverBody(_BodyCollector(done, clock, limit, idle))
    return done


async def fetch_page(
    client: PageClient,
    clock: IReactorTime,
    url: str,
    *,
    etag: str | None = None,
    auth: tuple[str, str] | None = None,
    accept: str = PAGE_ACCEPT,
    limit: int,
    connect_timeout: float,
    idle_timeout: float,
) -> PageResponse:
    """
    GET an index page, asking for JSON first.

    :param client: The HTTP client.
    :param clock: Drives the timeouts.
    :param url: The page URL.
    :param etag: The ``ETag`` of a cached copy; sent as ``If-None-Match``.
    :param auth: ``(user, password)`` for HTTP basic auth, or ``None``.
    :param accept: The ``Accept`` header; JSON first, then HTML, by default.
    :param limit: The largest body accepted.
    :param connect_timeout: Seconds allowed until the response headers.
    :param idle_timeout: Seconds the body may stay silent.
    :return: The response; any status is returned, only transport problems and
        bodies of a 200 that cannot be read raise.
    :raises UpstreamError: When no complete answer arrived.
    """
    headers: dict[bytes | str, bytes | str] = {
        "Accept": accept,
        "User-Agent": USER_AGENT,
    }
    if etag is not None:
        headers["If-None-Match"] = etag
    try:
        response = await client.get(
            url,
            headers=headers,
            unbuffered=True,
            timeout=connect_timeout,
            reactor=clock,
            auth=auth,
        )
    except Exception as e:
        # The timeout cancels the request: treq's Agent reports that as a
        # ResponseNeverReceived wrapping the CancelledError once connected.
        if isinstance(e, CancelledError) or _cancelled(e):
            raise UpstreamTimeout(
                redact(f"no answer from {url} within {connect_timeout:g} s")
            ) from None
        raise UpstreamError(redact(f"{url}: {describe_error(e)}")) from e
    final_url = _final_url(response, url)
    status = int(response.code)
    if status != 200:
        response.deliverBody(_Discard())
        return PageResponse(
            status=status, url=final_url, etag=_header(response, b"etag")
        )
    try:
        body = await read_body(response, clock, limit, idle_timeout)
    except UpstreamError as e:
        raise type(e)(redact(f"{url}: {e}")) from None
    return PageResponse(
        status=status,
        url=final_url,
        body=body,
        content_type=_header(response, b"content-type"),
        etag=_header(response, b"etag"),
        serial=_header(response, b"x-pypi-last-serial"),
    )


def _header(response: Any, name: bytes) -> str | None:
    values = response.headers.getRawHeaders(name)
    if not values:
        return None
    return str(values[-1].decode("latin-1"))


def _final_url(response: Any, default: str) -> str:
    request = getattr(response, "request", None)
    uri = getattr(request, "absoluteURI", None)
    if isinstance(uri, bytes):
        return uri.decode("ascii", "replace")
    return default


class _Discard(Protocol):
    """
    Reads and drops an error page, so that a small one leaves the connection
    reusable and a large one is cut off.
    """

    _left = 1 << 20

    def dataReceived(self, data: bytes) -> None:
        self._left -= len(data)
        if self._left < 0 and self.transport is not None:
            self.transport.stopProducing()  # type: ignore[attr-defined]
            self._left = 1 << 62

    def connectionLost(self, reason: Failure = _DONE) -> None:
        pass


def _cancelled(error: BaseException) -> bool:
    """
    Whether ``error`` wraps a ``CancelledError`` (as Twisted's
    ``ResponseNeverReceived`` does when a request is cancelled).
    """
    reasons = getattr(error, "reasons", None) or []
    return any(isinstance(r, Failure) and r.check(CancelledError) for r in reasons)
