# -*- test-case-name: tests.sources.test_offline -*-
"""
The proxy with no network (``--offline``): page sources that answer from the
cache alone (the upstream clients that fail at once are in
:mod:`twisted_pypi.upstream.offline`).

Offline, a project's page is its cached upstream page of any age (``X-Cache:
HIT`` while younger than the index TTL, ``STALE`` after), listing only the
files whose bytes are in the file cache; a file's ``core-metadata`` is kept
only when its ``.metadata`` is cached too, so installers never ask for one
that would be missing.  A project with no cached file is not found (404).
The project list names every project whose page is cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from attrs import evolve
from packaging.version import InvalidVersion, Version
from twisted.internet.defer import Deferred

from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.core.links import LinkPrefixes, local_segments, metadata_segments
from twisted_pypi.core.lookup import (
    LIST_KEY,
    CacheStatus,
    Lookup,
    PageEntry,
    ProjectNotFound,
)
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.sources.dummies import mirrored_versions
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.sources.router import PageSource, Router
from twisted_pypi.storage.filecache import FileCache

__all__ = [
    "MEMORY_PAGES",
    "OfflinePages",
    "cached_files",
    "offline_routers",
]

#: How many filtered project pages each index keeps, with their renditions.
MEMORY_PAGES = 1024


def cached_files(page: ProjectPage, index_name: str, cache: FileCache) -> ProjectPage:
    """
    ``page`` with only the files whose bytes the cache holds (a shared
    store's files too, with or without a local copy), each
    advertising core metadata only if its ``.metadata`` is cached too, and
    ``versions`` (PEP 700) cut to the versions that still have a file.

    :param page: A cached upstream page.
    :param index_name: The index the page came from (it names the files'
        places in the cache).
    :param cache: The file cache.
    """
    files: list[DistFile] = []
    for dist in page.files:
        segments = local_segments(index_name, dist.url)
        if segments is None or cache.stat(segments) is None:
            continue
        if dist.core_metadata and cache.stat(metadata_segments(segments)) is None:
            dist = evolve(dist, core_metadata=None)
        files.append(dist)
    versions = page.versions
    if versions is not None:
        kept = evolve(page, files=tuple(files), versions=None)
        present = {v.version for v in mirrored_versions(kept)}
        versions = tuple(v for v in versions if _version(v) in present)
    return evolve(page, files=tuple(files), versions=versions)


def _version(text: str) -> str | None:
    """A version as :func:`mirrored_versions` writes it, ``None`` if invalid."""
    try:
        return str(Version(text))
    except InvalidVersion:
        return None


class OfflinePages:
    """
    One remote index answered from its page cache and the file cache only:
    the router's source for that index when the proxy is offline.
    """

    def __init__(
        self,
        pages: PageCache,
        cache: FileCache,
        links: LinkPrefixes,
        only_cached_files: bool = True,
    ) -> None:
        """
        :param pages: The index's page cache; only its cached pages are read
            (its clock tells their age).
        :param cache: The file cache.
        :param links: The prefixes of the links on the pages.
        :param only_cached_files: List only cached files (for clients); when
            ``False`` pages are given whole (for "auto" dummies, which
            mirror a project's versions, not its files).
        """
        self._pages = pages
        self._cache = cache
        self._clock = pages.clock
        self._links = links
        self._only_cached = only_cached_files
        self._filtered: OrderedDict[str, tuple[PageEntry, PageEntry]] = OrderedDict()
        self._list: PageEntry | None = None

    @property
    def index(self) -> IndexConfig:
        """
        The index's name and TTL.
        """
        return self._pages.index

    def file_link(self, dist: DistFile) -> str:
        """
        The proxy URL of one of the index's files.

        :param dist: A file the index listed.
        """
        return self._pages.file_link(dist)

    def get_project(self, project: str) -> Deferred[Lookup]:
        """
        The project's cached page, never asking the upstream.

        :param project: The normalized project name.
        """
        return Deferred.fromCoroutine(self._project(project))

    def get_list(self) -> Deferred[Lookup]:
        """
        The projects whose pages are cached, never asking the upstream.
        """
        return Deferred.fromCoroutine(self._project_list())

    def _status(self, entry: PageEntry) -> CacheStatus:
        """HIT while the page is younger than the index TTL, else STALE."""
        fresh = self._clock.seconds() - entry.fetched_at < self.index.ttl
        return CacheStatus.HIT if fresh else CacheStatus.STALE

    async def _project(self, project: str) -> Lookup:
        """The cached page, filtered; fails with ProjectNotFound."""
        source = await self._pages.cached_project(project, current=True)
        if source is None or not isinstance(source.page, ProjectPage):
            raise ProjectNotFound(project)
        if not self._only_cached:
            return Lookup(source, self._status(source))
        page = cached_files(source.page, self.index.name, self._cache)
        if not page.files:
            raise ProjectNotFound(project)
        known = self._filtered.pop(project, None)
        if known is not None and known[0] is source and known[1].page == page:
            entry = known[1]
        else:
            entry = PageEntry(
                index=source.index,
                page=page,
                fetched_at=source.fetched_at,
                upstream_etag=None,
                file_link=self.file_link,
                project_link=self._links.project,
            )
        self._filtered[project] = (source, entry)
        while len(self._filtered) > MEMORY_PAGES:
            self._filtered.popitem(last=False)
        return Lookup(entry, self._status(entry))

    async def _project_list(self) -> Lookup:
        """The projects whose pages the store holds."""
        stored = await self._pages.stored_keys()
        names = tuple(key for key in stored if key != LIST_KEY)
        if self._list is None or self._list.page != ProjectList(names=names):
            self._list = PageEntry(
                index=self.index,
                page=ProjectList(names=names, api_version=(1, 1)),
                fetched_at=self._clock.seconds(),
                upstream_etag=None,
                file_link=self.file_link,
                project_link=self._links.project,
            )
        return Lookup(self._list, CacheStatus.HIT)


def offline_routers(
    config: ProxyConfig,
    pages: Sequence[PageCache],
    cache: FileCache,
    local: Sequence[PageSource] = (),
) -> tuple[Router, Callable[[str], Deferred[Lookup]]]:
    """
    What answers for projects offline: a router over the local indexes and
    the cached pages of the remote ones listing cached files only (for
    clients), and the pages "auto" dummies mirror (whole cached pages, by
    the same routing rules).

    :param config: The routes, merges and base URL.
    :param pages: The remote indexes' page caches, highest priority first.
    :param cache: The file cache.
    :param local: The local indexes, highest priority first.
    """
    listed = [OfflinePages(p, cache, config.links) for p in pages]
    whole = [OfflinePages(p, cache, config.links, False) for p in pages]
    routes, merge, links = config.routes, config.merge, config.links
    return (
        Router([*local, *listed], routes, merge, links),
        Router([*local, *whole], routes, merge, links).get_project,
    )
