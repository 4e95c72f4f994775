# -*- test-case-name: tests.web.test_passthrough -*-
"""
A ``Range`` request for a file that is neither cached nor being downloaded,
passed to the upstream as a range, so that nothing is downloaded whole: a
client reading a wheel's zip directory must not make the proxy fetch the
wheel.  The caller (:mod:`~twisted_pypi.web.rangedfiles`) decides when.

- The range goes upstream as ``Range: bytes=first-last`` (resolved against
  the index's size by the caller when it gave one), ``bytes=first-`` or
  ``bytes=-length``; no other header of the client's.
- A ``206`` is streamed to the client with exactly the bytes asked for:
  ``Content-Range``, ``Content-Length``, the file's ``Content-Type``,
  ``Accept-Ranges: bytes``.  Its ``Content-Range`` must be exactly the range
  asked for, in a file of the index's size if it gave one, and agree with
  its ``Content-Length``; else the answer is a 502.
- A ``416`` is passed on as a 416.
- A ``200`` (the upstream ignores ranges) is handed back, its body unread,
  for the caller to make it the file's download.
- Any other status is a 502 (a 504 for a timeout), as for a download.
- The body is relayed with backpressure: the upstream connection is paused
  while the client's is full, and closed if the client leaves.  An upstream
  silent for the idle timeout (while the client is not the one pausing it),
  or a body that ends short or runs long, aborts the client's connection, so
  that a partial body cannot look whole.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IProducer,
    IPushProducer,
    IReactorTime,
)
from twisted.logger import Logger
from twisted.web.http import OK, PARTIAL_CONTENT, REQUESTED_RANGE_NOT_SATISFIABLE
from twisted.web.server import Request
from zope.interface import implementer

from twisted_pypi.files.spec import FileSpec, response_problem, source_of
from twisted_pypi.upstream.client import UpstreamError
from twisted_pypi.upstream.stream import StreamingFetch, StreamingResponse
from twisted_pypi.web.fileheaders import IMMUTABLE, content_type
from twisted_pypi.web.ranges import (
    ContentRange,
    Spec,
    parse_content_range,
    range_header,
)
from twisted_pypi.web.respond import abort

__all__ = ["pass_range", "unsatisfiable"]

_log = Logger()


async def pass_range(
    request: Request,
    fetch: StreamingFetch,
    spec: FileSpec,
    asked: Spec,
    clock: IReactorTime,
    idle_timeout: float,
) -> StreamingResponse | None:
    """
    Ask the upstream for one range of a file and answer ``request`` with it.

    :param request: A ``GET`` nothing was written to.
    :param fetch: Issues upstream requests with more headers.
    :param spec: The file, as its index lists it.
    :param asked: The range; resolved to ``(first, last)`` when the index
        gave the file's size.
    :param clock: Runs the idle timer.
    :param idle_timeout: Seconds the upstream may stay silent while the
        client waits for bytes.
    :return: ``None`` once the request was answered; the upstream's
        ``200`` if it ignored the range (nothing was written to the client).
    :raise UpstreamError: If the upstream could not be asked, or its answer
        is not the range asked for (nothing was written to the client).
    """
    response = await fetch(spec.fetch_url, {b"range": range_header(asked)})
    if response.code == OK:
        return response
    if response.code == REQUESTED_RANGE_NOT_SATISFIABLE:
        response.discard()
        given = parse_content_range(response.header(b"content-range"))
        unsatisfiable(request, given.size if given is not None else None)
        return None
    problem = _problem(spec, asked, response)
    if problem is not None:
        response.discard()
        raise UpstreamError(problem)
    sent = parse_content_range(response.header(b"content-range"))
    assert sent is not None and sent.first is not None and sent.last is not None
    size = sent.size if sent.size is not None else spec.size
    length = sent.last - sent.first + 1
    request.setResponseCode(PARTIAL_CONTENT)
    request.setHeader(b"content-length", b"%d" % length)
    request.setHeader(
        b"content-range",
        b"bytes %d-%d/%s"
        % (sent.first, sent.last, b"*" if size is None else b"%d" % size),
    )
    _file_headers(request, spec)
    relay = _Relay(request, length, clock, idle_timeout)
    try:
        await relay.run(response)
    except CancelledError:
        if relay.why is None:
            raise  # the client left
        why = relay.why
    except UpstreamError as e:
        why = str(e)
    else:
        request.unregisterProducer()
        request.finish()
        return None
    finally:
        relay.stop_timer()
    name, host = source_of(spec.url)
    wanted = range_header(asked).decode("ascii")
    _log.warn(
        "Range {range} of {file} from {host} failed: {why}",
        range=wanted, file=name, host=host, why=why,
    )  # fmt: skip
    request.unregisterProducer()
    abort(request)
    return None


def unsatisfiable(request: Request, size: int | None) -> None:
    """
    Answer 416: the range does not overlap the file.

    :param request: A request nothing was written to.
    :param size: The file's size, if known (``Content-Range: bytes */size``).
    """
    request.setResponseCode(REQUESTED_RANGE_NOT_SATISFIABLE)
    request.setHeader(b"content-length", b"0")
    if size is not None:
        request.setHeader(b"content-range", b"bytes */%d" % size)
    request.setHeader(b"accept-ranges", b"bytes")
    request.write(b"")
    request.finish()


def _file_headers(request: Request, spec: FileSpec) -> None:
    """
    The headers of a range of a file: its type, immutable caching,
    ``Accept-Ranges``, never a ``Content-Encoding``.
    """
    request.setHeader(b"content-type", content_type(spec.segments[-1]))
    request.setHeader(b"cache-control", IMMUTABLE)
    request.setHeader(b"accept-ranges", b"bytes")
    request.responseHeaders.removeHeader(b"content-encoding")


def _problem(spec: FileSpec, asked: Spec, response: StreamingResponse) -> str | None:
    """
    Why an upstream's answer to a range request is not that range, or
    ``None`` when its body is exactly the bytes asked for.
    """
    if response.code != PARTIAL_CONTENT:
        error = response_problem(spec, response.code, None)
        return str(error) if error is not None else "unexpected status"
    sent = parse_content_range(response.header(b"content-range"))
    wanted = range_header(asked).decode("ascii")
    if sent is None or not sent.answers(asked):
        return f"the upstream answered {_words(sent)} to {wanted}"
    if spec.size is not None and sent.size not in (None, spec.size):
        return (
            f"the upstream's file is {sent.size:,} bytes, not the index's {spec.size:,}"
        )
    assert sent.first is not None and sent.last is not None
    length = sent.last - sent.first + 1
    if response.length is not None and response.length != length:
        return (
            f"the upstream's Content-Length ({response.length:,}) is not the"
            f" {length:,} bytes of its Content-Range"
        )
    return None


def _words(sent: ContentRange | None) -> str:
    """What a ``Content-Range`` says, for a message."""
    if sent is None:
        return "no valid Content-Range"
    size = "*" if sent.size is None else str(sent.size)
    return f"bytes {sent.first}-{sent.last}/{size}"


@implementer(IConsumer, IPushProducer)
class _Relay:
    """
    An upstream body relayed to a request: the consumer of the body (the
    upstream connection its producer) and the request's push producer,
    passing the client's pauses on to the upstream.

    :ivar sent: The bytes relayed so far.
    :ivar why: Why the relay was stopped (a silent upstream, a body too
        long), if it was.
    """

    def __init__(
        self, request: Request, length: int, clock: IReactorTime, idle_timeout: float
    ) -> None:
        """
        :param request: Where the bytes go; its headers are set.
        :param length: The bytes the body must have.
        :param clock: Runs the idle timer.
        :param idle_timeout: Seconds the upstream may stay silent.
        """
        self._request = request
        self._length = length
        self._clock = clock
        self._idle_timeout = idle_timeout
        self._upstream: IPushProducer | None = None
        self._paused = False
        self._timer: IDelayedCall | None = None
        self._body: Deferred[None] | None = None
        self.sent = 0
        self.why: str | None = None

    async def run(self, response: StreamingResponse) -> None:
        """
        Relay the body.

        :raise UpstreamError: If it was cut short.
        :raise CancelledError: If it was stopped: by the client leaving, or
            for :attr:`why`.
        """
        self._request.registerProducer(self, True)
        self._timer = self._clock.callLater(self._idle_timeout, self._stalled)
        self._body = response.stream_to(self)
        await self._body
        if self.sent != self._length:
            raise UpstreamError(
                f"the upstream sent {self.sent:,} of {self._length:,} bytes"
            )

    def stop_timer(self) -> None:
        """The relay ended: no more idle timer."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _stop(self, why: str) -> None:
        """Stop relaying: close the upstream connection."""
        self.why = why
        if self._body is not None and not self._body.called:
            self._body.cancel()

    def _stalled(self) -> None:
        """The idle timer ran out."""
        self._timer = None
        self._stop(f"the upstream sent nothing for {self._idle_timeout:g} s")

    # IConsumer, for the upstream body.

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """:param producer: The upstream connection."""
        self._upstream = IPushProducer(producer)
        if self._paused:
            self._upstream.pauseProducing()

    def unregisterProducer(self) -> None:
        """The body ended."""
        self._upstream = None

    def write(self, data: bytes) -> None:
        """:param data: Body bytes, for the client."""
        if self.why is not None:
            return
        self.sent += len(data)
        if self.sent > self._length:
            self._stop(f"the upstream sent more than the {self._length:,} bytes")
            return
        self._request.write(data)
        if self._timer is not None:
            self._timer.reset(self._idle_timeout)

    # IPushProducer, for the request.

    def pauseProducing(self) -> None:
        """The client's connection is full: pause the upstream."""
        self._paused = True
        if self._upstream is not None:
            self._upstream.pauseProducing()
        self.stop_timer()

    def resumeProducing(self) -> None:
        """The client's connection has room: resume the upstream."""
        self._paused = False
        if self._upstream is not None:
            self._upstream.resumeProducing()
        if self._timer is None and self._body is not None and not self._body.called:
            self._timer = self._clock.callLater(self._idle_timeout, self._stalled)

    def stopProducing(self) -> None:
        """The client left: close the upstream connection."""
        if self._body is not None and not self._body.called:
            self._body.cancel()
