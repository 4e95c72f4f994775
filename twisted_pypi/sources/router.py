# -*- test-case-name: tests.sources.test_router -*-
"""
Choosing, for each project, the source that supplies it.

A ``--dummy`` project is answered by the dummies, before any index and
whatever the rules below say (see :meth:`Router._project`, the one place
that decides).  The rules guard against dependency confusion (a public
project taking the name of a private one):

- a ``--route`` sends a project to one index only;
- otherwise the indexes are asked in priority order (local indexes first,
  then remote ones in the order given) and the first that has the project
  supplies all of its files, with no merging;
- an index that cannot answer (down, nothing cached) stops the search with an
  error rather than letting a lower-priority index answer in its place;
- only projects named with ``--merge`` get the files of every index that has
  them, the first index winning when two offer the same filename.

File links always point at the index whose page listed the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from twisted.internet.defer import Deferred, gatherResults
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.links import RELATIVE, LinkPrefixes
from twisted_pypi.core.lookup import (
    LIST_KEY,
    CacheStatus,
    Lookup,
    LookupFailed,
    PageEntry,
    ProjectNotFound,
)
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.names import normalize
from twisted_pypi.core.render import no_file_link

__all__ = ["FirstSource", "PageSource", "Router"]

log = Logger()


class PageSource(Protocol):
    """
    An index the router can ask: a remote one's page cache or a local one.
    """

    @property
    def index(self) -> IndexConfig:
        """
        The index's name and TTL.
        """

    def get_project(self, project: str) -> Deferred[Lookup]:
        """
        A project's page; fails with a
        :class:`~twisted_pypi.core.lookup.LookupFailed`.
        """

    def get_list(self) -> Deferred[Lookup]:
        """
        The index's project list.
        """

    def file_link(self, dist: DistFile) -> str:
        """
        The proxy URL of one of the index's files.
        """


class FirstSource(Protocol):
    """
    What answers before any index for the projects it offers: the dummies.
    """

    def offers(self, project: str) -> bool:
        """
        Whether it answers for ``project``.
        """

    def get_project(self, project: str) -> Deferred[Lookup]:
        """
        Its page of ``project``.
        """


class Router:
    """
    Asks the indexes for a project by the rules above.
    """

    def __init__(
        self,
        sources: Sequence[PageSource],
        routes: Mapping[str, str],
        merge: frozenset[str],
        links: LinkPrefixes = RELATIVE,
        first: FirstSource | None = None,
    ) -> None:
        """
        :param sources: The indexes, highest priority first.
        :param routes: Project to the name of the one index that serves it.
        :param merge: Projects merged from every index that has them.
        :param links: The prefixes of the links on merged pages and the
            merged project list.
        :param first: What answers before every index for the projects it
            offers (the dummies), if anything.
        """
        self._sources = list(sources)
        self._by_name = {source.index.name: source for source in sources}
        self._routes = dict(routes)
        self._merge = merge
        self._links = links
        self._first = first
        self._merged: dict[str, tuple[tuple[PageEntry, ...], PageEntry]] = {}
        self._lists: tuple[tuple[PageEntry, ...], PageEntry] | None = None

    def with_first(self, first: FirstSource) -> Router:
        """
        A router over the same indexes and rules, with ``first`` (the
        dummies) answering before them.

        :param first: What answers first for the projects it offers.
        """
        return Router(self._sources, self._routes, self._merge, self._links, first)

    @property
    def sources(self) -> Sequence[PageSource]:
        """
        The indexes, highest priority first.
        """
        return tuple(self._sources)

    def source(self, name: str) -> PageSource | None:
        """
        The index named ``name``.
        """
        return self._by_name.get(name)

    def get_project(self, project: str) -> Deferred[Lookup]:
        """
        The page that answers for ``project``.

        :param project: The normalized project name.
        :return: Fires with the page, or fails with a
            :class:`~twisted_pypi.core.lookup.LookupFailed`.
        """
        return Deferred.fromCoroutine(self._project(project))

    async def _project(self, project: str) -> Lookup:
        """
        The one place that decides who answers for a project: the first
        source (a dummy) when it offers the project; else the index it is
        routed to; else every index, merged, for a merged project; else the
        first index that has it.
        """
        if self._first is not None and self._first.offers(project):
            return await self._first.get_project(project)
        routed = self._routes.get(project)
        if routed is not None:
            return await self._by_name[routed].get_project(project)
        if project in self._merge:
            return await self._merged_page(project)
        for source in self._sources:
            try:
                return await source.get_project(project)
            except ProjectNotFound:
                continue
        raise ProjectNotFound(project)

    async def _merged_page(self, project: str) -> Lookup:
        found: list[tuple[PageSource, Lookup]] = []
        for source in self._sources:
            try:
                found.append((source, await source.get_project(project)))
            except ProjectNotFound:
                continue
            except LookupFailed as e:
                log.warn(
                    "{index} could not answer for merged {project}: {error}",
                    index=source.index.name,
                    project=project,
                    error=e,
                )
        if not found:
            raise ProjectNotFound(project)
        if len(found) == 1:
            return found[0][1]
        found = [(source, await lookup.loaded()) for source, lookup in found]
        entries = tuple(lookup.entry for _, lookup in found)
        cached = self._merged.get(project)
        if cached is None or not _same(cached[0], entries):
            cached = (entries, _merge_entries(project, found, self._links))
            self._merged[project] = cached
        stale = any(lookup.status is CacheStatus.STALE for _, lookup in found)
        return Lookup(cached[1], CacheStatus.STALE if stale else CacheStatus.HIT)

    def get_list(self) -> Deferred[Lookup]:
        """
        The union of every index's project list; an index that cannot answer
        is left out, unless none can.
        """
        return Deferred.fromCoroutine(self._list())

    async def _list(self) -> Lookup:
        if len(self._sources) == 1:
            return await self._sources[0].get_list()
        answers: list[Lookup | LookupFailed] = await gatherResults(
            [source.get_list().addErrback(_failure) for source in self._sources]
        )
        lookups = [answer for answer in answers if isinstance(answer, Lookup)]
        if not lookups:
            raise next(
                (
                    answer
                    for answer in answers
                    if not isinstance(answer, (Lookup, ProjectNotFound))
                ),
                ProjectNotFound(LIST_KEY),
            )
        lookups = [await lookup.loaded() for lookup in lookups]
        entries = tuple(lookup.entry for lookup in lookups)
        if self._lists is None or not _same(self._lists[0], entries):
            self._lists = (entries, _union(entries, self._links))
        stale = any(lookup.status is CacheStatus.STALE for lookup in lookups)
        return Lookup(self._lists[1], CacheStatus.STALE if stale else CacheStatus.HIT)


def _failure(failure: Failure) -> LookupFailed:
    """
    The failure of a lookup, as a result (other failures pass on).
    """
    failure.trap(LookupFailed)
    assert isinstance(failure.value, LookupFailed)
    return failure.value


def _same(a: tuple[PageEntry, ...], b: tuple[PageEntry, ...]) -> bool:
    """
    Whether two tuples hold the very same page entries.
    """
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _merge_entries(
    project: str, found: list[tuple[PageSource, Lookup]], links: LinkPrefixes
) -> PageEntry:
    """
    One page with the files of every index, the first winning on a filename.
    """
    files: dict[str, tuple[PageSource, DistFile]] = {}
    versions: set[str] | None = set()
    pages: list[ProjectPage] = []
    for source, lookup in found:
        page = lookup.entry.page
        assert isinstance(page, ProjectPage)
        pages.append(page)
        for dist in page.files:
            files.setdefault(dist.filename, (source, dist))
        if versions is not None and page.versions is not None:
            versions.update(page.versions)
        else:
            versions = None
    merged = ProjectPage(
        name=project,
        files=tuple(dist for _, dist in files.values()),
        versions=tuple(sorted(versions)) if versions is not None else None,
        api_version=min(page.api_version for page in pages),
    )
    owners = {name: source for name, (source, _) in files.items()}
    names = "+".join(source.index.name for source, _ in found)
    ttl = min(source.index.ttl for source, _ in found)

    def link(dist: DistFile) -> str:
        return owners[dist.filename].file_link(dist)

    return PageEntry(
        index=IndexConfig(names, "", ttl),
        page=merged,
        fetched_at=0.0,
        upstream_etag=None,
        file_link=link,
        project_link=links.project,
        index_of=lambda dist: owners[dist.filename].index.name,
    )


def _union(entries: tuple[PageEntry, ...], links: LinkPrefixes) -> PageEntry:
    """
    One project list naming every project of every list once.
    """
    names: dict[str, str] = {}
    first = entries[0]
    for entry in entries:
        assert isinstance(entry.page, ProjectList)
        for name in entry.page.names:
            names.setdefault(normalize(name), name)
    page = ProjectList(names=tuple(names.values()))
    return PageEntry(
        index=IndexConfig("+".join(e.index.name for e in entries), "", first.index.ttl),
        page=page,
        fetched_at=0.0,
        upstream_etag=None,
        file_link=no_file_link,
        project_link=links.project,
    )
