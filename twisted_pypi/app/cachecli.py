# -*- test-case-name: tests.storage.test_cachedir -*-
"""
``pypiproxy cache list|stats|purge|verify``: the cache directory, worked on
directly (see :mod:`.cachedir`; safe while a proxy runs on it).

The cache directory is ``--cache-dir``, else ``PYPIPROXY_CACHE_DIR``, else
the ``cache-dir`` of the ``--config`` file (or of ``PYPIPROXY_CONFIG``), else
the user's cache directory, as for ``pypiproxy serve``.  With ``--store``
(found the same way, with ``--s3-endpoint`` and ``--s3-region``) the
commands work on the shared store's files, pages and documents instead; the
cache directory then only gives the count of this node's partial downloads.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import IO

from twisted.python import usage

from twisted_pypi.app.argorder import GnuOptions
from twisted_pypi.app.configfile import CONFIG_ENV, ENV_PREFIX, load_file
from twisted_pypi.app.storecompose import bucket_files, record_store
from twisted_pypi.core.config import ProxyConfig, StoreConfig, parse_store
from twisted_pypi.core.lookup import LIST_KEY
from twisted_pypi.core.names import is_valid_project_name, normalize
from twisted_pypi.core.sizes import format_size
from twisted_pypi.storage.cachedir import CacheDir, Purged
from twisted_pypi.storage.jsonstore import JSON_AREA, JsonStore
from twisted_pypi.storage.metacatalog import CATALOG_AREA, CATALOG_SUFFIX
from twisted_pypi.storage.pagestore import PAGES_AREA, PageStore

__all__ = [
    "CacheOptions",
    "ListOptions",
    "PurgeOptions",
    "StatsOptions",
    "VerifyOptions",
    "find_cache_dir",
    "run",
]


class _CacheDirOptions(GnuOptions):
    """
    What every ``pypiproxy cache`` command takes.
    """

    optParameters = [
        [
            "cache-dir",
            None,
            None,
            "The proxy's cache directory [default: as 'pypiproxy serve' finds it].",
        ],
        ["config", None, None, "Read cache-dir from this TOML settings file."],
        ["store", None, None, "Work on this shared store: s3://BUCKET[/PREFIX]."],
        ["s3-endpoint", None, None, "The URL of the S3-compatible server of --store."],
        ["s3-region", None, None, "The region of --store [default: us-east-1]."],
    ]

    #: Where ``PYPIPROXY_*`` settings are read from (tests replace it).
    environ: Mapping[str, str] = os.environ

    def postOptions(self) -> None:
        found = [
            _setting(name, self[name], self["config"], self.environ)
            for name in ("store", "s3-endpoint", "s3-region")
        ]
        try:
            self["store"] = parse_store(*found)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        self["cache-dir"] = find_cache_dir(
            self["cache-dir"],
            self["config"],
            self.environ,
            must_exist=self["store"] is None,
        )


def _setting(
    name: str, given: str | None, config: str | None, environ: Mapping[str, str]
) -> str | None:
    """
    An option's value: given, else ``PYPIPROXY_<NAME>``, else the settings
    file's (``--config`` or ``PYPIPROXY_CONFIG``).

    :raises usage.UsageError: If the file's value is not a string.
    """
    value = given or environ.get(ENV_PREFIX + name.upper().replace("-", "_")) or None
    config = config or environ.get(CONFIG_ENV) or None
    if value is None and config is not None:
        value = load_file(config).get(name)
        if value is not None and not isinstance(value, str):
            raise usage.UsageError(f"{config}: setting {name!r} must be a string")
    return value


def find_cache_dir(
    given: str | None,
    config: str | None,
    environ: Mapping[str, str],
    must_exist: bool = True,
) -> str:
    """
    The cache directory, by the precedence of ``pypiproxy serve``.

    :param given: ``--cache-dir``, or ``None``.
    :param config: ``--config``, or ``None``.
    :param environ: The environment.
    :param must_exist: Whether a directory that does not exist is an error
        (with a shared store, it need not exist).
    :raises usage.UsageError: If the settings file cannot be read, or its
        ``cache-dir`` is not a string, or the directory does not exist.
    """
    path = given or environ.get(ENV_PREFIX + "CACHE_DIR") or None
    config = config or environ.get(CONFIG_ENV) or None
    if path is None and config is not None:
        value = load_file(config).get("cache-dir")
        if value is not None and not isinstance(value, str):
            raise usage.UsageError(f"{config}: setting 'cache-dir' must be a string")
        path = value
    if path is None:
        from twisted_pypi.app.tap import default_cache_dir

        path = default_cache_dir()
    path = os.path.abspath(os.path.expanduser(path))
    if must_exist and not os.path.isdir(path):
        raise usage.UsageError(f"the cache directory {path!r} does not exist")
    return path


class ListOptions(_CacheDirOptions):
    """
    ``pypiproxy cache list [PROJECT...]``.
    """

    synopsis = "pypiproxy cache list [options] [PROJECT...]"

    def parseArgs(self, *projects: str) -> None:
        self["projects"] = _projects(projects)


class StatsOptions(_CacheDirOptions):
    """
    ``pypiproxy cache stats``.
    """

    synopsis = "pypiproxy cache stats [options]"


class PurgeOptions(_CacheDirOptions):
    """
    ``pypiproxy cache purge PROJECT...|--list|--all``.
    """

    synopsis = "pypiproxy cache purge [options] PROJECT...|--list|--all"
    longdesc = (
        "Delete the cached pages, JSON API documents and files of each "
        "PROJECT (the files its cached pages list, whatever their names), "
        "the project lists (--list), or everything (--all)."
    )
    optFlags = [
        ["all", None, "Delete every cached page, document and file."],
        ["list", None, "Delete the cached project list of every index."],
    ]

    def parseArgs(self, *projects: str) -> None:
        self["projects"] = _projects(projects)

    def postOptions(self) -> None:
        if not (self["projects"] or self["list"] or self["all"]):
            raise usage.UsageError("name a PROJECT, or give --list or --all")
        if self["all"] and self["projects"]:
            raise usage.UsageError("--all deletes every project: name none")
        super().postOptions()


class VerifyOptions(_CacheDirOptions):
    """
    ``pypiproxy cache verify``.
    """

    synopsis = "pypiproxy cache verify [options]"
    longdesc = (
        "Re-hash every cached file with the hash the cached page listing it "
        "gives, whatever the file's name, and delete those that do not match. "
        "Files no cached page lists are reported as unverifiable and kept. "
        "Exits with 1 if any file was corrupt."
    )


class CacheOptions(GnuOptions):
    """
    ``pypiproxy cache <command>``.
    """

    synopsis = "pypiproxy cache <list|stats|purge|verify> [options]"
    subCommands = [
        ["list", None, ListOptions, "List the cached pages and files."],
        ["stats", None, StatsOptions, "Count the cached pages and files."],
        ["purge", None, PurgeOptions, "Delete projects, the lists, or everything."],
        ["verify", None, VerifyOptions, "Re-hash the files; delete corrupt ones."],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a command is required: list, stats, purge, verify")


def _projects(names: tuple[str, ...]) -> list[str]:
    for name in names:
        if not is_valid_project_name(name):
            raise usage.UsageError(f"{name!r} is not a valid project name")
    return [normalize(name) for name in names]


def run(options: CacheOptions, out: IO[str] | None = None) -> int:
    """
    Run a ``pypiproxy cache`` command.

    :param options: The parsed options.
    :param out: Where the report goes; standard output by default.
    :return: The exit code.
    """
    out = out or sys.stdout
    sub = options.subOptions
    cache = _cache(sub["cache-dir"], sub["store"])
    if options.subCommand == "list":
        return _list(cache, sub["projects"], out)
    if options.subCommand == "stats":
        return _stats(cache, out)
    if options.subCommand == "purge":
        return _purge(cache, sub, out)
    return _verify(cache, out)


def _cache(cache_dir: str, store: StoreConfig | None) -> CacheDir:
    """The cache directory, or the shared store, to work on."""
    if store is None:
        return CacheDir(cache_dir)
    config = ProxyConfig(cache_dir=cache_dir, store=store)
    return CacheDir(
        cache_dir,
        bucket_files(config, store),
        PageStore(record_store(config, PAGES_AREA, ".page")),
        JsonStore(record_store(config, JSON_AREA, ".json")),
        record_store(config, CATALOG_AREA, CATALOG_SUFFIX),
    )


def _list(cache: CacheDir, projects: list[str], out: IO[str]) -> int:
    wanted = set(projects)
    for page in cache.pages():
        if wanted and page.key not in wanted:
            continue
        what = "(project list)" if page.key == LIST_KEY else page.key
        when = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(page.fetched_at))
            if page.fetched_at is not None
            else "unreadable"
        )
        out.write(f"page  {page.index}  {what}  fetched {when}\n")
    files = cache.files()
    catalog = cache.catalog(files)
    for file in files:
        owners = catalog.projects(file.segments)
        if wanted and not wanted & owners:
            continue
        owner = ",".join(sorted(owners)) or "-"
        out.write(f"file  {file.index}  {owner}  {file.size}  {file.path}\n")
    return 0


def _stats(cache: CacheDir, out: IO[str]) -> int:
    files = cache.files()
    pages = cache.pages()
    out.write(f"cache directory    {cache.root.path}\n")
    if cache.where != cache.root.path:
        out.write(f"store              {cache.where}\n")
    out.write(
        f"files              {len(files)} ({format_size(sum(f.size for f in files))})\n"
    )
    for index in sorted({f.index for f in files}):
        mine = [f for f in files if f.index == index]
        size = format_size(sum(f.size for f in mine))
        out.write(f"  {index:<16} {len(mine)} ({size})\n")
    lists = sum(1 for p in pages if p.key == LIST_KEY)
    out.write(f"project pages      {len(pages) - lists}\n")
    out.write(f"project lists      {lists}\n")
    out.write(f"partial downloads  {cache.partial_downloads()}\n")
    return 0


def _purge(cache: CacheDir, options: PurgeOptions, out: IO[str]) -> int:
    results: list[Purged] = []
    if options["all"]:
        results.append(cache.purge_all())
    else:
        results.extend(cache.purge_projects(options["projects"]))
        if options["list"]:
            results.append(cache.purge_lists())
    for result in results:
        for index, key in result.pages:
            what = "project list" if key == LIST_KEY else f"page {key}"
            out.write(f"deleted {what} of {index}\n")
        for file in result.files:
            out.write(f"deleted {file.path}\n")
    files = sum(len(r.files) for r in results)
    pages = sum(len(r.pages) for r in results)
    documents = sum(r.documents for r in results)
    metadata = sum(r.metadata for r in results)
    out.write(
        f"{pages} pages, {documents} JSON documents, {files} files, "
        f"{metadata} core metadata records deleted\n"
    )
    return 0


def _verify(cache: CacheDir, out: IO[str]) -> int:
    counts = {"ok": 0, "corrupt": 0, "unverifiable": 0}
    for verdict in cache.verify():
        counts[verdict.outcome] += 1
        if verdict.outcome == "corrupt":
            out.write(f"corrupt, deleted: {verdict.file.path}: {verdict.reason}\n")
        elif verdict.outcome == "unverifiable":
            out.write(f"unverifiable, kept: {verdict.file.path}: {verdict.reason}\n")
    out.write(
        f"{counts['ok']} good, {counts['corrupt']} corrupt (deleted), "
        f"{counts['unverifiable']} unverifiable\n"
    )
    return 1 if counts["corrupt"] else 0
