# -*- test-case-name: tests.storage.test_pagestore -*-
"""
Upstream pages as stored records: one record per page holding the body
exactly as the upstream sent it and what it was fetched with (URL,
Content-Type, ETag, fetch time), so that a page survives restarts and
upstream outages and can be parsed again.
"""

from __future__ import annotations

from attrs import frozen
from twisted.python.filepath import FilePath

from twisted_pypi.storage.interfaces import IRecordStore, Record
from twisted_pypi.storage.records import LocalRecords
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
    """

    url: str
    body: bytes
    content_type: str | None
    etag: str | None
    fetched_at: float


class PageStore:
    """
    Upstream pages by index name and key (a normalized project name, or
    :data:`~twisted_pypi.core.lookup.LIST_KEY` for the project list), kept
    in a record store.
    """

    def __init__(self, records: IRecordStore) -> None:
        """
        :param records: Where the pages are kept.
        """
        self._records = records

    @classmethod
    def on_disk(
        cls, root: FilePath[str], space: SpaceReport | None = None
    ) -> PageStore:
        """
        Pages in a directory, ``<root>/<index>/<key>.page``.

        :param root: The directory (``<cache-dir>/pages``).
        :param space: Told of full disks and successful writes.
        """
        return cls(LocalRecords(root, ".page", space))

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
            )
        except (ValueError, KeyError, TypeError):
            return None

    def save(self, index: str, key: str, stored: StoredPage) -> None:
        """
        Store a page; a failure to write is logged and otherwise ignored
        (the page is still served from memory).
        """
        meta = {
            "url": stored.url,
            "content_type": stored.content_type,
            "etag": stored.etag,
            "fetched_at": stored.fetched_at,
        }
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
        Forget a stored page.

        :return: Whether there was one.
        """
        return self._records.remove(index, key)
