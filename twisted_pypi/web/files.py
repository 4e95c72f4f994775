"""
The ``/files/`` part of the resource tree: package files and their
``.metadata``, from the cache, from a download in flight, or by starting one.

The proxy only fetches URLs that an upstream page listed: the path names a
file by its upstream location, and the project's page must list exactly that
file before anything is downloaded.  The project is the one the path names
(``~<project>``, for a file whose name does not say it) or else the one the
filename names (see :func:`twisted_pypi.core.links.split_listed`); the file
is then what that page says it is, whatever its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import NOT_FOUND, OK, SERVICE_UNAVAILABLE
from twisted.web.iweb import UNKNOWN_LENGTH, IResponse
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.core.links import METADATA, redact, split_listed
from twisted_pypi.core.lookup import LookupFailed
from twisted_pypi.core.names import is_safe_segment
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads, FileSpec
from twisted_pypi.files.metadata import UPSTREAM, MetadataFiles, synthesizes
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.storage.interfaces import IFileStore, StoreUnreachable
from twisted_pypi.upstream.client import UpstreamError
from twisted_pypi.upstream.describe import describe_error
from twisted_pypi.web.errors import send_failure
from twisted_pypi.web.fileheaders import IMMUTABLE, content_type
from twisted_pypi.web.fileserve import serve_cached
from twisted_pypi.web.following import serve_download
from twisted_pypi.web.metafiles import answer_metadata
from twisted_pypi.web.policygate import FileGuard, let_through
from twisted_pypi.web.rangedfiles import RangedFiles, asked_range, honours_ranges
from twisted_pypi.web.respond import error_page, when_done

__all__ = [
    "FilesResource",
]

log = Logger()

#: What a 404 says when the index does not list the file.
_NOT_LISTED = "No such file on the index."


class _Answered(Exception):
    """
    The request was answered (with an error page) while looking for its file.
    """


class FilesResource(Resource):
    """
    ``/files/<index>/<scheme>/<host>/<upstream path>`` and the same with
    ``.metadata`` appended, or with ``~<project>`` after the index.
    """

    isLeaf = True

    def __init__(
        self,
        pages: Mapping[str, PageCache],
        cache: IFileStore,
        downloads: Downloads,
        fetch: Callable[..., Deferred[IResponse]],
        offline: bool = False,
        metadata: MetadataFiles | None = None,
        stats: Stats | None = None,
        guard: FileGuard | None = None,
    ) -> None:
        """
        :param pages: The page cache of each index, by index name.
        :param cache: The file store.
        :param downloads: The downloads in flight.
        :param fetch: Issues upstream file requests: ``fetch(url, method,
            extra)``.
        :param offline: Serve cached files only: anything else is 404.
        :param metadata: Makes the ``.metadata`` of wheels whose index
            offers none, and counts what is served; without it they are 404.
        :param stats: Where ranges of files not cached, and files refused
            for a quarantine, are counted.
        :param guard: The supply-chain policy, asked before anything is
            served (cached or not), if one is active.
        """
        super().__init__()
        self._pages = pages
        self._cache = cache
        self._downloads = downloads
        self._fetch = fetch
        self._offline = offline
        self._metadata = metadata
        self._ranges = RangedFiles(downloads, fetch, stats)
        self._stats = stats
        self._guard = guard

    def render_GET(self, request: Request) -> bytes | int:
        linked = _segments(request.postpath or [])
        if linked is None or linked[0] not in self._pages:
            return error_page(request, NOT_FOUND, "No such file.")
        segments, project = split_listed(linked)
        if len(segments) < 4:
            return error_page(request, NOT_FOUND, "No such file.")
        request.setHeader(b"x-pypi-index", segments[0].encode())
        work = Deferred.fromCoroutine(self._guarded(request, segments, project))
        when_done(request, work, "file")
        return NOT_DONE_YET

    async def _guarded(
        self, request: Request, segments: tuple[str, ...], project: str | None
    ) -> None:
        """
        Answer unless the file is refused: its project is quarantined
        upstream (asked first: a set lookup once the status is known), or
        the policy holds it back.
        """
        refused = await self._pages[segments[0]].refusal(segments, project)
        if refused is not None:
            record = self._stats.policy if self._stats is not None else None
            let_through(request, refused, record, segments[0], segments[-1])
            return
        if self._guard is None or await self._guard.remote(request, segments, project):
            await self._answer(request, segments, project)

    async def _answer(
        self,
        request: Request,
        segments: tuple[str, ...],
        project: str | None,
        again: bool = True,
    ) -> None:
        """
        Serve the file from the store if it has it (the local store answers
        at once; a shared one may ask the bucket), else from a download.

        :param again: Whether to answer once more, as not cached, if the
            file turns out to be gone from a shared store before any byte
            was sent (another node deleted it).
        """
        unreachable: StoreUnreachable | None = None
        try:
            stat = await self._cache.find(segments)
        except StoreUnreachable as e:
            stat, unreachable = None, e
        if stat is not None:
            request.setHeader(b"x-cache", b"HIT")
            if self._metadata is not None and segments[-1].endswith(METADATA):
                self._metadata.served_cached(segments, project)
            gone = (
                (lambda: self._answer_again(request, segments, project))
                if again
                else None
            )
            page = serve_cached(request, self._cache, segments, gone)
            if isinstance(page, bytes):
                request.write(page)
                request.finish()
            return
        request.setHeader(b"x-cache", b"MISS")
        if self._offline:
            error_page(request, NOT_FOUND, "Not cached (offline).", finish=True)
            return
        download = self._downloads.get(segments)
        if download is not None and request.method != b"HEAD":
            asked = asked_range(request, segments)
            try:
                if asked is not None:
                    await self._ranges.from_download(request, download, asked)
                else:
                    await serve_download(request, download)
            except UpstreamError as e:
                _upstream_failed(Failure(e), request)
            return
        if unreachable is not None:
            detail = f"The file store cannot be reached: {unreachable}"
            error_page(request, SERVICE_UNAVAILABLE, detail, finish=True)
            return
        await self._miss(request, segments, project)

    def _answer_again(
        self, request: Request, segments: tuple[str, ...], project: str | None
    ) -> None:
        """The file was gone from the store: answer as if not cached."""
        work = Deferred.fromCoroutine(self._answer(request, segments, project, False))
        when_done(request, work, "file")

    async def _miss(
        self, request: Request, segments: tuple[str, ...], project: str | None
    ) -> None:
        try:
            spec = await self._spec(request, segments, project)
        except _Answered:
            return
        if request.method == b"HEAD":
            await self._head(request, spec)
            return
        asked = asked_range(request, segments)
        try:
            if asked is not None:  # passed to the upstream: no download
                await self._ranges.from_upstream(request, spec, asked)
            else:
                await serve_download(request, self._downloads.start_or_join(spec))
        except UpstreamError as e:
            _upstream_failed(Failure(e), request)

    async def _spec(
        self, request: Request, segments: tuple[str, ...], project: str | None
    ) -> FileSpec:
        """
        What ``project``'s page says about the file at ``segments``.

        :raises _Answered: When the file is not listed (404) or its page
            could not be had (502 or 504); the error page was sent.
        """
        is_metadata = segments[-1].endswith(METADATA)  # never a listed file's
        base = segments
        if is_metadata:
            base = (*segments[:-1], segments[-1][: -len(METADATA)])
        pages = self._pages[segments[0]]
        if project is None:
            raise self._not_found(request)
        entry = await pages.cached_project(project)
        listed = entry.file_at(base) if entry is not None else None
        if listed is None:
            try:
                lookup = await pages.get_project(project)
            except LookupFailed as e:
                send_failure(request, e, missing=_NOT_LISTED)
                raise _Answered() from None
            listed = (await lookup.entry.loaded()).file_at(base)
        if listed is None:
            raise self._not_found(request)
        if not is_metadata:
            return FileSpec.of_file(listed, base)
        if self._metadata is not None and synthesizes(listed):
            await answer_metadata(
                request, self._metadata, self._cache, listed, base, project
            )
            raise _Answered()
        if not listed.upstream_metadata:
            raise self._not_found(request)
        if self._metadata is not None:
            self._metadata.served(UPSTREAM)
        return FileSpec.of_metadata(listed, base)

    def _not_found(self, request: Request) -> _Answered:
        """
        Answer 404: the index does not list the file.

        :return: The exception to raise, the request being answered.
        """
        error_page(request, NOT_FOUND, _NOT_LISTED, finish=True)
        return _Answered()

    async def _head(self, request: Request, spec: FileSpec) -> None:
        """
        Answer a ``HEAD`` without downloading the file: the length comes from
        the index, or from an upstream ``HEAD`` when the index gave none.
        """
        length = spec.size
        if length is None:
            try:
                response = await self._fetch(spec.fetch_url, b"HEAD")
            except Exception as e:
                _upstream_failed(
                    Failure(UpstreamError(redact(describe_error(e)))), request
                )
                return
            if response.code != 200:
                _upstream_failed(
                    Failure(UpstreamError(f"upstream answered {response.code}")),
                    request,
                )
                return
            if response.length is not UNKNOWN_LENGTH:
                length = int(response.length)
        request.setResponseCode(OK)
        request.setHeader(b"content-type", content_type(spec.segments[-1]))
        request.setHeader(b"cache-control", IMMUTABLE)
        if length is not None:
            request.setHeader(b"content-length", str(length).encode())
        if honours_ranges(spec.segments, length):
            request.setHeader(b"accept-ranges", b"bytes")
        request.finish()


def _upstream_failed(failure: Failure, request: Request) -> None:
    """
    Answer a request whose download failed before any header was sent.
    """
    failure.trap(UpstreamError)
    assert isinstance(failure.value, UpstreamError)
    send_failure(request, failure.value)


def _segments(postpath: list[bytes]) -> tuple[str, ...] | None:
    """
    The request path below ``/files/`` as checked segments, or ``None``.
    """
    if len(postpath) < 4:
        return None
    try:
        segments = tuple(s.decode("utf-8") for s in postpath)
    except UnicodeDecodeError:
        return None
    if not all(is_safe_segment(s) for s in segments):
        return None
    return segments
