# -*- test-case-name: tests.sources.test_pagebuild -*-
"""
The blocking work of the page cache (:mod:`twisted_pypi.sources.remote`),
run by its runner away from the reactor: parsing a stored page (with the
first-seen times its record keeps, see :mod:`~twisted_pypi.sources.firstseen`),
weighing it, and keeping a page too big for memory rendered on disk.

A page's weight is what its parsed records take in memory, measured with
``tracemalloc`` (:data:`PARSED_FILE_BYTES` a file, :data:`PARSED_NAME_BYTES`
a listed name), plus its representations (about twice its upstream body).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from attrs import evolve

from twisted_pypi.core.lookup import LIST_KEY, FileIndex, files_by_path
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.parse import (
    PageParseError,
    parse_project_list,
    parse_project_page,
)
from twisted_pypi.core.render import render_page
from twisted_pypi.core.rendition import Rendition, RenditionFile
from twisted_pypi.sources.firstseen import first_seen_times, with_first_seen
from twisted_pypi.sources.metaadvert import MetadataAdvertiser
from twisted_pypi.storage.pagestore import PageStore, StoredPage

__all__ = [
    "KEEP_LOADED",
    "LIGHT_BYTES",
    "PARSED_FILE_BYTES",
    "PARSED_NAME_BYTES",
    "parse_fetched",
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
    Parse a stored page: its files carry the first-seen times its record
    keeps; a quarantined project's page lists no files.

    :param key: A normalized project name, or :data:`LIST_KEY`.
    :param stored: The page as the upstream sent it.
    :raises PageParseError: When it cannot be parsed.
    """
    page = _parse(key, stored)
    if isinstance(page, ProjectList):
        return page
    return _shaped(page, stored.first_seen)


def parse_fetched(
    key: str, stored: StoredPage, previous: Mapping[str, str], now: str
) -> tuple[StoredPage, ProjectPage | ProjectList, int]:
    """
    Parse a page the upstream just sent, giving each file it lists without
    an upload time its first-seen time (see
    :func:`~twisted_pypi.sources.firstseen.first_seen_times`).

    :param key: A normalized project name, or :data:`LIST_KEY`.
    :param stored: The page as the upstream sent it.
    :param previous: The first-seen times of the page's previous record.
    :param now: The moment of the fetch, as the model writes times.
    :return: The page to store (with the times beside its body), the
        parsed page as :func:`parse_stored` reads it, and how many of its
        files were first seen now.
    :raises PageParseError: When it cannot be parsed.
    """
    page = _parse(key, stored)
    if isinstance(page, ProjectList):
        return stored, page, 0
    times, new = first_seen_times(page, previous, now)
    if times or stored.first_seen:
        stored = evolve(stored, first_seen=times)
    return stored, _shaped(page, times), new


def _parse(key: str, stored: StoredPage) -> ProjectPage | ProjectList:
    """
    Parse a page's body as the upstream sent it.

    :raises PageParseError: When it cannot be parsed.
    """
    if key == LIST_KEY:
        return parse_project_list(stored.body, stored.content_type)
    return parse_project_page(stored.body, stored.content_type, stored.url, key)


def _shaped(page: ProjectPage, times: Mapping[str, str]) -> ProjectPage:
    """
    A parsed project page as the cache keeps it: its files with their
    first-seen times, none at all when the project is quarantined.
    """
    if quarantined(page):
        return ProjectPage(
            name=page.name,
            versions=page.versions,
            api_version=page.api_version,
            status=page.status,
            status_reason=page.status_reason,
            meta_extra=page.meta_extra,
            extra=page.extra,
        )
    return with_first_seen(page, times)


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
