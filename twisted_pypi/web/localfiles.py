"""
``/local/<index>/<file>``: the files of local indexes, and their ``.metadata``.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.web.http import NOT_FOUND
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.core.links import METADATA
from twisted_pypi.core.lookup import CacheStatus
from twisted_pypi.core.names import is_safe_segment
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.web.fileheaders import IMMUTABLE, content_type
from twisted_pypi.web.fileserve import serve_file
from twisted_pypi.web.policygate import FileGuard
from twisted_pypi.web.respond import error_page, when_done

__all__ = [
    "LocalFilesResource",
]


class LocalFilesResource(Resource):
    """
    ``/local/<index>/<file>`` and ``/local/<index>/<wheel>.metadata``.
    """

    isLeaf = True

    def __init__(
        self, indexes: dict[str, LocalIndex], guard: FileGuard | None = None
    ) -> None:
        """
        :param indexes: The local indexes by name.
        :param guard: The supply-chain policy, if one is active.
        """
        super().__init__()
        self._indexes = indexes
        self._guard = guard

    def render_GET(self, request: Request) -> bytes | int:
        try:
            name, filename = (s.decode("utf-8") for s in request.postpath or [])
        except (ValueError, UnicodeDecodeError):
            return error_page(request, NOT_FOUND, "No such file.")
        index = self._indexes.get(name)
        if index is None or not is_safe_segment(filename):
            return error_page(request, NOT_FOUND, "No such file.")
        work = Deferred.fromCoroutine(self._serve(request, index, filename))
        when_done(request, work, "local file")
        return NOT_DONE_YET

    async def _serve(self, request: Request, index: LocalIndex, filename: str) -> None:
        if self._guard is not None and not await self._guard.local(
            request, index, filename
        ):
            return
        is_metadata = filename.endswith(METADATA)
        local = await index.file(
            filename[: -len(METADATA)] if is_metadata else filename
        )
        request.setHeader(b"x-cache", CacheStatus.LOCAL.value.encode())
        if local is None or (
            # Only a wheel's metadata is offered (an sdist's may be unreliable).
            is_metadata
            and (local.metadata is None or not local.filename.endswith(".whl"))
        ):
            error_page(request, NOT_FOUND, "No such file.", finish=True)
            return
        if is_metadata:
            assert local.metadata is not None
            request.setHeader(b"content-type", content_type(filename))
            request.setHeader(b"cache-control", IMMUTABLE)
            request.setHeader(b"content-length", str(len(local.metadata)).encode())
            if request.method != b"HEAD":
                request.write(local.metadata)
            request.finish()
            return
        try:
            reader = index.open(local)
        except OSError:
            error_page(request, NOT_FOUND, "No such file.", finish=True)
            return
        serve_file(request, reader, content_type(local.filename))
