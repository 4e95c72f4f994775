"""
The cache of index pages: the project list and one page per project, kept in
memory and on disk, fresh for the index's TTL, revalidated with
``If-None-Match``, and served stale when the upstream fails or is slow.

Each page is parsed once per upstream change and each of its representations
(HTML, JSON, plain or gzipped) rendered once, on first use; requests are then
answered with ready bytes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from twisted.internet.defer import Deferred, fail, race, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger

from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.core.links import local_path, local_segments, metadata_segments
from twisted_pypi.core.lookup import LIST_KEY, CacheStatus, Lookup, PageEntry
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.names import normalize
from twisted_pypi.core.parse import (
    PageParseError,
    parse_project_list,
    parse_project_page,
)
from twisted_pypi.core.render import (
    render_page,
)
from twisted_pypi.core.stats import Stats
from twisted_pypi.storage.pagestore import PageStore, StoredPage
from twisted_pypi.upstream.client import (
    PageClient,
    PageResponse,
    UpstreamError,
    UpstreamTimeout,
    fetch_page,
)

log = Logger()

#: Runs a piece of work (page parsing) and gives its result.
Runner = Callable[[Callable[[], "PageEntry"]], "Deferred[PageEntry]"]


#: How many parsed pages stay in memory.
MEMORY_PAGES = 2048

#: Roughly how many bytes parsed and rendered pages may take in memory (a
#: page is reckoned at four times its upstream body: the parsed records and
#: the renditions); pages past it are read again from disk when needed.
MEMORY_BYTES = 128 << 20

#: The longest time an upstream "not found" is remembered.
NEGATIVE_TTL = 60.0


class _Flights:
    """
    One running refresh per key; every caller gets its own Deferred.
    """

    def __init__(self) -> None:
        self._waiting: dict[str, list[Deferred[Lookup]]] = {}

    def join(self, key: str, start: Callable[[], Deferred[Lookup]]) -> Deferred[Lookup]:
        waiter: Deferred[Lookup] = Deferred()
        if key in self._waiting:
            self._waiting[key].append(waiter)
            return waiter
        self._waiting[key] = [waiter]

        def finish(result: Lookup) -> None:
            for d in self._waiting.pop(key):
                if not d.called:
                    d.callback(result)

        start().addCallback(finish)
        return waiter


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
    ) -> None:
        """
        :param index: The upstream index.
        :param config: Timeouts, limits and the base URL.
        :param client: The HTTP client for page requests.
        :param clock: The time source for TTLs and timeouts.
        :param store: Where pages persist.
        :param run: Runs page parsing, which can take a while for large
            pages, away from the reactor (for example in a thread pool);
            by default it runs at once.
        :param forget_file: Deletes a cached file, given its place in the
            cache; called for the files of a project that became quarantined.
        :param stats: Where each upstream fetch's latency and outcome are
            recorded, if anywhere.
        """
        self.index = index
        self._config = config
        self._client = client
        self._clock = clock
        self._store = store
        self._memory: OrderedDict[str, PageEntry] = OrderedDict()
        self._weight = 0
        self._not_found: dict[str, float] = {}
        self._flights = _Flights()
        self._run: Runner = run if run is not None else _run_now
        self._forget_file = forget_file
        self._stats = stats
        base = config.base_url
        self._file_prefix = base if base is not None else "../../"
        self._project_prefix = base + "simple/" if base is not None else ""

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
        A project's cached page of any age, without asking the upstream.

        :param project: The normalized project name.
        """
        return Deferred.fromCoroutine(self._cached(project))

    async def _cached(self, key: str) -> PageEntry | None:
        entry = self._memory.get(key)
        if entry is not None:
            self._memory.move_to_end(key)
            return entry
        stored = self._store.load(self.index.name, key)
        if stored is None:
            return None
        try:
            entry = await self._run(lambda: self._entry(key, stored))
        except PageParseError:
            return None
        self._remember(key, entry)
        return entry

    def _remember(self, key: str, entry: PageEntry) -> None:
        old = self._memory.pop(key, None)
        if old is not None:
            self._weight -= old.weight
        self._memory[key] = entry
        self._weight += entry.weight
        while len(self._memory) > 1 and (
            len(self._memory) > MEMORY_PAGES or self._weight > MEMORY_BYTES
        ):
            _, dropped = self._memory.popitem(last=False)
            self._weight -= dropped.weight

    async def _get(self, key: str) -> Lookup:
        entry = await self._cached(key)
        now = self._clock.seconds()
        if entry is not None and now - entry.fetched_at < self.index.ttl:
            return Lookup(entry, CacheStatus.HIT)
        if entry is None and self._not_found.get(key, -1.0) > now:
            return Lookup(None, not_found=True)
        refresh = self._flights.join(key, lambda: self._refresh(key, entry))
        if entry is None:
            return await refresh
        wait: Deferred[Lookup | None] = deferLater(
            self._clock, self._config.stale_wait, lambda: None
        )
        contenders: list[Deferred[Lookup | None]] = [refresh, wait]  # type: ignore[list-item]
        _, result = await race(contenders)
        if result is not None:
            return result
        log.info("Serving {key} stale while it refreshes", key=key)
        return Lookup(entry, CacheStatus.STALE)

    def _refresh(self, key: str, entry: PageEntry | None) -> Deferred[Lookup]:
        return Deferred.fromCoroutine(self._fetch(key, entry)).addCallback(self._record)

    def _record(self, lookup: Lookup) -> Lookup:
        """
        Count a fetch's outcome in the stats ("not found" is a good answer).
        """
        if self._stats is not None and lookup.error is None:
            self._stats.upstream_succeeded(self.index.name)
        elif self._stats is not None and lookup.error is not None:
            self._stats.upstream_failed(self.index.name, lookup.error)
        return lookup

    async def _fetch(self, key: str, entry: PageEntry | None) -> Lookup:
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
            return self._failed(key, entry, str(e), isinstance(e, UpstreamTimeout))
        now = self._clock.seconds()
        if self._stats is not None:
            self._stats.upstream_answered(self.index.name, now - started)
        if response.status == 304 and entry is not None:
            return self._revalidated(key, entry, now)
        if response.status in (404, 410):
            self._forget(key)
            self._not_found[key] = now + min(self.index.ttl, NEGATIVE_TTL)
            return Lookup(None, not_found=True)
        if response.status != 200:
            return self._failed(key, entry, f"{url} answered {response.status}", False)
        stored = _stored(response, now)
        try:
            new = await self._run(lambda: self._entry(key, stored))
        except PageParseError as e:
            return self._failed(key, entry, f"{url} could not be parsed: {e}", False)
        self._store.save(self.index.name, key, stored)
        if entry is not None and _quarantined(new.page):
            self._purge(entry)
        self._remember(key, new)
        self._not_found.pop(key, None)
        return Lookup(new, CacheStatus.MISS)

    def _purge(self, entry: PageEntry) -> None:
        """
        Delete the cached files (and ``.metadata``) that ``entry`` listed: the
        upstream quarantined the project, so they must not be served.
        """
        page = entry.page
        if self._forget_file is None or not isinstance(page, ProjectPage):
            return
        log.warn(
            "{project} is quarantined upstream: dropping its cached files",
            project=page.name,
        )
        for dist in page.files:
            segments = local_segments(self.index.name, dist.url)
            if segments is not None:
                self._forget_file(segments)
                self._forget_file(metadata_segments(segments))

    def _revalidated(self, key: str, entry: PageEntry, now: float) -> Lookup:
        stored = self._store.load(self.index.name, key)
        if stored is not None:
            self._store.save(
                self.index.name,
                key,
                StoredPage(
                    stored.url, stored.body, stored.content_type, stored.etag, now
                ),
            )
        entry.fetched_at = now
        return Lookup(entry, CacheStatus.HIT)

    def _failed(
        self, key: str, entry: PageEntry | None, error: str, timeout: bool
    ) -> Lookup:
        log.warn(
            "Upstream {index} failed for {key}: {error}",
            index=self.index.name,
            key=key,
            error=error,
        )
        if entry is not None:
            return Lookup(entry, CacheStatus.STALE, error=error, timeout=timeout)
        return Lookup(None, error=error, timeout=timeout)

    def _forget(self, key: str) -> bool:
        dropped = self._memory.pop(key, None)
        if dropped is not None:
            self._weight -= dropped.weight
        return self._store.remove(self.index.name, key) or dropped is not None

    def invalidate(self, key: str) -> bool:
        """
        Forget a page in memory and on disk, and that the upstream lacked it:
        the next request asks the upstream.  A refresh already under way
        still stores what it gets.

        :param key: A normalized project name, or :data:`LIST_KEY`.
        :return: Whether anything was cached: a page, or that there is none.
        """
        missing = self._not_found.pop(key, None) is not None
        return self._forget(key) or missing

    def _entry(self, key: str, stored: StoredPage) -> PageEntry:
        page: ProjectPage | ProjectList
        if key == LIST_KEY:
            page = parse_project_list(stored.body, stored.content_type)
        else:
            page = parse_project_page(stored.body, stored.content_type, stored.url, key)
            if _quarantined(page):
                page = ProjectPage(
                    name=page.name,
                    versions=page.versions,
                    api_version=page.api_version,
                    status=page.status,
                    status_reason=page.status_reason,
                    meta_extra=page.meta_extra,
                    extra=page.extra,
                )
        return PageEntry(
            index=self.index,
            page=page,
            fetched_at=stored.fetched_at,
            upstream_etag=stored.etag,
            renderer=self._render,
            weight=4 * len(stored.body),
        )

    def _render(self, entry: PageEntry, as_json: bool) -> bytes:
        return render_page(entry.page, as_json, self.file_link, self._project_link)

    def _project_link(self, name: str) -> str:
        return f"{self._project_prefix}{normalize(name)}/"

    def file_link(self, dist: DistFile) -> str:
        """
        The proxy URL of one of this index's files, as a page links it.

        :param dist: A file this index listed.
        """
        segments = local_segments(self.index.name, dist.url)
        if segments is None:  # parse drops these; never link upstream
            raise ValueError(f"unmappable file URL {dist.url!r}")
        return self._file_prefix + local_path(segments)


def _quarantined(page: ProjectPage | ProjectList) -> bool:
    """
    Whether a page is a PEP 792 quarantined project's (which offers no files).
    """
    return isinstance(page, ProjectPage) and page.status == "quarantined"


def _run_now(work: Callable[[], PageEntry]) -> Deferred[PageEntry]:
    """
    Run ``work`` at once.
    """
    try:
        return succeed(work())
    except Exception:
        return fail()


def _stored(response: PageResponse, now: float) -> StoredPage:
    return StoredPage(
        url=response.url,
        body=response.body,
        content_type=response.content_type,
        etag=response.etag,
        fetched_at=now,
    )
