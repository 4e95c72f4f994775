# -*- test-case-name: tests.sources.test_pagebuild -*-
"""
The blocking work of the page cache (:mod:`twisted_pypi.sources.remote`),
run by its runner away from the reactor: parsing a stored page, weighing
it, and keeping a page too big for memory rendered on disk.

A page's weight is what its parsed records take in memory, measured with
``tracemalloc`` (:data:`PARSED_FILE_BYTES` a file, :data:`PARSED_NAME_BYTES`
a listed name), plus its representations (about twice its upstream body).

:class:`EntryMaker` makes the cache's entries of stored pages: parsed,
advertising the core metadata the proxy makes for wheels whose index offers
none (see :mod:`~twisted_pypi.sources.metaadvert`), kept rendered on disk
when too big for memory, and made again when what they advertise is out of
date.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from attrs import frozen
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.lookup import (
    LIST_KEY,
    FileIndex,
    PageEntry,
    Rendition,
    RenditionFile,
    files_by_path,
)
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.parse import (
    PageParseError,
    parse_project_list,
    parse_project_page,
)
from twisted_pypi.core.render import render_page
from twisted_pypi.sources.cachepolicy import Runner
from twisted_pypi.sources.metaadvert import MetadataAdvertiser
from twisted_pypi.storage.pagestore import PageStore, StoredPage

__all__ = [
    "EntryMaker",
    "KEEP_LOADED",
    "LIGHT_BYTES",
    "PARSED_FILE_BYTES",
    "PARSED_NAME_BYTES",
    "parse_stored",
    "reparse",
    "reparse_indexed",
    "quarantined",
    "spill",
    "weigh",
]

#: What one file of a parsed page takes in memory, measured with
#: ``tracemalloc`` on a PyPI-like page of 41,666 files (hashes, metadata
#: hash, size, upload time): 1,371 bytes a file read from JSON, 916 from
#: HTML.
PARSED_FILE_BYTES = 1400

#: What one name of a parsed project list takes, measured the same way.
PARSED_NAME_BYTES = 72

#: What a page kept on disk takes in memory (its light entry).
LIGHT_BYTES = 2048

#: Seconds a page kept on disk stays parsed after it was read again for its
#: files: an install's requests for its files then parse it once.
KEEP_LOADED = 30.0

log = Logger()


def weigh(page: ProjectPage | ProjectList, body: int) -> int:
    """
    Roughly how many bytes a page takes in memory, parsed and rendered.

    :param page: The parsed page.
    :param body: The size of its upstream body.
    """
    if isinstance(page, ProjectList):
        return PARSED_NAME_BYTES * len(page.names) + 2 * body
    return PARSED_FILE_BYTES * len(page.files) + 2 * body


def quarantined(page: ProjectPage | ProjectList) -> bool:
    """
    Whether a page is a PEP 792 quarantined project's (which offers no files).
    """
    return isinstance(page, ProjectPage) and page.status == "quarantined"


def parse_stored(key: str, stored: StoredPage) -> ProjectPage | ProjectList:
    """
    Parse a stored page; a quarantined project's page lists no files.

    :param key: A normalized project name, or :data:`LIST_KEY`.
    :param stored: The page as the upstream sent it.
    :raises PageParseError: When it cannot be parsed.
    """
    if key == LIST_KEY:
        return parse_project_list(stored.body, stored.content_type)
    page = parse_project_page(stored.body, stored.content_type, stored.url, key)
    if quarantined(page):
        page = ProjectPage(
            name=page.name,
            versions=page.versions,
            api_version=page.api_version,
            status=page.status,
            status_reason=page.status_reason,
            meta_extra=page.meta_extra,
            extra=page.extra,
        )
    return page


def reparse(store: PageStore, index: str, key: str) -> ProjectPage | ProjectList:
    """
    Parse a stored page again (blocking: run it in the runner).

    :param store: Where the page is stored.
    :param index: The index's name.
    :param key: The page's key.
    :raises PageParseError: When it is gone or cannot be parsed.
    """
    stored = store.load(index, key)
    if stored is None:
        raise PageParseError(f"{key} is no longer stored")
    return parse_stored(key, stored)


def reparse_indexed(
    store: PageStore,
    index: str,
    key: str,
    advertiser: MetadataAdvertiser | None = None,
) -> tuple[ProjectPage | ProjectList, FileIndex]:
    """
    :func:`reparse`, with the page's files indexed by their proxy paths
    (blocking, like it), advertising the core metadata the proxy makes if
    ``advertiser`` is given.
    """
    page = reparse(store, index, key)
    if advertiser is not None and isinstance(page, ProjectPage):
        page, _ = advertiser.enrich(index, page, False)
    return page, files_by_path(page, index)


def spill(
    store: PageStore,
    index: str,
    key: str,
    page: ProjectPage | ProjectList,
    file_link: Callable[[DistFile], str],
    project_link: Callable[[str], str],
) -> dict[bool, RenditionFile]:
    """
    Render both representations of a page, plain and gzipped, into files
    beside its record, one at a time (each dropped once written), and delete
    the files of its earlier versions.

    :param store: Where the page is stored.
    :param index: The index's name.
    :param key: The page's key.
    :param page: The parsed page.
    :param file_link: Gives a file's URL as served.
    :param project_link: Gives a project page's URL as served.
    :return: The files, by ``as_json``.
    :raise OSError: If they cannot be written.
    """
    on_disk: dict[bool, RenditionFile] = {}
    for as_json, form in ((True, "json"), (False, "html")):
        rendition = Rendition.of(render_page(page, as_json, file_link, project_link))
        digest = rendition.etag.strip('"')
        path = store.save_rendition(index, key, digest, form, rendition.body)
        gzipped = rendition.gzipped
        del rendition
        gzip_path = store.save_rendition(index, key, digest, form + ".gz", gzipped)
        del gzipped
        on_disk[as_json] = RenditionFile(f'"{digest}"', path, gzip_path)
    current = frozenset(p for f in on_disk.values() for p in (f.path, f.gzip_path))
    store.remove_renditions(index, key, current)
    return on_disk


@frozen
class EntryMaker:
    """
    Makes the entries of one index's page cache (blocking: run by its
    runner).

    :ivar index: The index.
    :ivar store: Where its pages are stored.
    :ivar file_link: Gives a file's URL as served.
    :ivar project_link: Gives a project page's URL as served.
    :ivar run: The page cache's runner (pages kept on disk are read again
        with it).
    :ivar clock: Holds pages read again for a while.
    :ivar spill_bytes: A page weighing more is kept rendered on disk (when
        the store can keep renditions).
    :ivar advertiser: Advertises the core metadata the proxy makes, if it
        does.
    """

    index: IndexConfig
    store: PageStore
    file_link: Callable[[DistFile], str]
    project_link: Callable[[str], str]
    run: Runner
    clock: IReactorTime
    spill_bytes: int
    advertiser: MetadataAdvertiser | None = None

    def entry(self, key: str, stored: StoredPage, fresh: bool = True) -> PageEntry:
        """
        The entry of a stored page: parsed, advertising the core metadata
        the proxy makes (``fresh``: the catalog read from its store, not
        only from memory), and kept rendered on disk when it is too big for
        memory.

        :raises PageParseError: When it cannot be parsed.
        """
        name, page = self.index.name, parse_stored(key, stored)
        advert = None
        if self.advertiser is not None and isinstance(page, ProjectPage):
            page, advert = self.advertiser.enrich(name, page, fresh)
        entry = PageEntry(
            index=self.index,
            page=page,
            fetched_at=stored.fetched_at,
            upstream_etag=stored.etag,
            file_link=self.file_link,
            project_link=self.project_link,
            weight=weigh(page, len(stored.body)),
            advert=advert,
        )
        if entry.weight <= self.spill_bytes or not self.store.keeps_renditions:
            entry.index_files()
            return entry
        try:
            on_disk = spill(
                self.store, name, key, page, self.file_link, self.project_link
            )
        except OSError as e:
            log.warn(
                "Could not keep {key} rendered on disk ({error}): kept in memory",
                key=key,
                error=e,
            )
            return entry
        return PageEntry(
            index=self.index,
            page=None,
            fetched_at=stored.fetched_at,
            upstream_etag=stored.etag,
            file_link=self.file_link,
            project_link=self.project_link,
            weight=LIGHT_BYTES,
            on_disk=on_disk,
            load=lambda: self.run(
                partial(reparse_indexed, self.store, name, key, self.advertiser)
            ),
            hold=partial(self.clock.callLater, KEEP_LOADED),
            advert=advert,
        )

    def rebuilt(self, key: str, entry: PageEntry) -> PageEntry | None:
        """
        ``entry`` advertising the core metadata known now: its page enriched
        again in memory, or, kept on disk, read and rendered again.

        :return: The new entry, or ``None`` if the page is no longer
            stored or readable.
        """
        page = entry.page if entry.is_loaded else None
        if self.advertiser is not None and isinstance(page, ProjectPage):
            enriched, advert = self.advertiser.enrich(self.index.name, page, False)
            return entry.with_page(enriched, advert)
        stored = self.store.load(self.index.name, key)
        if stored is None:
            return None
        try:
            return self.entry(key, stored, False)
        except PageParseError:
            return None
