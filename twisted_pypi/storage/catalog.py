# -*- test-case-name: tests.storage.test_cachedir -*-
"""
What the cached pages say of the cached files, for ``pypiproxy cache``:
which project's page lists each file, with the hashes and size it gives.

A file's name does not say which project it belongs to: legacy archives
(``.tar.bz2``, ``.egg``, ``.exe``), versions packaging refuses
(``Pillow-3.1.0-rc1.tar.gz``) and files a page lists for another project
name none, or the wrong one.  The pages that list them do; a
:class:`Catalog` is read from every cached project page in one pass
(blocking: the ``cache`` commands have no reactor to keep responsive).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from attrs import field, frozen

from twisted_pypi.core.links import METADATA, local_segments
from twisted_pypi.core.lookup import LIST_KEY
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.names import project_of_filename
from twisted_pypi.core.parse import PageParseError, parse_project_page
from twisted_pypi.storage.pagestore import PageStore

__all__ = ["Catalog", "Listing", "file_of", "read_catalog"]

#: A file's place in the cache: ``(index, scheme, host, *path)``.
Segments = tuple[str, ...]


@frozen
class Listing:
    """
    One cached file as the cached pages list it.

    :ivar dist: The file as the first page listing it describes it (hashes,
        size, core metadata hashes).
    :ivar projects: The normalized projects whose pages list it.
    """

    dist: DistFile
    projects: frozenset[str]


@frozen
class Catalog:
    """
    The cached files the cached project pages list.

    :ivar listed: Each listed file's place (never a ``.metadata``'s) to its
        listing.
    :ivar pages: ``(index, project)`` of every readable cached project page.
    """

    listed: Mapping[Segments, Listing] = field(factory=dict)
    pages: frozenset[tuple[str, str]] = frozenset()

    def listing(self, segments: Segments) -> Listing | None:
        """
        :param segments: A cached file's place (or its ``.metadata``'s).
        :return: How the pages list the file, or ``None`` if none does.
        """
        return self.listed.get(file_of(segments))

    def projects(self, segments: Segments) -> frozenset[str]:
        """
        The projects a cached file belongs to: those whose pages list it,
        else the one its name says, else none.

        :param segments: A cached file's place (or its ``.metadata``'s).
        """
        listing = self.listing(segments)
        if listing is not None:
            return listing.projects
        named = project_of_filename(file_of(segments)[-1])
        return frozenset() if named is None else frozenset({named})


def file_of(segments: Segments) -> Segments:
    """
    :param segments: A cached file's place, or its ``.metadata``'s.
    :return: The place of the file itself.
    """
    return (*segments[:-1], segments[-1].removesuffix(METADATA))


def read_catalog(pages: PageStore, wanted: Collection[Segments]) -> Catalog:
    """
    Read every cached project page once and note how it lists the files
    in ``wanted`` (others are skipped, so memory follows the cache's size,
    not the pages').

    :param pages: The cached pages.
    :param wanted: The places of the files to look for (see :func:`file_of`).
    """
    dists: dict[Segments, DistFile] = {}
    owners: dict[Segments, set[str]] = {}
    readable: set[tuple[str, str]] = set()
    for index in pages.indexes():
        for key in pages.keys(index):
            if key == LIST_KEY:
                continue
            stored = pages.load(index, key)
            if stored is None:
                continue
            try:
                page = parse_project_page(
                    stored.body, stored.content_type, stored.url, key
                )
            except PageParseError:
                continue
            readable.add((index, key))
            for dist in page.files:
                segments = local_segments(index, dist.url)
                if segments is None or segments not in wanted:
                    continue
                dists.setdefault(segments, dist)
                owners.setdefault(segments, set()).add(dist.project or key)
    listed = {s: Listing(d, frozenset(owners[s])) for s, d in dists.items()}
    return Catalog(listed, frozenset(readable))
