"""
Choosing, for each project, the index that supplies it.

The rules guard against dependency confusion (a public project taking the
name of a private one):

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

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from twisted.internet.defer import Deferred, gatherResults
from twisted.logger import Logger

from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.lookup import CacheStatus, Lookup, PageEntry
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.names import normalize
from twisted_pypi.core.render import (
    render_list_html,
    render_list_json,
    render_project_html,
    render_project_json,
)

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
        A project's page, "not found", or an error.
        """

    def get_list(self) -> Deferred[Lookup]:
        """
        The index's project list.
        """

    def file_link(self, dist: DistFile) -> str:
        """
        The proxy URL of one of the index's files.
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
        base_url: str | None = None,
    ) -> None:
        """
        :param sources: The indexes, highest priority first.
        :param routes: Project to the name of the one index that serves it.
        :param merge: Projects merged from every index that has them.
        :param base_url: The proxy's external URL, or ``None`` for relative
            links (in the merged project list).
        """
        self._sources = list(sources)
        self._by_name = {source.index.name: source for source in sources}
        self._routes = dict(routes)
        self._merge = merge
        self._merged: dict[str, tuple[tuple[PageEntry, ...], PageEntry]] = {}
        self._lists: tuple[tuple[PageEntry, ...], PageEntry] | None = None
        self._project_prefix = base_url + "simple/" if base_url is not None else ""

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
        """
        return Deferred.fromCoroutine(self._project(project))

    async def _project(self, project: str) -> Lookup:
        routed = self._routes.get(project)
        if routed is not None:
            return await self._by_name[routed].get_project(project)
        if project in self._merge:
            return await self._merged_page(project)
        for source in self._sources:
            lookup = await source.get_project(project)
            if not lookup.not_found:
                return lookup
        return Lookup(None, not_found=True)

    async def _merged_page(self, project: str) -> Lookup:
        found: list[tuple[PageSource, Lookup]] = []
        for source in self._sources:
            lookup = await source.get_project(project)
            if lookup.entry is not None:
                found.append((source, lookup))
            elif not lookup.not_found:
                log.warn(
                    "{index} could not answer for merged {project}: {error}",
                    index=source.index.name,
                    project=project,
                    error=lookup.error,
                )
        if not found:
            return Lookup(None, not_found=True)
        if len(found) == 1:
            return found[0][1]
        entries = tuple(lookup.entry for _, lookup in found if lookup.entry)
        cached = self._merged.get(project)
        if cached is None or not _same(cached[0], entries):
            cached = (entries, _merge_entries(project, found))
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
        lookups: list[Lookup] = await gatherResults(
            [source.get_list() for source in self._sources]
        )
        entries = tuple(lookup.entry for lookup in lookups if lookup.entry is not None)
        if not entries:
            return next(
                (lookup for lookup in lookups if lookup.error is not None),
                Lookup(None, not_found=True),
            )
        if self._lists is None or not _same(self._lists[0], entries):
            self._lists = (entries, _union(entries, self._render_list))
        stale = any(lookup.status is CacheStatus.STALE for lookup in lookups)
        return Lookup(self._lists[1], CacheStatus.STALE if stale else CacheStatus.HIT)

    def _render_list(self, entry: PageEntry, as_json: bool) -> bytes:
        assert isinstance(entry.page, ProjectList)

        def link(name: str) -> str:
            return f"{self._project_prefix}{normalize(name)}/"

        if as_json:
            return render_list_json(entry.page, link)
        return render_list_html(entry.page, link)


def _same(a: tuple[PageEntry, ...], b: tuple[PageEntry, ...]) -> bool:
    """
    Whether two tuples hold the very same page entries.
    """
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _merge_entries(project: str, found: list[tuple[PageSource, Lookup]]) -> PageEntry:
    """
    One page with the files of every index, the first winning on a filename.
    """
    files: dict[str, tuple[PageSource, DistFile]] = {}
    versions: set[str] | None = set()
    for source, lookup in found:
        assert lookup.entry is not None and isinstance(lookup.entry.page, ProjectPage)
        page = lookup.entry.page
        for dist in page.files:
            files.setdefault(dist.filename, (source, dist))
        if versions is not None and page.versions is not None:
            versions.update(page.versions)
        else:
            versions = None
    api = min(
        lookup.entry.page.api_version
        for _, lookup in found
        if lookup.entry is not None and isinstance(lookup.entry.page, ProjectPage)
    )
    page = ProjectPage(
        name=project,
        files=tuple(dist for _, dist in files.values()),
        versions=tuple(sorted(versions)) if versions is not None else None,
        api_version=api,
    )
    owners = {name: source for name, (source, _) in files.items()}
    names = "+".join(source.index.name for source, _ in found)
    ttl = min(source.index.ttl for source, _ in found)

    def link(dist: DistFile) -> str:
        return owners[dist.filename].file_link(dist)

    return PageEntry(
        index=IndexConfig(names, "", ttl),
        page=page,
        fetched_at=0.0,
        upstream_etag=None,
        renderer=_renderer(link),
    )


def _renderer(link: Callable[[DistFile], str]) -> Callable[[PageEntry, bool], bytes]:
    def render(entry: PageEntry, as_json: bool) -> bytes:
        assert isinstance(entry.page, ProjectPage)
        if as_json:
            return render_project_json(entry.page, link)
        return render_project_html(entry.page, link)

    return render


def _union(
    entries: tuple[PageEntry, ...], render: Callable[[PageEntry, bool], bytes]
) -> PageEntry:
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
        renderer=render,
    )
