# -*- test-case-name: tests.web.test_inflight -*-
"""
The downloads in flight on this node, for the other nodes of a cluster:
``GET /-/inflight/<file key>`` (see :data:`~twisted_pypi.core.cluster.INFLIGHT`).

A node that found this node's lease on a file streams the file from here
while this node downloads it.  The request is attached as one more follower
of the :class:`~twisted_pypi.files.download.Download`, exactly like a
client's: it gets the file from byte 0, at its own pace (backpressure), the
last byte only once the file was verified, and the connection is aborted if
the download fails.  Nothing else is served here: not cached files, and no
download is started.

Answers: ``403`` unless the request carries a valid signature of its path
made with the cluster secret (:func:`~twisted_pypi.core.cluster.verify`),
``404`` when no download of that file is in flight (or it can no longer be
followed from its first byte), ``502`` if the download fails before its
body starts.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import BAD_GATEWAY, FORBIDDEN, NOT_ALLOWED, NOT_FOUND
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.core.cluster import AUTH_HEADER, verify
from twisted_pypi.core.names import is_safe_segment
from twisted_pypi.files.download import Downloads
from twisted_pypi.web.following import serve_download
from twisted_pypi.web.respond import error_page

__all__ = ["INFLIGHT_CHILD", "InflightResource"]

_log = Logger()

#: The child of ``/-/`` this resource is mounted as.
INFLIGHT_CHILD = b"inflight"


class InflightResource(Resource):
    """
    ``/-/inflight/``: this node's downloads in flight, for its peers.
    """

    isLeaf = True

    def __init__(
        self, downloads: Downloads, secret: bytes, clock: IReactorTime
    ) -> None:
        """
        :param downloads: This node's downloads in flight.
        :param secret: The cluster secret.
        :param clock: The time signatures are checked against (wall clock).
        """
        super().__init__()
        self._downloads = downloads
        self._secret = secret
        self._clock = clock

    def __repr__(self) -> str:
        """Never the secret."""
        return "<InflightResource>"

    def render_GET(self, request: Request) -> bytes | int:
        """
        Attach the request to the file's download in flight, if the
        signature is good and there is one.
        """
        if request.method != b"GET":
            request.setHeader(b"allow", b"GET")
            return error_page(request, NOT_ALLOWED, "Only GET is served here.")
        signature = request.getHeader(AUTH_HEADER)
        assert request.path is not None
        now = self._clock.seconds()
        if not verify(self._secret, b"GET", request.path, signature, now):
            _log.warn(
                "Refused a node-to-node request for {path}: "
                "missing, wrong or stale signature",
                path=request.path.decode("latin-1"),
            )
            return error_page(request, FORBIDDEN, "Not a node of this cluster.")
        segments = _segments(request.postpath or [])
        download = self._downloads.get(segments) if segments else None
        if download is None:
            return error_page(request, NOT_FOUND, "Not downloading that file.")
        request.setHeader(b"x-cache", b"INFLIGHT")
        d = serve_download(request, download)
        d.addErrback(_failed, request)
        return NOT_DONE_YET


def _failed(failure: Failure, request: Request) -> None:
    """The download failed before its body started: 502."""
    detail = f"The download failed: {failure.getErrorMessage()}"
    error_page(request, BAD_GATEWAY, detail, finish=True)


def _segments(postpath: list[bytes]) -> tuple[str, ...] | None:
    """The file key below ``/-/inflight/`` as checked segments, or ``None``."""
    try:
        segments = tuple(s.decode("utf-8") for s in postpath)
    except UnicodeDecodeError:
        return None
    if not segments or not all(is_safe_segment(s) for s in segments):
        return None
    return segments
