# -*- test-case-name: tests.storage.test_indexmeta -*-
"""
The indexes a cache directory was filled from, by name and URL, so that the
commands that read the cache alone (``export``, ``serve --offline``) can use
them without being told again.

Pages and files are kept under each index's *name*; its URL is remembered
in ``<cache-dir>/indexes.json`` (see :data:`INDEXES_FILE`) whenever the
proxy or ``warm`` uses the index.  Nothing secret is kept: credentials are
taken out of every URL.  For caches filled before that file existed, the
URL is recovered from the stored pages, each of which records the URL that
answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from twisted.python.filepath import FilePath

from twisted_pypi.core.links import split_credentials
from twisted_pypi.core.lookup import LIST_KEY
from twisted_pypi.core.names import is_safe_segment
from twisted_pypi.storage.pagestore import PageStore
from twisted_pypi.storage.records import write_atomically

__all__ = [
    "INDEXES_FILE",
    "MAX_RECOVERY_READS",
    "read_index_urls",
    "record_index_urls",
    "recover_index_url",
]

#: The file, under the cache root, naming the indexes the cache was filled
#: from: ``{"version": 1, "indexes": [{"name": ..., "url": ...}, ...]}``,
#: in the order they were first used.
INDEXES_FILE = "indexes.json"

#: How many stored pages of one index :func:`recover_index_url` reads at
#: most before giving up.
MAX_RECOVERY_READS = 8

_VERSION = 1


def read_index_urls(root: FilePath[str]) -> dict[str, str]:
    """
    The indexes recorded in ``root``'s :data:`INDEXES_FILE`, by name, in
    the order they were first recorded.

    :param root: The cache directory.
    :return: Name to URL; empty when there is no readable file (entries that
        are not a safe name and an ``http(s)`` URL are left out).
    """
    try:
        data = json.loads(root.child(INDEXES_FILE).getContent())
        entries = data["indexes"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    found: dict[str, str] = {}
    if not isinstance(entries, list):
        return found
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name, url = entry.get("name"), entry.get("url")
        if isinstance(name, str) and isinstance(url, str) and _usable(name, url):
            found.setdefault(name, split_credentials(url)[0])
    return found


def record_index_urls(root: FilePath[str], indexes: Iterable[tuple[str, str]]) -> bool:
    """
    Remember ``indexes`` in ``root``'s :data:`INDEXES_FILE`: an index
    already there keeps its place and takes the new URL, new ones are added
    at the end.  The file is replaced atomically, and only if it changes.

    :param root: The cache directory (created if needed).
    :param indexes: ``(name, url)`` pairs; credentials in a URL are dropped.
    :return: Whether the file was written.
    :raise OSError: If it cannot be written.
    """
    known = read_index_urls(root)
    wanted = dict(known)
    for name, url in indexes:
        if _usable(name, url):
            wanted[name] = split_credentials(url)[0]
    if wanted == known and _exists(root):
        return False
    data = {
        "version": _VERSION,
        "indexes": [{"name": name, "url": url} for name, url in wanted.items()],
    }
    write_atomically(
        root.child(INDEXES_FILE), json.dumps(data, indent=1).encode() + b"\n"
    )
    return True


def recover_index_url(pages: PageStore, name: str) -> str | None:
    """
    The URL of index ``name`` as its stored pages tell it: the project
    list's URL is the index's, a project page's is the index's followed by
    ``<project>/``.

    :param pages: The stored pages.
    :param name: The index's name.
    :return: The URL without credentials, or ``None`` if none of the first
        :data:`MAX_RECOVERY_READS` pages tells it.
    """
    keys = pages.keys(name)
    # Project pages first: they are small, the project list may be huge.
    ordered = [k for k in keys if k != LIST_KEY] + [k for k in keys if k == LIST_KEY]
    for key in ordered[:MAX_RECOVERY_READS]:
        stored = pages.load(name, key)
        if stored is None:
            continue
        url = split_credentials(stored.url)[0]
        if key != LIST_KEY:
            suffix = f"/{key}/"
            if not url.endswith(suffix):
                continue  # redirected elsewhere: it does not tell
            url = url[: -len(suffix) + 1]
        if _usable(name, url) and url.endswith("/"):
            return url
    return None


def _usable(name: str, url: str) -> bool:
    """Whether ``name`` is a safe path segment and ``url`` an http(s) URL."""
    return is_safe_segment(name) and url.startswith(("http://", "https://"))


def _exists(root: FilePath[str]) -> bool:
    """Whether ``root`` has an :data:`INDEXES_FILE`."""
    return root.child(INDEXES_FILE).exists()
