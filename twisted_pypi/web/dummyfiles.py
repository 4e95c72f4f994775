"""
``/dummy/<project>/<file>``: placeholder wheels of dummy projects, and their
``.metadata``, served from memory.
"""

from __future__ import annotations

import hashlib

from twisted.internet.defer import Deferred
from twisted.web.http import CACHED, NOT_FOUND
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.core.lookup import CacheStatus
from twisted_pypi.sources.dummies import Dummies
from twisted_pypi.web.fileheaders import IMMUTABLE, content_type
from twisted_pypi.web.respond import error_page, when_done

__all__ = [
    "DummyFilesResource",
]


class DummyFilesResource(Resource):
    """
    ``/dummy/<project>/<wheel>`` and ``/dummy/<project>/<wheel>.metadata``.
    """

    isLeaf = True

    def __init__(self, dummies: Dummies) -> None:
        """
        :param dummies: The dummy projects.
        """
        super().__init__()
        self._dummies = dummies

    def render_GET(self, request: Request) -> bytes | int:
        path = request.postpath or []
        try:
            project, filename = (segment.decode("utf-8") for segment in path)
        except (ValueError, UnicodeDecodeError):
            return error_page(request, NOT_FOUND, "No such dummy file.")
        work = Deferred.fromCoroutine(self._dummies.file(project, filename))
        work.addCallback(self._send, request, project, filename)
        when_done(request, work, "dummy")
        return NOT_DONE_YET

    def _send(
        self, content: bytes | None, request: Request, project: str, filename: str
    ) -> None:
        if content is None:
            error_page(request, NOT_FOUND, "No such dummy file.", finish=True)
            return
        request.setHeader(b"x-cache", CacheStatus.DUMMY.value.encode())
        request.setHeader(b"content-type", content_type(filename))
        request.setHeader(b"cache-control", IMMUTABLE)
        etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        if request.setETag(etag.encode()) is CACHED:
            request.finish()
            return
        request.setHeader(b"content-length", str(len(content)).encode())
        if request.method != b"HEAD":
            request.write(content)
            self._dummies.served(project, filename)
        request.finish()
