"""
Upstream pages on disk: one file per page, written atomically, holding one
line of JSON (URL, Content-Type, ETag, fetch time) and then the body exactly
as the upstream sent it, so that a page survives restarts and upstream
outages and can be parsed again.
"""

from __future__ import annotations

import json
from typing import Any

from attrs import frozen
from twisted.logger import Logger
from twisted.python.filepath import FilePath

log = Logger()


def read_record(path: FilePath[str]) -> tuple[dict[str, Any], bytes]:
    """
    Read a record: one line of JSON metadata, then the body.

    :param path: The record's file.
    :return: The metadata and the body.
    :raises OSError: If the file cannot be read.
    :raises ValueError: If the metadata line is not a JSON object.
    """
    head, _, body = path.getContent().partition(b"\n")
    meta = json.loads(head)
    if not isinstance(meta, dict):
        raise ValueError(f"{path.path}: no metadata")
    return meta, body


def write_record(path: FilePath[str], meta: dict[str, Any], body: bytes) -> bool:
    """
    Write a record atomically (a temporary file, then a rename); a failure
    is logged and otherwise ignored, since what is stored is a copy.

    :param path: The record's file.
    :param meta: The metadata, JSON-serialisable.
    :param body: The body.
    :return: Whether it was written.
    """
    try:
        path.parent().makedirs(ignoreExistingDirectory=True)
        path.setContent(json.dumps(meta).encode() + b"\n" + body, ext=b".tmp")
    except OSError as e:
        log.warn("Could not store {path}: {error}", path=path.path, error=e)
        return False
    return True


@frozen
class StoredPage:
    """
    A page as the upstream sent it, with what it was fetched with.

    :ivar url: The URL that answered (relative links resolve against it).
    :ivar body: The body.
    :ivar content_type: The ``Content-Type``, or ``None``.
    :ivar etag: The upstream ``ETag``, or ``None``.
    :ivar fetched_at: When the upstream last confirmed it, in clock seconds.
    """

    url: str
    body: bytes
    content_type: str | None
    etag: str | None
    fetched_at: float


class PageStore:
    """
    Upstream page bodies on disk, one file per page, written atomically.

    Each file holds one line of JSON (URL, Content-Type, ETag, fetch time)
    and then the body exactly as the upstream sent it.
    """

    def __init__(self, root: FilePath[str]) -> None:
        """
        :param root: The directory for pages (``<cache-dir>/pages``).
        """
        self._root = root

    def _path(self, index: str, key: str) -> FilePath[str]:
        return self._root.child(index).child(key + ".page")

    def load(self, index: str, key: str) -> StoredPage | None:
        """
        The stored page, or ``None`` if there is none or it is unreadable.
        """
        try:
            meta, body = read_record(self._path(index, key))
            return StoredPage(
                url=meta["url"],
                body=body,
                content_type=meta.get("content_type"),
                etag=meta.get("etag"),
                fetched_at=float(meta["fetched_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, index: str, key: str, stored: StoredPage) -> None:
        """
        Store a page; a failure to write is logged and otherwise ignored
        (the page is still served from memory).
        """
        write_record(
            self._path(index, key),
            {
                "url": stored.url,
                "content_type": stored.content_type,
                "etag": stored.etag,
                "fetched_at": stored.fetched_at,
            },
            stored.body,
        )

    def keys(self, index: str) -> list[str]:
        """
        The keys of every page stored for ``index`` (normalized project
        names, and :data:`LIST_KEY` if the project list is stored), sorted.

        :param index: The index's name.
        """
        try:
            names = self._root.child(index).listdir()
        except OSError:
            return []
        return sorted(n[: -len(".page")] for n in names if n.endswith(".page"))

    def remove(self, index: str, key: str) -> bool:
        """
        Forget a stored page.

        :return: Whether there was one.
        """
        try:
            self._path(index, key).remove()
        except OSError:
            return False
        return True
