"""
Small helpers for answering requests: error pages, redirects, content-coding
negotiation, and driving a response from a Deferred safely.
"""

from __future__ import annotations

from html import escape
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import INTERNAL_SERVER_ERROR, MOVED_PERMANENTLY, RESPONSES
from twisted.web.server import Request
from zope.interface import implementer

__all__ = [
    "SLICE",
    "abort",
    "accepts_gzip",
    "error_page",
    "location",
    "redirect",
    "send_body",
    "when_done",
]

log = Logger()


def error_page(
    request: Request, code: int, detail: str, *, finish: bool = False
) -> bytes:
    """
    Set an error status and return (or send) a short HTML page saying why.

    :param request: The request to answer.
    :param code: The HTTP status.
    :param detail: A sentence for the reader.
    :param finish: Write the page and finish the request now, instead of
        returning the body to Twisted.
    :return: The page's bytes.
    """
    phrase = RESPONSES.get(code, b"Error").decode()
    body = (
        f"<!DOCTYPE html><html><head><title>{code} {phrase}</title></head>"
        f"<body><h1>{code} {phrase}</h1><p>{escape(detail)}</p></body></html>\n"
    ).encode()
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/html; charset=utf-8")
    request.setHeader(b"content-length", str(len(body)).encode())
    request.setHeader(b"cache-control", b"no-store")
    if finish:
        if request.method != b"HEAD":
            request.write(body)
        request.finish()
    return body


def location(request: Request, base_url: str | None, path: str) -> str:
    """
    The URL of ``path`` (relative to the proxy's root) for a ``Location``
    header: under the configured base URL, or as an absolute path.

    :param request: The request being answered.
    :param base_url: The proxy's external URL, or ``None``.
    :param path: A path relative to the proxy's root, without a leading slash.
    """
    if base_url is not None:
        return base_url + path
    return "/" + path


def redirect(request: Request, url: str) -> bytes:
    """
    Answer with a permanent redirect (301) to ``url``.

    :param request: The request being answered.
    :param url: Where the resource lives.
    :return: A short body.
    """
    request.setResponseCode(MOVED_PERMANENTLY)
    request.setHeader(b"location", url.encode("utf-8"))
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return f"Moved to {url}\n".encode()


def accepts_gzip(request: Request) -> bool:
    """
    Whether the client's ``Accept-Encoding`` admits gzip.

    :param request: The client's request.
    """
    header = request.getHeader(b"accept-encoding")
    if not header:
        return False
    for item in header.split(b","):
        coding, _, params = item.strip().partition(b";")
        if coding.strip().lower() not in (b"gzip", b"x-gzip", b"*"):
            continue
        q = 1.0
        for param in params.split(b";"):
            key, _, value = param.strip().partition(b"=")
            if key.strip().lower() == b"q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        return q > 0
    return False


def when_done(request: Request, work: Deferred[Any], what: str) -> None:
    """
    Tie ``work`` (which answers ``request``) to the request's life.

    A client that goes away cancels the work. An unexpected error is logged
    and answered with a 500 when no headers were sent yet; otherwise the
    connection is aborted, so the client cannot mistake a cut-off body for a
    whole one.

    :param request: The request ``work`` answers.
    :param work: The Deferred that finishes the response.
    :param what: What is being served, for the log.
    """
    gone: list[bool] = []

    def client_gone(_: object) -> None:
        gone.append(True)
        if not work.called:
            work.cancel()

    request.notifyFinish().addErrback(client_gone)

    def failed(failure: Failure) -> None:
        if gone:
            if not failure.check(CancelledError):
                log.failure(
                    "Error serving {what} after the client left", failure, what=what
                )
            return
        log.failure(
            "Error serving {what} {path}", failure, what=what, path=request.path
        )
        if not request.startedWriting:
            error_page(
                request,
                INTERNAL_SERVER_ERROR,
                "The proxy failed; see its log.",
                finish=True,
            )
        else:
            abort(request)

    work.addErrback(failed)


def abort(request: Request) -> None:
    """
    Abort the connection of ``request`` so a partial body cannot look whole.

    :param request: The request whose connection to abort.
    """
    transport: Any = request.channel.transport if request.channel else None
    if transport is not None:
        transport.abortConnection()


#: The most bytes of a response body handed to the connection at once.
SLICE = 64 * 1024


def send_body(request: Request, body: bytes) -> None:
    """
    Write ``body`` and finish ``request``.

    A large body is written in slices while the client's connection has
    room, rather than in one write that the transport would copy whole for
    every connection.

    :param request: The request, with its headers set.
    :param body: The whole body.
    """
    if request.method == b"HEAD" or len(body) <= SLICE:
        if request.method != b"HEAD":
            request.write(body)
        request.finish()
        return
    _SlicedBody(request, memoryview(body)).start()


@implementer(IPushProducer)
class _SlicedBody:
    """
    Writes a body in slices while the connection is not paused.
    """

    def __init__(self, request: Request, body: memoryview) -> None:
        self._request: Request | None = request
        self._body = body
        self._offset = 0
        self._paused = False

    def start(self) -> None:
        """
        Register with the request and start writing.
        """
        assert self._request is not None
        self._request.registerProducer(self, True)
        self._request.notifyFinish().addErrback(lambda _: self.stopProducing())
        self._pump()

    def _pump(self) -> None:
        while self._request is not None and not self._paused:
            request = self._request
            if self._offset >= len(self._body):
                self._request = None
                request.unregisterProducer()
                request.finish()
                return
            end = self._offset + SLICE
            chunk = self._body[self._offset : end].tobytes()
            self._offset = end
            request.write(chunk)

    def pauseProducing(self) -> None:
        """
        The connection is full.
        """
        self._paused = True

    def resumeProducing(self) -> None:
        """
        The connection has room again.
        """
        self._paused = False
        self._pump()

    def stopProducing(self) -> None:
        """
        The client went away.
        """
        self._request = None
