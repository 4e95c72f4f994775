# -*- test-case-name: tests.storage.test_cachedir -*-
"""
Working on a cache directory directly, for ``pypiproxy cache``: listing,
counting, purging and verifying what it holds.  With a shared store
(``--store``) the files and records are the store's
(:class:`~twisted_pypi.storage.bucketfiles.BucketFiles`, the record stores
of the store), and only the partial downloads are this node's.

It is safe while a proxy runs on the same directory: entries are only ever
removed, each with one atomic ``os.remove``; partial downloads (``tmp/``) are
never touched.  A running proxy notices a removed file the next time it is
asked for it (its file lookup checks the disk) and downloads it again.  Pages
a running proxy holds in memory stay until they expire; ``DELETE`` under
``/-/cache/`` drops those too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Literal

from attrs import field, frozen
from twisted.python.filepath import FilePath

from twisted_pypi.core.links import METADATA, local_path
from twisted_pypi.core.lookup import LIST_KEY
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.names import project_of_filename
from twisted_pypi.storage.cachefiles import FileArea, LocalFiles
from twisted_pypi.storage.catalog import Catalog, file_of, read_catalog
from twisted_pypi.storage.jsonstore import JSON_AREA, JsonStore
from twisted_pypi.storage.layout import TMP_DIR
from twisted_pypi.storage.metacatalog import CATALOG_AREA, CATALOG_SUFFIX
from twisted_pypi.storage.pagestore import PAGES_AREA, PageStore
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.storage.recordstore import IRecordStore

__all__ = [
    "CacheDir",
    "CachedFile",
    "CachedPage",
    "Purged",
    "Verdict",
]

#: The hashes ``verify`` may check, best first.
_HASHES = ("sha256", "sha512", "sha384", "blake2b", "sha224", "sha1", "md5")


@frozen
class CachedFile:
    """
    A complete file in the cache.

    :ivar segments: Its place: ``(index, scheme, host, *path)``.
    :ivar size: Its size in bytes.
    """

    segments: tuple[str, ...]
    size: int

    @property
    def index(self) -> str:
        """
        The name of the index the file came from.
        """
        return self.segments[0]

    @property
    def project(self) -> str | None:
        """
        The normalized project the file's name says (or the name of the file
        whose ``.metadata`` it is), or ``None`` for a name that says none;
        the cached pages know better (see :meth:`CacheDir.catalog`).
        """
        name = self.segments[-1]
        return project_of_filename(name.removesuffix(METADATA))

    @property
    def path(self) -> str:
        """
        Its proxy URL path, ``files/...``.
        """
        return local_path(self.segments)


@frozen
class CachedPage:
    """
    A cached index page.

    :ivar index: The index's name.
    :ivar key: The normalized project, or :data:`LIST_KEY` for the list.
    :ivar fetched_at: When the upstream last confirmed it (seconds since the
        epoch), or ``None`` if the page cannot be read.
    """

    index: str
    key: str
    fetched_at: float | None


@frozen
class Verdict:
    """
    What ``verify`` found about one file.

    :ivar file: The file.
    :ivar outcome: ``"ok"``, ``"corrupt"`` (deleted) or ``"unverifiable"``
        (kept).
    :ivar reason: Why, for the last two.
    """

    file: CachedFile
    outcome: Literal["ok", "corrupt", "unverifiable"]
    reason: str = ""


@frozen
class Purged:
    """
    What a purge removed.

    :ivar files: The files.
    :ivar pages: The pages, as ``(index, key)``.
    :ivar documents: How many JSON API documents.
    :ivar metadata: How many records of the core metadata the proxy made
        (one per project and index; see
        :mod:`~twisted_pypi.storage.metacatalog`).
    """

    files: list[CachedFile] = field(factory=list)
    pages: list[tuple[str, str]] = field(factory=list)
    documents: int = 0
    metadata: int = 0


class CacheDir:
    """
    A proxy's cache directory (or shared store), read and changed in place.
    """

    def __init__(
        self,
        root: str,
        files: FileArea | None = None,
        pages: PageStore | None = None,
        documents: JsonStore | None = None,
        metadata: IRecordStore | None = None,
    ) -> None:
        """
        :param root: The cache directory (``--cache-dir``).
        :param files: Where the files are, if not in ``root``.
        :param pages: Where the pages are, if not in ``root``.
        :param documents: Where the JSON API documents are, if not in
            ``root``.
        :param metadata: Where the records of the core metadata the proxy
            made are, if not in ``root``.
        """
        self.root = FilePath(root)
        self._files = files if files is not None else LocalFiles(self.root)
        self._pages = pages or PageStore.on_disk(self.root.child(PAGES_AREA))
        self._documents = documents or JsonStore.on_disk(self.root.child(JSON_AREA))
        self._metadata = metadata or LocalRecords(
            self.root.child(CATALOG_AREA), CATALOG_SUFFIX
        )

    @property
    def where(self) -> str:
        """What holds the files: the directory, or the store's URL."""
        return (
            self.root.path if isinstance(self._files, LocalFiles) else str(self._files)
        )

    def files(self) -> list[CachedFile]:
        """
        Every complete file, sorted by place.
        """
        found = [
            CachedFile(segments, size)
            for segments, size in self._files.walk()
            if len(segments) >= 4
        ]
        return sorted(found, key=lambda f: f.segments)

    def indexes(self) -> list[str]:
        """
        The names of the indexes that have cached pages.
        """
        return self._pages.indexes()

    def pages(self) -> list[CachedPage]:
        """
        Every cached page, sorted by index and key.
        """
        pages = []
        for index in self.indexes():
            for key in self._pages.keys(index):
                stored = self._pages.load(index, key)
                fetched = stored.fetched_at if stored is not None else None
                pages.append(CachedPage(index, key, fetched))
        return pages

    def partial_downloads(self) -> int:
        """
        How many partial downloads ``tmp/`` holds.
        """
        try:
            return len(os.listdir(self.root.child(TMP_DIR).path))
        except OSError:
            return 0

    def remove_file(self, file: CachedFile) -> bool:
        """
        Delete a cached file (and the directories it leaves empty).

        :return: Whether it was there.
        """
        return self._files.remove(file.segments)

    def catalog(self, files: list[CachedFile] | None = None) -> Catalog:
        """
        Which project's cached page lists each cached file, with the hashes
        it gives: every cached project page read once (blocking).

        :param files: The files to look for; every cached file by default.
        """
        if files is None:
            files = self.files()
        return read_catalog(self._pages, {file_of(f.segments) for f in files})

    def purge_project(self, project: str) -> Purged:
        """
        Delete a project's pages, JSON API documents and files, on every
        index.

        :param project: The normalized project name.
        """
        [purged] = self.purge_projects([project])
        return purged

    def purge_projects(self, projects: list[str]) -> list[Purged]:
        """
        Delete each project's pages, JSON API documents and files, on every
        index: the files its cached pages list (whatever their names, and
        with their ``.metadata``), and those whose names say it; and the
        records of the core metadata the proxy made of its wheels (else a
        page would advertise, by their hashes, metadata the proxy may no
        longer be able to serve).

        :param projects: Normalized project names.
        :return: What was deleted, for each project in turn.
        """
        files = self.files()
        catalog = self.catalog(files)  # before the pages that list them go
        results = []
        for project in projects:
            pages = [
                (i, project) for i in self.indexes() if self._pages.remove(i, project)
            ]
            documents = sum(
                len(self._documents.remove_project(i, project))
                for i in self._documents.indexes()
            )
            gone = [
                f
                for f in files
                if project in catalog.projects(f.segments) and self.remove_file(f)
            ]
            metadata = sum(
                self._metadata.remove(i, project) for i in self._metadata.indexes()
            )
            results.append(Purged(gone, pages, documents, metadata))
        return results

    def purge_lists(self) -> Purged:
        """
        Delete the project list of every index.
        """
        return Purged(
            pages=[
                (i, LIST_KEY) for i in self.indexes() if self._pages.remove(i, LIST_KEY)
            ]
        )

    def purge_all(self) -> Purged:
        """
        Delete every page, JSON API document, file and record of core
        metadata (not partial downloads).
        """
        pages = [
            (p.index, p.key) for p in self.pages() if self._pages.remove(p.index, p.key)
        ]
        documents = 0
        for index in self._documents.indexes():
            for key in self._documents.keys(index):
                if self._documents.remove(index, key):
                    documents += 1
        files = [f for f in self.files() if self.remove_file(f)]
        metadata = sum(
            self._metadata.remove(index, key)
            for index in self._metadata.indexes()
            for key in self._metadata.keys(index)
        )
        return Purged(files, pages, documents, metadata)

    def verify(self) -> Iterator[Verdict]:
        """
        Re-hash every cached file against the hash the cached page listing
        it gives (whatever the file's name), deleting the files that do not
        match; a file no cached page lists, or without a usable hash, is
        unverifiable and kept.
        """
        files = self.files()
        catalog = self.catalog(files)
        for file in files:
            listing = catalog.listing(file.segments)
            if listing is not None:
                yield self._check(file, listing.dist)
                continue
            project = file.project
            if project is None:
                why = "no cached page lists it"
            elif (file.index, project) in catalog.pages:
                why = "its cached page does not list it"
            else:
                why = f"no cached page of {project} on {file.index}"
            yield Verdict(file, "unverifiable", why)

    def _check(self, file: CachedFile, dist: DistFile) -> Verdict:
        """
        Compare one file with what its page says; delete it if it differs.

        :param file: The file, or a ``.metadata``.
        :param dist: The file as its page lists it.
        """
        is_metadata = file.segments[-1].endswith(METADATA)
        size = None if is_metadata else dist.size
        hashes = dist.hashes
        if is_metadata:
            metadata = dist.core_metadata
            hashes = metadata if isinstance(metadata, Mapping) else {}
        name = next((h for h in _HASHES if h in hashes), None)
        if name is None:
            return Verdict(file, "unverifiable", "its page gives no usable hash")
        if size is not None and size != file.size:
            reason = f"{file.size} bytes, the index says {size}"
        else:
            digest = self._files.digest(file.segments, name)
            if digest is None:
                return Verdict(file, "unverifiable", "it vanished or is unreadable")
            if digest == hashes[name].lower():
                return Verdict(file, "ok")
            reason = f"{name} {digest}, the index says {hashes[name]}"
        self.remove_file(file)
        return Verdict(file, "corrupt", reason)
