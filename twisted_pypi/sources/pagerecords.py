# -*- test-case-name: tests.sources.test_pagerecords -*-
"""
The blocking half of the page cache (:mod:`twisted_pypi.sources.remote`):
a stored record read back into a cache entry, a page the upstream sent
given its first-seen times (see :mod:`~twisted_pypi.sources.firstseen`) and
stored, a revalidated record touched, an entry built again when what it
advertises of core metadata is out of date.  Every method blocks (a shared
store's calls are round trips, big pages take a while to parse and
render): the cache calls them in its runner, and notes what they found on
the reactor (see :class:`Built`).

:meth:`PageRecords.entry` is the one place a cache entry is made of a
stored page: parsed (with its first-seen times), advertising the core
metadata the proxy makes for wheels whose index offers none (see
:mod:`~twisted_pypi.sources.metaadvert`), and kept rendered on disk when it
is too big for memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from attrs import evolve, frozen
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.links import LinkPrefixes
from twisted_pypi.core.lookup import LIST_KEY, PageEntry
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.parse import PageParseError
from twisted_pypi.core.runner import Runner
from twisted_pypi.sources.firstseen import known_times, utc_stamp
from twisted_pypi.sources.metaadvert import MetadataAdvertiser
from twisted_pypi.sources.pagebuild import (
    KEEP_LOADED,
    LIGHT_BYTES,
    parse_fetched,
    parse_stored,
    quarantined,
    reparse,
    reparse_indexed,
    spill,
    weigh,
)
from twisted_pypi.storage.pagestore import PageStore, StoredPage

__all__ = ["Built", "PageRecords"]

log = Logger()


@frozen
class Built:
    """
    A page made from a stored or fetched record (in the runner), with what
    the cache notes of it on the reactor.

    :ivar entry: The cache entry.
    :ivar held: Whether the page says its project is quarantined.
    :ivar undated: How many files it lists without an upload time (whose
        age counts from when the proxy first saw them).
    :ivar new: How many of those were first seen at this fetch.
    :ivar purge: The previous page, when the project just became
        quarantined (the cached files it listed are dropped).
    """

    entry: PageEntry
    held: bool = False
    undated: int = 0
    new: int = 0
    purge: ProjectPage | None = None


class PageRecords:
    """
    The records of one index's pages, as cache entries (blocking).
    """

    def __init__(
        self,
        index: IndexConfig,
        store: PageStore,
        links: LinkPrefixes,
        file_link: Callable[[DistFile], str],
        clock: IReactorTime,
        run: Runner,
        spill_bytes: int,
        advertiser: MetadataAdvertiser | None = None,
    ) -> None:
        """
        :param index: The upstream index.
        :param store: Where its pages persist.
        :param links: The link prefixes of served pages.
        :param file_link: Gives the proxy URL of one of the index's files.
        :param clock: Schedules letting go of a page read again.
        :param run: Reads a page kept on disk again, later, away from the
            reactor.
        :param spill_bytes: A page weighing more is kept rendered on disk
            (when the store can keep renditions).
        :param advertiser: Advertises the core metadata the proxy makes for
            wheels whose index offers none, if it does.
        """
        self._index = index
        self._store = store
        self._links = links
        self._file_link = file_link
        self._clock = clock
        self._run = run
        self._spill_bytes = spill_bytes
        self._advertiser = advertiser

    def load(self, key: str) -> Built | None:
        """
        Read and parse a stored page.

        :return: The page made, or ``None`` if none is stored or it is
            unreadable.
        """
        stored = self._store.load(self._index.name, key)
        if stored is None:
            return None
        try:
            page = parse_stored(key, stored)
        except PageParseError:
            return None
        entry = self.entry(key, stored, page)
        return Built(entry, quarantined(page), len(stored.first_seen))

    def keep(
        self, key: str, stored: StoredPage, old: PageEntry | None, bare: bool
    ) -> Built:
        """
        Parse a page the upstream sent, give its files without an upload
        time their first-seen times (kept from the previous record for the
        files it listed), then store it (a page that cannot be parsed is not
        stored).

        :param stored: The page as the upstream sent it.
        :param old: The page cached before, if any.
        :param bare: Whether the previous record is known to keep no
            first-seen times (it need not be read back).
        :return: The page made, with the old page if the new one says the
            project is quarantined (its files are to be forgotten).
        :raises PageParseError: When it cannot be parsed.
        """
        name = self._index.name
        previous: Mapping[str, str] = {}
        if old is not None and old.is_loaded and not quarantined(old.page):
            if isinstance(old.page, ProjectPage):
                previous = known_times(old.page)
        elif not bare and key != LIST_KEY:
            before = self._store.load(name, key)
            previous = before.first_seen if before is not None else {}
        now = utc_stamp(stored.fetched_at)
        stored, page, new = parse_fetched(key, stored, previous, now)
        purge = None
        if old is not None and quarantined(page):
            page_before = old.page if old.is_loaded else reparse(self._store, name, key)
            purge = page_before if isinstance(page_before, ProjectPage) else None
        entry = self.entry(key, stored, page)
        self._store.save(name, key, stored)
        held = quarantined(page)
        return Built(entry, held, len(stored.first_seen), new, purge)

    def touch(self, key: str, now: float) -> None:
        """
        Record that the upstream confirmed the stored page at ``now``; it
        keeps its first-seen times.
        """
        stored = self._store.load(self._index.name, key)
        if stored is not None:
            self._store.save(self._index.name, key, evolve(stored, fetched_at=now))

    def rebuilt(self, key: str, entry: PageEntry) -> PageEntry | None:
        """
        ``entry`` advertising the core metadata known now (the catalog read
        from memory): its page enriched again in memory, or, kept on disk,
        read and rendered again.  The upstream is not asked; first-seen
        times and quarantine are those of the page held.

        :return: The new entry, or ``None`` if the page is no longer stored
            or readable.
        """
        page = entry.page if entry.is_loaded else None
        if self._advertiser is not None and isinstance(page, ProjectPage):
            enriched, advert = self._advertiser.enrich(self._index.name, page, False)
            return entry.with_page(enriched, advert)
        stored = self._store.load(self._index.name, key)
        if stored is None:
            return None
        try:
            page = parse_stored(key, stored)
        except PageParseError:
            return None
        return self.entry(key, stored, page, fresh=False)

    def entry(
        self,
        key: str,
        stored: StoredPage,
        page: ProjectPage | ProjectList,
        fresh: bool = True,
    ) -> PageEntry:
        """
        The entry of a stored page: advertising the core metadata the proxy
        makes, and kept rendered on disk when it is too big for memory
        (never a quarantined project's: it lists no files, and the cache
        reads its status).

        :param page: The page, parsed (see :func:`parse_stored`).
        :param fresh: Read the project's metadata catalog record from its
            store, not only from memory (see
            :meth:`~twisted_pypi.sources.metaadvert.MetadataAdvertiser.enrich`).
        """
        name = self._index.name
        advert = None
        if self._advertiser is not None and isinstance(page, ProjectPage):
            page, advert = self._advertiser.enrich(name, page, fresh)
        entry = PageEntry(
            index=self._index,
            page=page,
            fetched_at=stored.fetched_at,
            upstream_etag=stored.etag,
            file_link=self._file_link,
            project_link=self._links.project,
            weight=weigh(page, len(stored.body)),
            advert=advert,
        )
        if (
            entry.weight <= self._spill_bytes
            or not self._store.keeps_renditions
            or quarantined(page)
        ):
            entry.index_files()
            return entry
        try:
            on_disk = spill(
                self._store, name, key, page, self._file_link, self._links.project
            )
        except OSError as e:
            log.warn(
                "Could not keep {key} rendered on disk ({error}): kept in memory",
                key=key,
                error=e,
            )
            return entry
        return PageEntry(
            index=self._index,
            page=None,
            fetched_at=stored.fetched_at,
            upstream_etag=stored.etag,
            file_link=self._file_link,
            project_link=self._links.project,
            weight=LIGHT_BYTES,
            on_disk=on_disk,
            load=lambda: self._run(
                partial(reparse_indexed, self._store, name, key, self._advertiser)
            ),
            hold=partial(self._clock.callLater, KEEP_LOADED),
            advert=advert,
        )
