# -*- test-case-name: tests.mirror.test_export -*-
"""
``pypiproxy export DIR`` (or ``s3://BUCKET/PREFIX``): write what an
``--offline`` proxy on the same cache would serve as a static tree that
any web server or object store can serve::

    DIR/simple/index.html                     PEP 503 project list
    DIR/simple/index.v1_json                  PEP 691 project list
    DIR/simple/<project>/index.html           PEP 503 project page
    DIR/simple/<project>/index.v1_json        PEP 691 project page
    DIR/packages/<project>/<file>             the files (hard links if possible)
    DIR/packages/<project>/<file>.metadata    their core metadata, if cached
    DIR/find-links.html                       every file, for ``--find-links``
DIR/.pypiproxy-export.json                what was exported (the manifest)

Links are relative (``../../packages/<project>/<file>#sha256=...``), so the
tree works at any URL and as a ``file://`` index.  Pages list only cached
files, as offline; dummies and local indexes are exported too.  The export
is incremental: a project whose rendered pages are unchanged since the last
export (by the manifest) is not rewritten, files already in place are kept,
and projects and files that went away are deleted.  The same tree goes to
a bucket's prefix with content types set, for the bucket's website
endpoint or a CDN (see :mod:`~twisted_pypi.mirror.exporttree`, which does
the writing).

With a shared store (``--store``), the files the store holds are exported
whether or not this node has a local copy: those it lacks are read through
the store.

The options and the wiring of the command are in
:mod:`twisted_pypi.app.exportcli`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from attrs import define, field
from twisted.python.filepath import FilePath

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.links import (
    METADATA,
    RELATIVE,
    local_segments,
    metadata_segments,
)
from twisted_pypi.core.lookup import LIST_KEY, LookupFailed
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.render import no_file_link, render_page
from twisted_pypi.files.metadata import (
    MetadataFiles,
    MetadataUnreachable,
    synthesizes,
)
from twisted_pypi.mirror.exporttree import DirectoryTree, ExportTree, Placed
from twisted_pypi.mirror.findlinks import FIND_LINKS, render_find_links
from twisted_pypi.sources.dummies import DUMMY_PREFIX, Dummies
from twisted_pypi.sources.local import LOCAL_PREFIX, LocalIndex
from twisted_pypi.sources.offline import offline_routers
from twisted_pypi.sources.policyview import policy_pages
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.interfaces import IFileReader
from twisted_pypi.storage.readout import copy_to_path, read_bytes
from twisted_pypi.storage.s3files import S3FileStore

__all__ = ["HTML_PAGE", "JSON_PAGE", "MANIFEST", "ExportReport", "export_tree"]

#: The manifest's name, in the export's root.
MANIFEST = ".pypiproxy-export.json"

#: The names of the pages in each directory of ``simple/``.
HTML_PAGE = "index.html"
JSON_PAGE = "index.v1_json"


@define
class ExportReport:
    """
    What an export did.

    :ivar projects: The projects exported.
    :ivar written: Those whose pages were (re)written.
    :ivar removed: Projects of the previous export that are gone.
    :ivar linked: Files hard-linked from the cache or a local index.
    :ivar copied: Files copied (no hard link possible), written or uploaded.
    """

    projects: list[str] = field(factory=list)
    written: list[str] = field(factory=list)
    removed: list[str] = field(factory=list)
    linked: int = 0
    copied: int = 0

    def describe(self) -> str:
        """A one-line summary."""
        unchanged = len(self.projects) - len(self.written)
        return (
            f"exported {len(self.projects)} projects ({len(self.written)} written,"
            f" {unchanged} unchanged, {len(self.removed)} removed);"
            f" {self.linked} files linked, {self.copied} copied"
        )


class _Exporter:
    """
    Writes one export.
    """

    def __init__(
        self,
        tree: ExportTree,
        pages: Sequence[PageCache],
        cache: FileCache,
        local: Sequence[LocalIndex],
        dummies: Dummies,
        metadata: MetadataFiles | None = None,
    ) -> None:
        """
        :param tree: The export's root.
        :param pages: The remote indexes' page caches.
        :param cache: The file cache.
        :param local: The local indexes.
        :param dummies: The dummy projects.
        :param metadata: Makes the ``.metadata`` of cached wheels whose
            index offers none, if they lack it.
        """
        self._tree = tree
        self._pages = pages
        self._cache = cache
        self._local = {index.config.name: index for index in local}
        self._dummies = dummies
        self._metadata = metadata
        self.report = ExportReport()

    async def complete_metadata(self, project: str, page: ProjectPage) -> bool:
        """
        Read the ``.metadata`` of the cached wheels of ``page`` whose index
        offers none and that the cache does not keep yet (wheels cached
        before the proxy made metadata).

        :return: Whether any was made (the page then advertises it).
        """
        made = False
        if self._metadata is None:
            return made
        for dist in page.files:
            if not synthesizes(dist) or dist.core_metadata:
                continue
            for pages in self._pages:
                segments = local_segments(pages.index.name, dist.url)
                if segments is None or self._cache.stat(segments) is None:
                    continue
                try:
                    await self._metadata.obtain(dist, segments, project, True)
                except MetadataUnreachable:
                    continue
                made = True
                break
        return made

    async def sources(
        self, project: str, dist: DistFile
    ) -> tuple[FilePath[str] | bytes | IFileReader, bytes | None]:
        """
        Where a listed file's bytes come from and its ``.metadata``.

        :param project: The project.
        :param dist: One of the files its page lists.
        :return: The file (a path to link, the bytes of a dummy, or a stored
            file with no local copy, open) and its ``.metadata`` (``None``
            unless the page advertises it).
        """
        wanted = bool(dist.core_metadata)
        filename = dist.filename
        if dist.url.startswith(DUMMY_PREFIX + ":"):
            content = await self._dummies.file(project, filename)
            meta = await self._dummies.file(project, filename + METADATA)
            assert content is not None
            return content, meta if wanted else None
        if dist.url.startswith(LOCAL_PREFIX + ":"):
            index = self._local[dist.url[len(LOCAL_PREFIX) + 1 :].partition("/")[0]]
            local = await index.file(filename)
            path = FilePath(index.directory).child(filename)
            return path, local.metadata if wanted and local is not None else None
        for pages in self._pages:
            segments = local_segments(pages.index.name, dist.url)
            if segments is None or self._cache.stat(segments) is None:
                continue
            meta = None
            if wanted:
                meta = await read_bytes(self._cache, metadata_segments(segments))
            copy = self._cache.lookup(segments)
            if copy is not None:
                return copy, meta
            # In a shared store, not on this node's disk: read through it.
            reader = self._cache.open(segments)
            if reader is not None:
                return reader, meta
        raise ValueError(f"{filename} of {project} is not cached")

    async def write_files(self, project: str, page: ProjectPage) -> list[str]:
        """
        Put a project's files and ``.metadata`` in place.

        :return: Their paths relative to the export's root.
        """
        written: list[str] = []
        for dist in page.files:
            relative = f"packages/{project}/{dist.filename}"
            source, meta = await self.sources(project, dist)
            if not isinstance(source, (bytes, FilePath)):
                placed = await self._place_stored(relative, source)
            else:
                placed = await self._tree.place(relative, source)
            if placed == "linked":
                self.report.linked += 1
            elif placed == "copied":
                self.report.copied += 1
            written.append(relative)
            if meta is not None:
                await self._tree.write(relative + METADATA, meta)
                written.append(relative + METADATA)
        return written

    async def _place_stored(self, relative: str, reader: IFileReader) -> Placed:
        """
        Put in place a file that is in the shared store but not on this
        node's disk: unless the tree holds it with its size, through a
        temporary local copy read from the store.
        """
        if await self._tree.size_of(relative) == reader.stat.size:
            reader.close()
            return "kept"
        fd, temp = tempfile.mkstemp(prefix="export-", suffix=".part")
        os.close(fd)
        try:
            await copy_to_path(reader, temp)
            await self._tree.place(relative, FilePath(temp))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temp)
        return "copied"


def _link(project: str) -> Callable[[DistFile], str]:
    """The relative link from a project's page to one of its files."""

    def link(dist: DistFile) -> str:
        """The file's relative URL."""
        return f"../../packages/{project}/{quote(dist.filename)}"

    return link


def _read_manifest(data: bytes | None) -> dict[str, Any]:
    """The previous export's manifest; empty if there is none."""
    try:
        manifest = json.loads(data or b"")
    except ValueError:
        return {}
    projects = manifest.get("projects") if isinstance(manifest, dict) else None
    return projects if isinstance(projects, dict) else {}


async def export_tree(
    directory: FilePath[str] | ExportTree,
    pages: Sequence[PageCache],
    cache: FileCache,
    local: Sequence[LocalIndex],
    config: ProxyConfig,
    metadata: MetadataFiles | None = None,
    snapshot: float | None = None,
) -> ExportReport:
    """
    Export what the cache holds to ``directory``, as a client of the proxy
    sees it now (or at ``snapshot``): the files the supply-chain policy
    holds back are left out.

    :param directory: The export's root: a directory (created if needed)
        or another tree.
    :param pages: The remote indexes' page caches (with offline clients).
    :param cache: The file cache.
    :param local: The local indexes.
    :param config: The routes, merges, dummies, base URL and policy.
    :param metadata: Makes the ``.metadata`` of cached wheels whose index
        offers none (see :meth:`_Exporter.complete_metadata`).
    :param snapshot: The moment of the snapshot to export, if any.
    """
    if isinstance(cache, S3FileStore):
        # What the store holds, whatever this node's disk has.
        cache.scan()
        if cache.listing is not None:
            await cache.listing
    indexes, real_pages = offline_routers(config, pages, cache, local)
    ttl = min((p.index.ttl for p in pages), default=600.0)
    dummies = Dummies(config.dummies, real_pages, RELATIVE, ttl)
    router = policy_pages(
        indexes.with_first(dummies), config.policy, cache.clock, snapshot
    )
    tree = DirectoryTree(directory) if isinstance(directory, FilePath) else directory
    await tree.load()
    exporter = _Exporter(tree, pages, cache, local, dummies, metadata)
    names: set[str] = set(dummies.specs)
    for page_cache in pages:
        names.update(await page_cache.stored_keys())
    names.discard(LIST_KEY)
    for index in local:
        try:
            listed = (await index.get_list()).entry
        except LookupFailed:
            continue
        names.update(getattr(listed.page, "names", ()))
    old = _read_manifest(await tree.read(MANIFEST))
    new: dict[str, Any] = {}
    exported: list[tuple[str, ProjectPage]] = []
    report = exporter.report
    for project in sorted(names):
        try:
            lookup = await (await router.get_project(project)).loaded()
        except LookupFailed:
            continue
        page = lookup.entry.page
        if not isinstance(page, ProjectPage):
            continue
        if await exporter.complete_metadata(project, page):
            lookup = await (await router.get_project(project)).loaded()
            page = lookup.entry.page
            assert isinstance(page, ProjectPage)
        html = render_page(page, False, _link(project), RELATIVE.project)
        body = render_page(page, True, _link(project), RELATIVE.project)
        digest = hashlib.sha256(html + b"\0" + body).hexdigest()
        report.projects.append(project)
        exported.append((project, page))
        known = old.get(project)
        if (
            isinstance(known, dict)
            and known.get("digest") == digest
            and await _all_there(tree, known["files"])
        ):
            new[project] = known
            continue
        files = await exporter.write_files(project, page)
        await tree.write(f"simple/{project}/{HTML_PAGE}", html)
        await tree.write(f"simple/{project}/{JSON_PAGE}", body)
        if isinstance(known, dict):
            for gone in set(known.get("files", ())) - set(files):
                await tree.remove(gone)
        new[project] = {"digest": digest, "files": files}
        report.written.append(project)
    for project in sorted(set(old) - set(new)):
        await tree.remove_folder(f"simple/{project}")
        await tree.remove_folder(f"packages/{project}")
        report.removed.append(project)
    await _write_list(tree, report.projects)
    await tree.write(FIND_LINKS, render_find_links(exported))
    await tree.write(
        MANIFEST,
        json.dumps({"version": 1, "projects": new}, indent=1, sort_keys=True).encode(),
    )
    return report


async def _all_there(tree: ExportTree, files: list[str]) -> bool:
    """Whether the tree holds every one of ``files``."""
    for relative in files:
        if not await tree.exists(relative):
            return False
    return True


async def _write_list(tree: ExportTree, projects: list[str]) -> None:
    """The project list, in both formats, rewritten only if it changed."""
    listing = ProjectList(names=tuple(projects), api_version=(1, 1))
    for name, as_json in ((HTML_PAGE, False), (JSON_PAGE, True)):
        body = render_page(listing, as_json, no_file_link, RELATIVE.project)
        await tree.write(f"simple/{name}", body)
