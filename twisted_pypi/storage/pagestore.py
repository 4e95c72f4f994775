# -*- test-case-name: tests.storage.test_pagestore -*-
"""
Upstream pages as stored records: one record per page holding the body
exactly as the upstream sent it and what it was fetched with (URL,
Content-Type, ETag, fetch time), so that a page survives restarts and
upstream outages and can be parsed again.

A record also keeps, beside the body, when the proxy first saw each listed
file whose index gives no upload time (see :attr:`StoredPage.first_seen`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen
from twisted.python.filepath import FilePath

from twisted_pypi.storage.records import LocalRecords, write_atomically
from twisted_pypi.storage.recordstore import IRecordStore, Record
from twisted_pypi.storage.space import SpaceReport

__all__ = ["PAGES_AREA", "PageStore", "StoredPage"]

#: The directory of stored pages, under the cache root.
PAGES_AREA = "pages"


@frozen
class StoredPage:
    """
    A page as the upstream sent it, with what it was fetched with.

    :ivar url: The URL that answered (relative links resolve against it).
    :ivar body: The body.
    :ivar content_type: The ``Content-Type``, or ``None``.
    :ivar etag: The upstream ``ETag``, or ``None``.
    :ivar fetched_at: When the upstream last confirmed it, in clock seconds.
    :ivar first_seen: Filename to when the proxy first saw that file on the
        page (ISO 8601, ``Z``), for the files listed without an upload time;
        kept beside the body, which stays as the upstream sent it.
    """

    url: str
    body: bytes
    content_type: str | None
    etag: str | None
    fetched_at: float
    first_seen: Mapping[str, str] = field(factory=dict)


class PageStore:
    """
    Upstream pages by index name and key (a normalized project name, or
    :data:`~twisted_pypi.core.lookup.LIST_KEY` for the project list), kept
    in a record store.
    """

    def __init__(
        self, records: IRecordStore, rendered: FilePath[str] | None = None
    ) -> None:
        """
        :param records: Where the pages are kept.
        :param rendered: The local directory where the rendered
            representations of pages too big for memory are kept
            (``<rendered>/<index>/<key>.<digest>.<form>``), or ``None`` if
            there is none (such pages then stay in memory).
        """
        self._records = records
        self._rendered = rendered

    @classmethod
    def on_disk(
        cls, root: FilePath[str], space: SpaceReport | None = None
    ) -> PageStore:
        """
        Pages in a directory, ``<root>/<index>/<key>.page``, and their
        rendered representations beside them.

        :param root: The directory (``<cache-dir>/pages``).
        :param space: Told of full disks and successful writes.
        """
        return cls(LocalRecords(root, ".page", space), root)

    @property
    def keeps_renditions(self) -> bool:
        """
        Whether :meth:`save_rendition` can keep representations on disk.
        """
        return self._rendered is not None

    def save_rendition(
        self, index: str, key: str, digest: str, form: str, body: bytes
    ) -> str:
        """
        Keep one rendered representation of a page on disk (blocking).

        :param index: The index's name.
        :param key: The page's key.
        :param digest: A hex digest of the representation, so that a page
            rendered again never replaces a file that is being sent.
        :param form: Which representation: ``json``, ``json.gz``, ``html``,
            ``html.gz``.
        :param body: Its bytes.
        :return: The file's path.
        :raise OSError: If it cannot be written (or there is no directory).
        """
        if self._rendered is None:
            raise OSError("no directory for rendered pages")
        target = self._rendered.child(index).child(f"{key}.{digest}.{form}")
        write_atomically(target, body)
        return target.path

    def remove_renditions(self, index: str, key: str, keep: frozenset[str]) -> None:
        """
        Delete the representations kept on disk for a page (blocking).

        :param index: The index's name.
        :param key: The page's key (a normalized name, which has no dot).
        :param keep: Paths not to delete (the current ones).
        """
        if self._rendered is None:
            return
        directory = self._rendered.child(index)
        try:
            names = os.listdir(directory.path)
        except OSError:
            return
        for name in names:
            path = directory.child(name).path
            if name.startswith(f"{key}.") and name.count(".") >= 2 and path not in keep:
                try:
                    os.remove(path)
                except OSError:
                    pass

    def load(self, index: str, key: str) -> StoredPage | None:
        """
        The stored page, or ``None`` if there is none or it is unreadable.
        """
        record = self._records.load(index, key)
        if record is None:
            return None
        meta = record.meta
        try:
            return StoredPage(
                url=meta["url"],
                body=record.body,
                content_type=meta.get("content_type"),
                etag=meta.get("etag"),
                fetched_at=float(meta["fetched_at"]),
                first_seen=_times(meta.get("first_seen")),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def save(self, index: str, key: str, stored: StoredPage) -> None:
        """
        Store a page; a failure to write is logged and otherwise ignored
        (the page is still served from memory).
        """
        meta: dict[str, Any] = {
            "url": stored.url,
            "content_type": stored.content_type,
            "etag": stored.etag,
            "fetched_at": stored.fetched_at,
        }
        if stored.first_seen:
            meta["first_seen"] = dict(stored.first_seen)
        self._records.save(index, key, Record(meta, stored.body))

    def keys(self, index: str) -> list[str]:
        """
        The keys of every page stored for ``index``, sorted.

        :param index: The index's name.
        """
        return self._records.keys(index)

    def indexes(self) -> list[str]:
        """
        The names of the indexes that have stored pages, sorted.
        """
        return self._records.indexes()

    def remove(self, index: str, key: str) -> bool:
        """
        Forget a stored page, and its representations kept on disk.

        :return: Whether there was one.
        """
        self.remove_renditions(index, key, frozenset())
        return self._records.remove(index, key)


def _times(value: object) -> dict[str, str]:
    """
    The first-seen times of a record's metadata: a mapping of strings to
    strings, anything else left out (a record written before they were kept
    has none).
    """
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}
