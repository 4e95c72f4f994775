# -*- test-case-name: tests.files.test_download -*-
"""
Serving a file while it is downloaded: the request is attached to the
download as a follower's sink (:class:`RequestSink`), and the headers are
set when the body starts.  The resource layer calls::

    d = serve_download(request, downloads.start_or_join(spec))
    d.addErrback(answer_502_or_504, request)  # only if no header was sent
    return NOT_DONE_YET
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IProducer
from twisted.web.server import Request
from zope.interface import implementer

from twisted_pypi.files.download import Download
from twisted_pypi.files.interfaces import IFollowerSink
from twisted_pypi.web.fileheaders import IMMUTABLE, content_type
from twisted_pypi.web.respond import abort

__all__ = ["RequestSink", "serve_download"]


def serve_download(request: Request, download: Download) -> Deferred[None]:
    """
    Stream a file being downloaded to a ``GET``: 200 from the first byte
    whatever ``Range`` says, no ``Accept-Ranges``, ``Content-Length`` when
    known.  Headers go out when the upstream's 200 headers arrive (at once
    if they have).  If the download fails after that, the connection is
    aborted; a client that leaves just detaches (the download goes on).

    :param request: A ``GET``; the caller may have set headers (such as
        ``X-Cache``) but not written anything.
    :param download: The download.
    :return: See :meth:`~twisted_pypi.files.download.Download.follow`: on a
        failure before any header was sent the caller answers (504 for
        :class:`~twisted_pypi.upstream.client.UpstreamTimeout`, 502 for
        other :class:`~twisted_pypi.upstream.client.UpstreamError`, else
        500).
    :raise ValueError: For ``HEAD``: answer it without downloading.
    """
    if request.method == b"HEAD":
        raise ValueError("HEAD is not served by a download")
    kind = content_type(download.spec.segments[-1])
    return download.follow(RequestSink(request, kind))


@implementer(IFollowerSink)
class RequestSink:
    """
    A request as the sink of a follower: the body's headers when it starts,
    its bytes, its end, or an aborted connection.
    """

    def __init__(self, request: Request, kind: bytes) -> None:
        """
        :param request: The request.
        :param kind: The file's ``Content-Type``.
        """
        self._request = request
        self._kind = kind

    def start(self, length: int | None) -> None:
        """
        Send the headers: 200, the length if known (else the body is
        chunked), the type, immutable caching, and neither
        ``Accept-Ranges`` nor ``Content-Encoding``.
        """
        request = self._request
        request.setResponseCode(200)
        if length is not None:
            request.setHeader(b"content-length", b"%d" % (length,))
        request.setHeader(b"content-type", self._kind)
        request.setHeader(b"cache-control", IMMUTABLE)
        request.responseHeaders.removeHeader(b"accept-ranges")
        request.responseHeaders.removeHeader(b"content-encoding")
        request.write(b"")

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """Let the connection pause the follower."""
        self._request.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        """The follower is done."""
        self._request.unregisterProducer()

    def write(self, data: bytes) -> None:
        """:param data: Bytes of the file."""
        self._request.write(data)

    def finish(self) -> None:
        """The whole file was sent."""
        self._request.finish()

    def abort(self) -> None:
        """Cut the connection, unless it is gone already."""
        if getattr(self._request, "channel", None) is not None:
            self._request.unregisterProducer()
            abort(self._request)

    def when_closed(self) -> Deferred[None]:
        """
        :return: Fires when the response is finished or the client left: at
            once if that happened already (``notifyFinish`` would never fire).
        """
        if getattr(self._request, "channel", None) is None:
            return succeed(None)
        d: Deferred[Any] = self._request.notifyFinish()
        return d.addErrback(lambda _: None)
