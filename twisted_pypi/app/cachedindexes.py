# -*- test-case-name: tests.app.test_cachedindexes -*-
"""
Which indexes a cache directory holds pages and files of, for the commands
that read the cache alone (``export``, ``serve --offline``).

Without ``--index`` they use the indexes the cache holds (their URLs
remembered by :func:`remember_indexes` when the proxy or ``warm`` used
them, or recovered from the stored pages).  Pages and files are kept per
index, so ``--index`` options naming other indexes than ``warm`` was given
would find nothing: that is an error naming the indexes found, never a
silent empty index.
"""

from __future__ import annotations

import os

from twisted.logger import Logger
from twisted.python import usage
from twisted.python.filepath import FilePath

from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.storage.indexmeta import (
    read_index_urls,
    record_index_urls,
    recover_index_url,
)
from twisted_pypi.storage.layout import FILES_DIR
from twisted_pypi.storage.pagestore import PAGES_AREA, PageStore

__all__ = [
    "cached_index_names",
    "cached_indexes",
    "check_cached_indexes",
    "remember_indexes",
]

log = Logger()


def cached_index_names(cache_dir: str) -> list[str]:
    """
    The names of the indexes whose pages or files ``cache_dir`` holds,
    sorted.

    :param cache_dir: The cache directory (it may not exist).
    """
    names: set[str] = set()
    for area in (PAGES_AREA, FILES_DIR):
        try:
            names.update(os.listdir(os.path.join(cache_dir, area)))
        except OSError:
            continue
    return sorted(names)


def check_cached_indexes(config: ProxyConfig, command: str) -> None:
    """
    Refuse remote indexes of which the cache holds nothing while it holds
    others.

    :param config: The settings of ``export`` or ``serve --offline``.
    :param command: The command, for the message.
    :raises usage.UsageError: Naming the indexes the cache holds and how to
        name them.
    """
    found = cached_index_names(config.cache_dir)
    wanted = [index.name for index in config.indexes]
    if not found or not wanted or set(wanted) & set(found):
        return
    raise usage.UsageError(
        f"{command}: the cache {config.cache_dir!r} holds nothing of the"
        f" index{'es' * (len(wanted) > 1)} {', '.join(wanted)} but holds"
        f" {', '.join(found)}: give the --index options that warm or the"
        " proxy were given (e.g. --index NAME=URL)"
    )


def cached_indexes(
    cache_dir: str, ttl: float, command: str, *, none_ok: bool = False
) -> list[IndexConfig]:
    """
    The indexes the cache holds, for ``export`` and ``serve --offline``
    given no ``--index``: those recorded in the cache first, in the order
    they were first used, then those whose URL the stored pages tell,
    sorted.  An index whose URL is unknown either way is left out (the cache
    then holds only files of it, which nothing lists).

    This reads a few small files; it runs while the options are parsed,
    before the reactor runs.

    :param cache_dir: The cache directory.
    :param ttl: The TTL of every index (``--index-ttl``).
    :param command: The command, for the message.
    :param none_ok: Whether a cache holding no index is fine (there are
        local indexes to serve).
    :raises usage.UsageError: If the cache holds no index whose URL is
        known, unless ``none_ok``.
    """
    found = cached_index_names(cache_dir)
    root = FilePath(cache_dir)
    recorded = read_index_urls(root)
    pages = PageStore.on_disk(root.child(PAGES_AREA))
    urls = {name: url for name, url in recorded.items() if name in found}
    for name in found:
        if name not in urls:
            url = recover_index_url(pages, name)
            if url is not None:
                urls[name] = url
    if not urls and not none_ok:
        held = f" (it holds only files of {', '.join(found)})" if found else ""
        raise usage.UsageError(
            f"{command}: the cache {cache_dir!r} holds no pages of any"
            f" index{held}: fill it with 'pypiproxy warm', or name the indexes"
            " with --index NAME=URL"
        )
    return [IndexConfig(name=name, url=url, ttl=ttl) for name, url in urls.items()]


def remember_indexes(config: ProxyConfig) -> None:
    """
    Record the names and URLs (never credentials) of ``config``'s indexes
    in its cache directory, for :func:`cached_indexes`.  A failure is
    logged, never raised: the cache works without the record.

    This writes one small file, blocking: call it before the reactor runs,
    or through a runner.

    :param config: The settings of the proxy or of ``warm``.
    """
    pairs = [(index.name, index.url) for index in config.indexes]
    try:
        record_index_urls(FilePath(config.cache_dir), pairs)
    except OSError as e:
        log.warn(
            "Cannot record the indexes in {dir}: {error}",
            dir=config.cache_dir,
            error=e.strerror or e,
        )
