# -*- test-case-name: tests.mirror.test_export -*-
"""
``pypiproxy export DIR``: write what an ``--offline`` proxy on the same cache
would serve as a static tree that any web server or object store can serve::

    DIR/simple/index.html                     PEP 503 project list
    DIR/simple/index.v1_json                  PEP 691 project list
    DIR/simple/<project>/index.html           PEP 503 project page
    DIR/simple/<project>/index.v1_json        PEP 691 project page
    DIR/packages/<project>/<file>             the files (hard links if possible)
    DIR/packages/<project>/<file>.metadata    their core metadata, if cached
    DIR/.pypiproxy-export.json                what was exported (the manifest)

Links are relative (``../../packages/<project>/<file>#sha256=...``), so the
tree works at any URL and as a ``file://`` index.  Pages list only cached
files, as offline; dummies and local indexes are exported too.  The export
is incremental: a project whose rendered pages are unchanged since the last
export (by the manifest) is not rewritten, files already in place are kept,
and projects and files that went away are deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO
from urllib.parse import quote

from attrs import define, field
from twisted.python import usage
from twisted.python.filepath import FilePath

from twisted_pypi.app.service import make_page_caches
from twisted_pypi.app.tap import Options as ServeOptions
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.links import METADATA, local_segments, metadata_segments
from twisted_pypi.core.lookup import LIST_KEY
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.render import (
    render_list_html,
    render_list_json,
    render_project_html,
    render_project_json,
)
from twisted_pypi.sources.dummies import DUMMY_PREFIX, Dummies
from twisted_pypi.sources.local import LOCAL_PREFIX, LocalIndex
from twisted_pypi.sources.offline import OfflineClient, offline_routers
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.records import write_atomically

#: The manifest's name, in the export's root.
MANIFEST = ".pypiproxy-export.json"

#: The names of the pages in each directory of ``simple/``.
HTML_PAGE = "index.html"
JSON_PAGE = "index.v1_json"


class ExportOptions(ServeOptions):
    """
    The options of ``pypiproxy export``: those of ``serve`` that choose the
    indexes, the cache and the dummies, and the directory.
    """

    synopsis = "[options] DIR"
    longdesc = (
        "Write what the cache holds, as an --offline proxy with the same options "
        "would serve it, to DIR as a static index: PEP 503 HTML and PEP 691 JSON "
        "pages under DIR/simple/, files under DIR/packages/, with relative "
        "links. Only projects that changed since the last export to DIR are "
        "rewritten. Nothing is fetched."
    )

    def opt_listen(self, description: str) -> None:
        """
        Ignored: an option of serve (accepted so that export can read the
        proxy's --config file).
        """

    def parseArgs(self, *args: str) -> None:
        """
        The directory to export to (created if needed).
        """
        if len(args) != 1:
            raise usage.UsageError("give one directory to export to")
        self["directory"] = os.path.abspath(os.path.expanduser(args[0]))


@define
class ExportReport:
    """
    What an export did.

    :ivar projects: The projects exported.
    :ivar written: Those whose pages were (re)written.
    :ivar removed: Projects of the previous export that are gone.
    :ivar linked: Files hard-linked from the cache or a local index.
    :ivar copied: Files copied (no hard link possible) or written.
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
        directory: FilePath[str],
        pages: Sequence[PageCache],
        cache: FileCache,
        local: Sequence[LocalIndex],
        dummies: Dummies,
    ) -> None:
        """
        :param directory: The export's root.
        :param pages: The remote indexes' page caches.
        :param cache: The file cache.
        :param local: The local indexes.
        :param dummies: The dummy projects.
        """
        self._dir = directory
        self._pages = pages
        self._cache = cache
        self._local = {index.config.name: index for index in local}
        self._dummies = dummies
        self.report = ExportReport()

    async def sources(
        self, project: str, dist: DistFile
    ) -> tuple[FilePath[str] | bytes, bytes | None]:
        """
        Where a listed file's bytes come from and its ``.metadata``.

        :param project: The project.
        :param dist: One of the files its page lists.
        :return: The file (a path to link, or the bytes of a dummy) and its
            ``.metadata`` (``None`` unless the page advertises it).
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
            if segments is None or self._cache.lookup(segments) is None:
                continue
            meta = None
            if wanted:
                meta = self._cache.path_for(metadata_segments(segments)).getContent()
            return self._cache.path_for(segments), meta
        raise ValueError(f"{filename} of {project} is not cached")

    async def write_files(self, project: str, page: ProjectPage) -> list[str]:
        """
        Put a project's files and ``.metadata`` in place.

        :return: Their paths relative to the export's root.
        """
        folder = self._dir.child("packages").child(project)
        folder.makedirs(ignoreExistingDirectory=True)
        written: list[str] = []
        for dist in page.files:
            target = folder.child(dist.filename)
            source, meta = await self.sources(project, dist)
            if isinstance(source, bytes):
                if not target.exists() or target.getContent() != source:
                    write_atomically(target, source)
                    self.report.copied += 1
            elif not target.exists() or target.getsize() != source.getsize():
                self._place(source, target)
            written.append(f"packages/{project}/{dist.filename}")
            if meta is not None:
                _write_if_changed(folder.child(dist.filename + METADATA), meta)
                written.append(f"packages/{project}/{dist.filename}{METADATA}")
        return written

    def _place(self, source: FilePath[str], target: FilePath[str]) -> None:
        """Hard-link ``source`` to ``target`` (atomically), else copy it."""
        temp = target.temporarySibling(".part")
        try:
            os.link(source.path, temp.path)
            self.report.linked += 1
        except OSError:
            shutil.copyfile(source.path, temp.path)
            self.report.copied += 1
        os.replace(temp.path, target.path)


def _link(project: str) -> Callable[[DistFile], str]:
    """The relative link from a project's page to one of its files."""

    def link(dist: DistFile) -> str:
        """The file's relative URL."""
        return f"../../packages/{project}/{quote(dist.filename)}"

    return link


def _read_manifest(path: FilePath[str]) -> dict[str, Any]:
    """The previous export's manifest; empty if there is none."""
    try:
        manifest = json.loads(path.getContent())
    except (OSError, ValueError):
        return {}
    projects = manifest.get("projects") if isinstance(manifest, dict) else None
    return projects if isinstance(projects, dict) else {}


def _remove(root: FilePath[str], relative: str) -> None:
    """Delete a file of the export, if it is there."""
    try:
        os.remove(root.preauthChild(relative).path)
    except FileNotFoundError:
        pass


def _write_if_changed(path: FilePath[str], data: bytes) -> None:
    """Write ``data`` atomically unless ``path`` holds it already."""
    try:
        if path.getContent() == data:
            return
    except OSError:
        pass
    write_atomically(path, data)


async def export_tree(
    directory: FilePath[str],
    pages: Sequence[PageCache],
    cache: FileCache,
    local: Sequence[LocalIndex],
    config: ProxyConfig,
) -> ExportReport:
    """
    Export what the cache holds to ``directory``.

    :param directory: The export's root (created if needed).
    :param pages: The remote indexes' page caches (with offline clients).
    :param cache: The file cache.
    :param local: The local indexes.
    :param config: The routes, merges, dummies and base URL.
    """
    router, real_pages = offline_routers(config, pages, cache, local)
    ttl = min((p.index.ttl for p in pages), default=600.0)
    dummies = Dummies(config.dummies, real_pages, None, ttl)
    exporter = _Exporter(directory, pages, cache, local, dummies)
    names: set[str] = set(dummies.specs)
    for page_cache in pages:
        names.update(k for k in page_cache.store.keys(page_cache.index.name))
    names.discard(LIST_KEY)
    for index in local:
        listed = (await index.get_list()).entry
        names.update(getattr(listed.page, "names", ()) if listed else ())
    manifest_path = directory.child(MANIFEST)
    old = _read_manifest(manifest_path)
    new: dict[str, Any] = {}
    report = exporter.report
    for project in sorted(names):
        if project in dummies.specs:
            lookup = await dummies.page(project)
        else:
            lookup = await router.get_project(project)
        if lookup.entry is None or not isinstance(lookup.entry.page, ProjectPage):
            continue
        page = lookup.entry.page
        html = render_project_html(page, _link(project))
        body = render_project_json(page, _link(project))
        digest = hashlib.sha256(html + b"\0" + body).hexdigest()
        report.projects.append(project)
        known = old.get(project)
        if (
            isinstance(known, dict)
            and known.get("digest") == digest
            and all(directory.preauthChild(f).exists() for f in known["files"])
        ):
            new[project] = known
            continue
        files = await exporter.write_files(project, page)
        folder = directory.child("simple").child(project)
        write_atomically(folder.child(HTML_PAGE), html)
        write_atomically(folder.child(JSON_PAGE), body)
        if isinstance(known, dict):
            for gone in set(known.get("files", ())) - set(files):
                _remove(directory, gone)
        new[project] = {"digest": digest, "files": files}
        report.written.append(project)
    for project in sorted(set(old) - set(new)):
        shutil.rmtree(directory.child("simple").child(project).path, True)
        shutil.rmtree(directory.child("packages").child(project).path, True)
        report.removed.append(project)
    _write_list(directory, report.projects)
    write_atomically(
        manifest_path,
        json.dumps({"version": 1, "projects": new}, indent=1, sort_keys=True).encode(),
    )
    return report


def _write_list(directory: FilePath[str], projects: list[str]) -> None:
    """The project list, in both formats, rewritten only if it changed."""
    listing = ProjectList(names=tuple(projects), api_version=(1, 1))
    simple = directory.child("simple")

    def link(name: str) -> str:
        """The project page's relative URL."""
        return f"{name}/"

    _write_if_changed(simple.child(HTML_PAGE), render_list_html(listing, link))
    _write_if_changed(simple.child(JSON_PAGE), render_list_json(listing, link))


async def run_export(reactor: Any, options: Mapping[str, Any], err: TextIO) -> int:
    """
    Export the cache as ``options`` say and print a summary.

    :param reactor: The running reactor.
    :param options: Parsed :class:`ExportOptions`.
    :param err: Where the summary goes.
    :return: The exit code: 0, or 1 if the export failed.
    """
    config: ProxyConfig = options["config"]
    root = FilePath(config.cache_dir)
    cache = FileCache(root, None, reactor)
    pages = make_page_caches(config, OfflineClient(), reactor, cache)
    local = [LocalIndex(c, config.base_url) for c in config.locals]
    directory = FilePath(options["directory"])
    try:
        report = await export_tree(directory, pages, cache, local, config)
    except (OSError, ValueError) as e:
        err.write(f"pypiproxy export: {e}\n")
        return 1
    err.write(f"{report.describe()} to {directory.path}\n")
    others = _other_indexes(root, {index.name for index in config.indexes})
    if others:
        err.write(
            f"note: the cache also holds pages of {', '.join(others)}; give export"
            " the --index options of the proxy to export them\n"
        )
    return 0


def _other_indexes(root: FilePath[str], names: set[str]) -> list[str]:
    """The names of the indexes whose pages the cache holds, but not ``names``."""
    try:
        found = root.child("pages").listdir()
    except OSError:
        return []
    return sorted(set(found) - names)


async def main(reactor: Any, options: Mapping[str, Any]) -> None:
    """
    The ``pypiproxy export`` command, for ``twisted.internet.task.react``.

    :param reactor: The running reactor.
    :param options: Parsed :class:`ExportOptions`.
    :raises SystemExit: With code 1 when the export failed.
    """
    code = await run_export(reactor, options, sys.stderr)
    if code:
        raise SystemExit(code)
