# -*- test-case-name: tests.core.test_lookup -*-
"""
The shared vocabulary of page lookups: what a page source answers
(:class:`Lookup`), how it relates to the cache (:class:`CacheStatus`), a cached
page (:class:`PageEntry`) and its ready representations
(:class:`~twisted_pypi.core.rendition.Rendition`),
and why a lookup failed (:class:`LookupFailed` and its kinds).

A source answers with a :class:`Lookup` or fails with a
:class:`LookupFailed`: the project does not exist there
(:class:`ProjectNotFound`), or it could not be asked
(:class:`UpstreamUnavailable`, :class:`UpstreamTimedOut` when it was too
slow).  A stale page served because the upstream failed is a lookup that
carries that failure.
"""

from __future__ import annotations

import enum
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from attrs import define, field, frozen
from twisted.internet.defer import Deferred, succeed

from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.links import local_segments
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.render import render_page
from twisted_pypi.core.rendition import Rendition, RenditionFile

__all__ = [
    "FileIndex",
    "files_by_path",
    "LIST_KEY",
    "CacheStatus",
    "Lookup",
    "LookupFailed",
    "PageEntry",
    "PageNotLoaded",
    "ProjectNotFound",
    "UpstreamTimedOut",
    "UpstreamUnavailable",
]

_T = TypeVar("_T")

#: A page's files by their proxy paths (``(index_name, scheme, host, *path)``).
FileIndex = dict[tuple[str, ...], DistFile]

#: The key under which the project list is cached (no project name has "_").
LIST_KEY = "_list"


class LookupFailed(Exception):
    """
    A page (or a JSON API document) could not be had.
    """


class ProjectNotFound(LookupFailed):
    """
    The index says there is no such project (or document).
    """


class UpstreamUnavailable(LookupFailed):
    """
    The index could not be asked, or gave no usable answer.

    :ivar reason: What went wrong, for the reader.
    """

    def __init__(self, reason: str) -> None:
        """
        :param reason: What went wrong.
        """
        super().__init__(reason)
        self.reason = reason


class UpstreamTimedOut(UpstreamUnavailable):
    """
    The index did not answer, or stopped answering, in time.
    """


class PageNotLoaded(RuntimeError):
    """
    A page kept on disk was read without being loaded first (see
    :meth:`PageEntry.loaded`).
    """


class CacheStatus(enum.Enum):
    """
    How a response relates to the cache; sent as ``X-Cache``.
    """

    HIT = "HIT"
    MISS = "MISS"
    STALE = "STALE"
    DUMMY = "DUMMY"
    LOCAL = "LOCAL"


@define
class PageEntry:
    """
    A cached page (a project's or the project list) with what it was fetched
    with, and the links its representations carry.

    A page too big for memory is kept as its rendered representations on
    disk (:meth:`on_disk`); only this light entry stays in memory, and the
    parsed page is read again, away from the reactor, by :meth:`loaded` when
    something other than the page itself is wanted (its files, say).

    :ivar index: The index the page came from.
    :ivar fetched_at: When the upstream last confirmed it, in clock seconds.
    :ivar upstream_etag: The upstream's ETag, for revalidation.
    :ivar weight: Roughly how many bytes the entry takes in memory.
    :ivar advert: What the page's advertised core metadata was built from
        (opaque here: its source compares it with what it knows now, to
        build the page again when it is out of date), or ``None``.
    :ivar index_of: For a page of several indexes (a merged one), the name
        of the index that lists a file; ``None``: :attr:`index`.
    """

    index: IndexConfig
    _page: ProjectPage | ProjectList | None
    fetched_at: float
    upstream_etag: str | None
    _file_link: Callable[[DistFile], str]
    _project_link: Callable[[str], str]
    weight: int = 0
    _renditions: dict[bool, Rendition] = field(factory=dict)
    _files: FileIndex | None = None
    _on_disk: dict[bool, RenditionFile] = field(factory=dict)
    _load: (
        Callable[[], Deferred[tuple[ProjectPage | ProjectList, FileIndex]]] | None
    ) = None
    _full: weakref.ref[PageEntry] | None = None
    _hold: Callable[[Callable[[], None]], object] | None = None
    _held: PageEntry | None = None
    advert: object = None
    index_of: Callable[[DistFile], str] | None = None

    @property
    def page(self) -> ProjectPage | ProjectList:
        """
        The parsed page.

        :raises PageNotLoaded: When the page is kept on disk and this entry
            is not :meth:`loaded`.
        """
        if self._page is None:
            raise PageNotLoaded(f"{self.index.name}: the page is not loaded")
        return self._page

    @property
    def is_loaded(self) -> bool:
        """
        Whether :attr:`page` can be read.
        """
        return self._page is not None

    def on_disk(self, as_json: bool) -> RenditionFile | None:
        """
        The representation kept on disk, if the page is.

        :param as_json: ``True`` for JSON, ``False`` for HTML.
        """
        return self._on_disk.get(as_json)

    def loaded(self) -> Deferred[PageEntry]:
        """
        This entry with its page: itself when the page is in memory, else an
        entry with the page read again (shared while anything holds it, and
        held for a while if this entry was given a ``hold``: called with a
        function that lets the page go, it calls it later).
        """
        if self._page is not None:
            return succeed(self)
        full = self._full() if self._full is not None else None
        if full is not None:
            return succeed(full)
        if self._load is None:
            raise PageNotLoaded(f"{self.index.name}: the page cannot be loaded")

        def keep(loaded: tuple[ProjectPage | ProjectList, FileIndex]) -> PageEntry:
            page, files = loaded
            full = self._copy(page, files=files, on_disk=self._on_disk)
            self._full = weakref.ref(full)
            if self._hold is not None:
                self._held = full
                self._hold(self._let_go)
            return full

        return self._load().addCallback(keep)

    def with_page(self, page: ProjectPage | ProjectList, advert: object) -> PageEntry:
        """
        A new entry of the same page in another version (its core metadata
        advertised anew, say), with the same links, age and weight, its
        files indexed (blocking, see :meth:`index_files`).

        :param page: The page.
        :param advert: See :attr:`advert`.
        """
        entry = self._copy(page, advert=advert)
        entry.index_files()
        return entry

    def _copy(self, page: ProjectPage | ProjectList, **changes: Any) -> PageEntry:
        """
        A new entry of ``page`` with this one's index, links, age, weight,
        advertisement and file origins, and ``changes``.
        """
        return PageEntry(
            index=self.index,
            page=page,
            fetched_at=self.fetched_at,
            upstream_etag=self.upstream_etag,
            file_link=self._file_link,
            project_link=self._project_link,
            weight=self.weight,
            index_of=self.index_of,
            **{"advert": self.advert, **changes},
        )

    def _let_go(self) -> None:
        """Stop holding the page read again (it goes once nothing uses it)."""
        self._held = None

    def file_index(self, dist: DistFile) -> str:
        """
        The name of the index that lists one of the page's files.

        :param dist: A file of the page.
        """
        return self.index.name if self.index_of is None else self.index_of(dist)

    def showing(
        self,
        page: ProjectPage | ProjectList,
        relink: Callable[[str], str] | None = None,
    ) -> PageEntry:
        """
        An entry like this one (index, age, links) that shows another page,
        such as this one with some files left out; its representations are
        its own.

        :param page: What it shows.
        :param relink: Rewrites each link it gives, if anything.
        """
        file_link, project_link = self._file_link, self._project_link
        if relink is not None:
            file_link = _relinked(file_link, relink)
            project_link = _relinked(project_link, relink)
        return PageEntry(
            index=self.index,
            page=page,
            fetched_at=self.fetched_at,
            upstream_etag=None,
            file_link=file_link,
            project_link=project_link,
            weight=self.weight,
            index_of=self.index_of,
        )

    def rendition(self, as_json: bool) -> Rendition:
        """
        The JSON or HTML representation, rendered on first use.

        :param as_json: ``True`` for JSON, ``False`` for HTML.
        """
        rendition = self._renditions.get(as_json)
        if rendition is None:
            body = render_page(self.page, as_json, self._file_link, self._project_link)
            rendition = Rendition.of(body)
            self._renditions[as_json] = rendition
        return rendition

    def made(self, as_json: bool, gzipped: bool) -> Rendition | None:
        """
        The representation if it is ready to send without further work
        (rendered, and compressed when ``gzipped``), else ``None``.

        :param as_json: ``True`` for JSON, ``False`` for HTML.
        :param gzipped: Whether the gzipped form is wanted.
        """
        rendition = self._renditions.get(as_json)
        if rendition is None or (gzipped and not rendition.has_gzipped):
            return None
        return rendition

    def index_files(self) -> None:
        """
        Index the page's files by their proxy paths, for :meth:`file_at`
        (blocking: tens of milliseconds for thousands of files, so the page
        cache does it in its runner when it makes the entry).
        """
        if self._files is None:
            self._files = files_by_path(self.page, self.index.name)

    def file_at(self, segments: tuple[str, ...]) -> DistFile | None:
        """
        The file this page lists at the proxy path ``segments``.

        :param segments: ``(index_name, scheme, host, *path)``.
        """
        self.index_files()
        assert self._files is not None
        return self._files.get(segments)


def _relinked(
    link: Callable[[_T], str], relink: Callable[[str], str]
) -> Callable[[_T], str]:
    """``link``, its result rewritten by ``relink``."""
    return lambda item: relink(link(item))


def files_by_path(page: ProjectPage | ProjectList, index_name: str) -> FileIndex:
    """
    A page's files by their proxy paths (blocking; the first of two listed
    at one path wins).

    :param page: A parsed page (a project list has no files).
    :param index_name: The index the page came from.
    """
    files: FileIndex = {}
    if isinstance(page, ProjectPage):
        for f in page.files:
            key = local_segments(index_name, f.url)
            if key is not None:
                files.setdefault(key, f)
    return files


@frozen
class Lookup:
    """
    A page a source answered with.

    :ivar entry: The page.
    :ivar status: How the answer relates to the cache.
    :ivar failure: Why the page is served stale, when the upstream failed.
    """

    entry: PageEntry
    status: CacheStatus = CacheStatus.MISS
    failure: UpstreamUnavailable | None = None

    def loaded(self) -> Deferred[Lookup]:
        """
        This answer with its page loaded (see :meth:`PageEntry.loaded`).
        """
        if self.entry.is_loaded:
            return succeed(self)
        return self.entry.loaded().addCallback(
            lambda entry: Lookup(entry, self.status, self.failure)
        )
