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
says so (see :mod:`~twisted_pypi.sources.quarantine` and :meth:`PageCache.refusal`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from twisted.internet.defer import Deferred, succeed
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
from twisted_pypi.core.stats import Stats
from twisted_pypi.sources.cachepolicy import CachePolicy, Runner, Served, run_now
from twisted_pypi.sources.pagebuild import quarantined
from twisted_pypi.sources.pagerecords import Built, PageRecords
from twisted_pypi.sources.quarantine import REFUSED, Quarantine
from twisted_pypi.storage.pagestore import PageStore, StoredPage
from twisted_pypi.upstream.client import PageClient, UpstreamError, fetch_page

__all__ = [
    "MEMORY_BYTES",
    "MEMORY_NOT_FOUND",
    "MEMORY_PAGES",
    "SPILL_BYTES",
    "PageCache",
    "PageStore",
    "Runner",
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
        self._quarantine = Quarantine(index.name, forget_file)
        self._undated = False
        # Keys of pages kept on disk whose record keeps no first-seen times:
        # a new version of such a page need not read the old one back.
        self._timeless: set[str] = set()
        self._records = PageRecords(
            index, store, self._links, self.file_link, clock, self._run, spill_bytes
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
        return self._undated

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
        quarantine = self._quarantine
        names = quarantine.names(segments, project)
        if quarantine.refuses(segments, names):
            return succeed(REFUSED)
        unknown = quarantine.unknown(names)
        if not unknown:
            return succeed(None)
        return Deferred.fromCoroutine(self._look_up(segments, names, unknown))

    async def _look_up(
        self, segments: tuple[str, ...], names: tuple[str, ...], unknown: list[str]
    ) -> Decision | None:
        """
        Read the pages of the projects whose status is not known (from
        memory, else from the store), then decide as :meth:`refusal` does.
        """
        for name in unknown:
            entry = await self._cached(name)
            held = entry is not None and entry.is_loaded and quarantined(entry.page)
            self._quarantine.loaded(name, held)
        return REFUSED if self._quarantine.refuses(segments, names) else None

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

    def cached_project(self, project: str) -> Deferred[PageEntry | None]:
        """
        A project's cached page of any age, without asking the upstream,
        loaded (see :meth:`PageEntry.loaded`).

        :param project: The normalized project name.
        """
        return Deferred.fromCoroutine(self._cached_loaded(project))

    async def _cached_loaded(self, key: str) -> PageEntry | None:
        entry = await self._cached(key)
        if entry is None:
            return None
        loaded: PageEntry = await entry.loaded()
        return loaded

    async def _cached(self, key: str) -> PageEntry | None:
        entry = self._policy.recall(key)
        if entry is not None:
            return entry
        built: Built | None = await self._run(partial(self._records.load, key))
        if built is None:
            return None
        self._note(key, built, fetched=False)
        entry = built.entry
        self._policy.remember(key, entry)
        return entry

    async def _get(self, key: str) -> Lookup:
        entry = await self._cached(key)
        served = await self._policy.answer(
            key, entry, self.index.ttl, lambda old: self._refresh(key, old)
        )
        return Lookup(served.value, served.status, served.failure)

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
        bare = entry is None or key in self._timeless
        try:
            built: Built = await self._run(
                partial(self._records.keep, key, stored, entry, bare)
            )
        except PageParseError as e:
            raise self._failed(
                key, UpstreamUnavailable(f"{url} could not be parsed: {e}")
            ) from None
        del stored
        self._note(key, built, fetched=True)
        new = built.entry
        del built  # the parsed page of a page kept on disk goes now
        if size >= _TRIM_AFTER:
            await self._run(trim_memory)
        return Served(new, CacheStatus.MISS)

    def _note(self, key: str, built: Built, fetched: bool) -> None:
        """
        Take note of a page made from the upstream's answer (``fetched``) or
        read back from the store: whether its project is quarantined (and
        drop the files its previous page listed, if it now is), and whether
        it lists files without an upload time.
        """
        if fetched:
            self._quarantine.fetched(key, built.held, built.purge)
        else:
            self._quarantine.loaded(key, built.held)
        if built.undated:
            self._undated = True
            if self._stats is not None:
                self._stats.upstream_undated(self.index.name)
        if built.entry.is_loaded or built.undated:
            self._timeless.discard(key)
        else:
            self._timeless.add(key)
        if built.new:
            log.info(
                "{index}: {project} lists {count} new file(s) without an upload"
                " time; their age counts from now",
                index=self.index.name,
                project=key,
                count=built.new,
            )

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
