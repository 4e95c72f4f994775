# -*- test-case-name: tests.storage.test_jsonstore -*-
"""
PyPI JSON API documents as the proxy keeps them: in memory
(:class:`JsonDocument`) and on disk (:class:`JsonStore`,
``<cache-dir>/pypi-json/<index>/<key>.json``).
"""

from __future__ import annotations

import json
from typing import Any

from attrs import define, field
from twisted.python.filepath import FilePath

from twisted_pypi.core.lookup import PageEntry
from twisted_pypi.core.rendition import Rendition
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.storage.recordstore import IRecordStore, Record
from twisted_pypi.storage.space import SpaceReport

__all__ = ["JSON_AREA", "JsonDocument", "JsonStore", "document_key"]

#: The directory of cached JSON documents, under the cache root.
JSON_AREA = "pypi-json"


def document_key(project: str, version: str | None) -> str:
    """
    The cache key of a document: the project, or ``project@version``.

    :param project: The normalized project name.
    :param version: The version, or ``None`` for the project's document.
    """
    return project if version is None else f"{project}@{version}"


@define
class JsonDocument:
    """
    A cached JSON API document.

    :ivar url: Where the upstream serves it.
    :ivar body: The body as the upstream sent it.
    :ivar data: The parsed body, a JSON object with an ``info`` object.
    :ivar etag: The upstream's ETag, for revalidation.
    :ivar serial: The upstream's ``X-PyPI-Last-Serial``, passed on.
    :ivar fetched_at: When the upstream last confirmed it, in clock seconds.
    """

    url: str
    body: bytes
    data: dict[str, Any]
    etag: str | None
    serial: str | None
    fetched_at: float
    renditions: dict[str, tuple[PageEntry, Rendition]] = field(factory=dict)

    @classmethod
    def parse(
        cls,
        url: str,
        body: bytes,
        etag: str | None,
        serial: str | None,
        fetched_at: float,
    ) -> JsonDocument:
        """
        A document from its body.

        :raises ValueError: If the body is not a JSON object with an ``info``
            object (not a JSON API document).
        """
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("info"), dict):
            raise ValueError("not a JSON API document")
        return cls(url, body, data, etag, serial, fetched_at)


class JsonStore:
    """
    JSON documents by index name and key (see :func:`document_key`), kept in
    a record store.
    """

    def __init__(self, records: IRecordStore) -> None:
        """
        :param records: Where the documents are kept.
        """
        self._records = records

    @classmethod
    def on_disk(
        cls, root: FilePath[str], space: SpaceReport | None = None
    ) -> JsonStore:
        """
        Documents in a directory, ``<root>/<index>/<key>.json``.

        :param root: The directory (``<cache-dir>/pypi-json``).
        :param space: Told of full disks and successful writes.
        """
        return cls(LocalRecords(root, ".json", space))

    def load(self, index: str, key: str) -> JsonDocument | None:
        """
        The stored document, or ``None`` if there is none or it is unreadable.
        """
        record = self._records.load(index, key)
        if record is None:
            return None
        meta = record.meta
        try:
            return JsonDocument.parse(
                meta["url"],
                record.body,
                meta.get("etag"),
                meta.get("serial"),
                float(meta["fetched_at"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def save(self, index: str, key: str, document: JsonDocument) -> None:
        """
        Store a document; a failure to write is logged and otherwise ignored.
        """
        meta = {
            "url": document.url,
            "etag": document.etag,
            "serial": document.serial,
            "fetched_at": document.fetched_at,
        }
        self._records.save(index, key, Record(meta, document.body))

    def indexes(self) -> list[str]:
        """
        The names of the indexes that have stored documents, sorted.
        """
        return self._records.indexes()

    def keys(self, index: str) -> list[str]:
        """
        The keys of every document stored for ``index``, sorted.
        """
        return self._records.keys(index)

    def remove(self, index: str, key: str) -> bool:
        """
        Delete a stored document.

        :return: Whether there was one.
        """
        return self._records.remove(index, key)

    def remove_project(self, index: str, project: str) -> list[str]:
        """
        Delete every stored document of a project (its own and its versions').

        :return: The keys removed.
        """
        return [
            key
            for key in self.keys(index)
            if key.split("@")[0] == project and self.remove(index, key)
        ]
