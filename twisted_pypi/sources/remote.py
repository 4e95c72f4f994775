"""
The cache of index pages: the project list and one page per project, kept in
memory and on disk, fresh for the index's TTL, revalidated with
``If-None-Match``, and served stale when the upstream fails or is slow.

Each page is parsed once per upstream change and each of its representations
(HTML, JSON, plain or gzipped) rendered once, on first use; requests are then
answered with ready bytes.  A page too big for memory (over a quarter of the
memory budget, :data:`SPILL_BYTES`) has its four representations rendered at
once and kept on disk beside its record; only a light entry stays in memory,
requests for the page are sent from those files, and the page is parsed
again (away from the reactor) only when its files are asked for.

Files listed without an upload time are given the time the cache first saw
them (see :mod:`~twisted_pypi.sources.firstseen`), and the cached files of
a project the upstream quarantines are refused from the moment its page
says so (see :mod:`~twisted_pypi.sources.quarantine` and :meth:`PageCache.refusal`);
what the cache notes of each page it makes is kept by
:class:`~twisted_pypi.sources.pagenotes.PageNotes`.

Pages advertise the core metadata the proxy makes for wheels whose index
offers none (see :mod:`~twisted_pypi.sources.metaadvert`); a page whose
advertisement is out of date (the metadata catalog or what is known of
origins' range support changed) is built again from the page held, without
asking the upstream.  Entries are made in one place,
:meth:`~twisted_pypi.sources.pagerecords.PageRecords.entry`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.core.links import (
    link_segments,
    local_path,
)
from twisted_pypi.core.lookup import (
    LIST_KEY,
    CacheStatus,
    Lookup,
    PageEntry,
    ProjectNotFound,
    UpstreamUnavailable,
)
from twisted_pypi.core.memtrim import trim_memory
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.parse import PageParseError
from twisted_pypi.core.policy import Decision
from twisted_pypi.core.runner import Runner, run_now
from twisted_pypi.core.stats import Stats
from twisted_pypi.sources.cachepolicy import CachePolicy, Served
from twisted_pypi.sources.metaadvert import MetadataAdvertiser
from twisted_pypi.sources.pagenotes import PageNotes
from twisted_pypi.sources.pagerecords import Built, PageRecords
from twisted_pypi.storage.pagestore import PageStore, StoredPage
from twisted_pypi.upstream.client import PageClient, UpstreamError, fetch_page

__all__ = [
    "MEMORY_BYTES",
    "MEMORY_NOT_FOUND",
    "MEMORY_PAGES",
    "SPILL_BYTES",
    "PageCache",
    "PageStore",
]

log = Logger()

#: How many parsed pages stay in memory.
MEMORY_PAGES = 2048

#: Roughly how many bytes parsed and rendered pages may take in memory (see
#: :func:`~twisted_pypi.sources.pagebuild.weigh`); pages past it are read
#: again from disk when needed.
MEMORY_BYTES = 128 << 20

#: A page weighing more than this is kept rendered on disk, not in memory.
SPILL_BYTES = MEMORY_BYTES // 4

#: Pages at least this big are followed by :func:`trim_memory`.
_TRIM_AFTER = 4 << 20

#: How many "not found" answers are remembered (clients choose the names
#: asked for); past it, the least recently remembered are forgotten.
MEMORY_NOT_FOUND = 4096


class PageCache:
    """
    Pages of one upstream index.
    """

    def __init__(
        self,
        index: IndexConfig,
        config: ProxyConfig,
        client: PageClient,
        clock: IReactorTime,
        store: PageStore,
        run: Runner | None = None,
        forget_file: Callable[[tuple[str, ...]], object] | None = None,
        stats: Stats | None = None,
        spill_bytes: int = SPILL_BYTES,
        advertiser: MetadataAdvertiser | None = None,
    ) -> None:
        """
        :param index: The upstream index.
        :param config: Timeouts, limits and the link prefixes.
        :param client: The HTTP client for page requests.
        :param clock: The time source for TTLs and timeouts.
        :param store: Where pages persist.
        :param run: Runs page parsing and the reading and writing of stored
            pages, which take a while for large pages, away from the
            reactor (in a thread pool); by default it runs at once.
        :param forget_file: Deletes a cached file, given its place in the
            cache; called for the files of a project that became quarantined.
        :param stats: Where each upstream fetch's latency and outcome are
            recorded, if anywhere.
        :param spill_bytes: A page weighing more is kept rendered on disk
            (when the store can keep renditions).
        :param advertiser: Advertises the core metadata the proxy makes for
            wheels whose index offers none, if it does.
        """
        self.index = index
        self._config = config
        self._client = client
        self._clock = clock
        self._store = store
        self._policy: CachePolicy[str, PageEntry] = CachePolicy(
            clock,
            max_bytes=MEMORY_BYTES,
            max_entries=MEMORY_PAGES,
            weigh=lambda entry: entry.weight,
            fetched_at=lambda entry: entry.fetched_at,
            max_missing=MEMORY_NOT_FOUND,
            stale_wait=config.stale_wait,
        )
        self._run: Runner = run if run is not None else run_now
        self._stats = stats
        self._links = config.links
        self._notes = PageNotes(index.name, forget_file, stats)
        self._advertiser = advertiser
        self._records = PageRecords(
            index,
            store,
            self._links,
            self.file_link,
            clock,
            self._run,
            spill_bytes,
            advertiser,
        )

    @property
    def store(self) -> PageStore:
        """
        Where this cache's pages persist.
        """
        return self._store

    @property
    def clock(self) -> IReactorTime:
        """
        The time source that ages this cache's pages.
        """
        return self._clock

    @property
    def ages_from_first_sight(self) -> bool:
        """
        Whether a page of this index was seen listing files without an
        upload time (their age counts from when the proxy first saw them).
        """
        return self._notes.undated

    def refusal(
        self, segments: tuple[str, ...], project: str | None
    ) -> Deferred[Decision | None]:
        """
        Why a file of this index must not be served at all, or ``None``: its
        project is quarantined upstream.  Known at once (a set lookup) once
        the project's page was seen; else its stored page is read, once.

        :param segments: The file's place (a ``.metadata`` file's too).
        :param project: The project the link names, if any.
        :return: A Deferred firing with the decision that refuses the file
            (:data:`~twisted_pypi.sources.quarantine.REFUSED`), or ``None``.
        """
        return self._notes.refusal(segments, project, self._cached)

    def get_project(self, project: str) -> Deferred[Lookup]:
        """
        A project's page: fresh from the cache, refreshed, or stale.

        :param project: The normalized project name.
        """
        return Deferred.fromCoroutine(self._get(project))

    def get_list(self) -> Deferred[Lookup]:
        """
        The index's project list.
        """
        return Deferred.fromCoroutine(self._get(LIST_KEY))

    def cached_project(
        self, project: str, current: bool = False
    ) -> Deferred[PageEntry | None]:
        """
        A project's cached page of any age, without asking the upstream,
        loaded (see :meth:`PageEntry.loaded`).

        :param project: The normalized project name.
        :param current: Whether the page must advertise the core metadata
            known now (built again if need be, without probing origins);
            else any version of it does (its files are the same).
        """
        return Deferred.fromCoroutine(self._cached_loaded(project, current))

    async def _cached_loaded(self, key: str, current: bool = False) -> PageEntry | None:
        entry = await self._cached(key)
        if entry is None:
            return None
        if current:
            entry = await self._advertised(key, entry, probe=False)
        loaded: PageEntry = await entry.loaded()
        return loaded

    async def _cached(self, key: str) -> PageEntry | None:
        entry = self._policy.recall(key)
        if entry is not None:
            return entry
        built: Built | None = await self._run(partial(self._records.load, key))
        if built is None:
            return None
        self._notes.note(key, built, fetched=False)
        entry = built.entry
        self._policy.remember(key, entry)
        return entry

    async def _get(self, key: str) -> Lookup:
        entry = await self._cached(key)
        served = await self._policy.answer(
            key, entry, self.index.ttl, lambda old: self._refresh(key, old)
        )
        entry = await self._advertised(key, served.value)
        return Lookup(entry, served.status, served.failure)

    async def _advertised(
        self, key: str, entry: PageEntry, probe: bool = True
    ) -> PageEntry:
        """
        ``entry``, or the same page built again if what it advertises of
        core metadata is out of date (see
        :meth:`~twisted_pypi.sources.metaadvert.MetadataAdvertiser.current`).
        """
        if self._advertiser is None:
            return entry
        current = await self._advertiser.current(
            self.index.name,
            key,
            entry,
            lambda: self._run(partial(self._records.rebuilt, key, entry)),
            probe,
        )
        if current is not entry and self._policy.recall(key) is entry:
            self._policy.remember(key, current)
        return current

    def _refresh(
        self, key: str, entry: PageEntry | None
    ) -> Deferred[Served[PageEntry]]:
        return Deferred.fromCoroutine(self._fetch(key, entry)).addBoth(self._record)

    def _record(
        self, result: Served[PageEntry] | Failure
    ) -> Served[PageEntry] | Failure:
        """
        Count a fetch's outcome in the stats ("not found" is a good answer).
        """
        if self._stats is None:
            return result
        if not isinstance(result, Failure) or result.check(ProjectNotFound):
            self._stats.upstream_succeeded(self.index.name)
        elif result.check(UpstreamUnavailable):
            self._stats.upstream_failed(self.index.name, result.getErrorMessage())
        return result

    async def _fetch(self, key: str, entry: PageEntry | None) -> Served[PageEntry]:
        """
        Ask the upstream for a page.

        :raises ProjectNotFound: When the upstream has no such page.
        :raises UpstreamUnavailable: When it gave no usable answer.
        """
        url = self.index.url if key == LIST_KEY else f"{self.index.url}{key}/"
        limit = (
            self._config.max_list_size
            if key == LIST_KEY
            else self._config.max_page_size
        )
        started = self._clock.seconds()
        try:
            response = await fetch_page(
                self._client,
                self._clock,
                url,
                etag=entry.upstream_etag if entry is not None else None,
                auth=self.index.credentials,
                limit=limit,
                connect_timeout=self._config.connect_timeout,
                idle_timeout=self._config.idle_timeout,
            )
        except UpstreamError as e:
            raise self._failed(key, e) from None
        now = self._clock.seconds()
        if self._stats is not None:
            self._stats.upstream_answered(self.index.name, now - started)
        if response.status == 304 and entry is not None:
            await self._run(partial(self._records.touch, key, now))
            entry.fetched_at = now
            return Served(entry, CacheStatus.HIT)
        if response.status in (404, 410):
            await self._run(partial(self._store.remove, self.index.name, key))
            raise ProjectNotFound(key)
        if response.status != 200:
            raise self._failed(
                key, UpstreamUnavailable(f"{url} answered {response.status}")
            )
        stored = StoredPage(
            response.url, response.body, response.content_type, response.etag, now
        )
        size = len(stored.body)
        del response  # the body is in ``stored``; nothing else keeps a copy
        bare = self._notes.bare(key, entry)
        try:
            built: Built = await self._run(
                partial(self._records.keep, key, stored, entry, bare)
            )
        except PageParseError as e:
            raise self._failed(
                key, UpstreamUnavailable(f"{url} could not be parsed: {e}")
            ) from None
        del stored
        self._notes.note(key, built, fetched=True)
        new = built.entry
        del built  # the parsed page of a page kept on disk goes now
        if size >= _TRIM_AFTER:
            await self._run(trim_memory)
        return Served(new, CacheStatus.MISS)

    def _failed(self, key: str, error: UpstreamUnavailable) -> UpstreamUnavailable:
        log.warn(
            "Upstream {index} failed for {key}: {error}",
            index=self.index.name,
            key=key,
            error=error.reason,
        )
        return error

    def invalidate(self, key: str) -> Deferred[bool]:
        """
        Forget a page in memory and in the store (by the runner: a shared
        store's delete is a round trip), and that the upstream lacked it:
        the next request asks the upstream.  A refresh already under way
        still stores what it gets.

        :param key: A normalized project name, or :data:`LIST_KEY`.
        :return: A Deferred firing with whether anything was cached: a page,
            or that there is none.
        """
        forgotten = self._policy.forget(key)
        removing: Deferred[bool] = self._run(
            partial(self._store.remove, self.index.name, key)
        )
        return removing.addCallback(lambda removed: removed or forgotten)

    def stored_keys(self) -> Deferred[list[str]]:
        """
        The keys of every page the store holds for this index, sorted
        (listed by the runner: a shared store's listing is a round trip).
        """
        return self._run(partial(self._store.keys, self.index.name))

    def file_link(self, dist: DistFile) -> str:
        """
        The proxy URL of one of this index's files, as a page links it.

        :param dist: A file this index listed.
        """
        segments = link_segments(self.index.name, dist.project, dist.url)
        if segments is None:  # parse drops these; never link upstream
            raise ValueError(f"unmappable file URL {dist.url!r}")
        return self._links.file(local_path(segments))
