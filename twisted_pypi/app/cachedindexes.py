# -*- test-case-name: tests.app.test_cachedindexes -*-
"""
Which indexes a cache directory holds pages and files of, for the commands
that read the cache alone (``export``, ``serve --offline``): pages and files
are kept per index, so options naming other indexes than ``warm`` was given
would find nothing.  That is an error naming the indexes found, never a
silent empty index.
"""

from __future__ import annotations

import os

from twisted.python import usage

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.storage.layout import FILES_DIR
from twisted_pypi.storage.pagestore import PAGES_AREA

__all__ = ["cached_index_names", "check_cached_indexes"]


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
