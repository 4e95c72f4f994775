# -*- test-case-name: tests.web.test_jsonapi -*-
"""
PyPI JSON API documents as the proxy keeps them: in memory
(:class:`JsonDocument`) and on disk (:class:`JsonStore`,
``<cache-dir>/pypi-json/<index>/<key>.json``).
"""

from __future__ import annotations

import json
import os
from typing import Any

from attrs import define, field
from twisted.logger import Logger
from twisted.python.filepath import FilePath

from twisted_pypi.core.lookup import PageEntry, Rendition
from twisted_pypi.storage.pagestore import read_record, write_record

log = Logger()

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
    JSON documents on disk: ``<root>/<index>/<key>.json``, each one line of
    metadata and then the body as received; written atomically.
    """

    def __init__(self, root: FilePath[str]) -> None:
        """
        :param root: The directory (``<cache-dir>/pypi-json``).
        """
        self._root = root

    def _path(self, index: str, key: str) -> FilePath[str]:
        return self._root.child(index).child(key + ".json")

    def load(self, index: str, key: str) -> JsonDocument | None:
        """
        The stored document, or ``None`` if there is none or it is unreadable.
        """
        try:
            meta, body = read_record(self._path(index, key))
            return JsonDocument.parse(
                meta["url"],
                body,
                meta.get("etag"),
                meta.get("serial"),
                float(meta["fetched_at"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, index: str, key: str, document: JsonDocument) -> None:
        """
        Store a document; a failure to write is logged and otherwise ignored.
        """
        write_record(
            self._path(index, key),
            {
                "url": document.url,
                "etag": document.etag,
                "serial": document.serial,
                "fetched_at": document.fetched_at,
            },
            document.body,
        )

    def indexes(self) -> list[str]:
        """
        The names of the indexes that have stored documents.
        """
        try:
            names = os.listdir(self._root.path)
        except OSError:
            return []
        return sorted(n for n in names if not n.startswith("."))

    def remove(self, index: str, key: str) -> bool:
        """
        Delete a stored document.

        :return: Whether there was one.
        """
        try:
            os.remove(self._path(index, key).path)
        except OSError:
            return False
        return True

    def remove_project(self, index: str, project: str) -> list[str]:
        """
        Delete every stored document of a project (its own and its versions').

        :return: The keys removed.
        """
        try:
            names = os.listdir(self._root.child(index).path)
        except OSError:
            return []
        removed = []
        for name in names:
            key = name[: -len(".json")]
            if name.endswith(".json") and key.split("@")[0] == project:
                try:
                    os.remove(self._root.child(index).child(name).path)
                except OSError:
                    continue
                removed.append(key)
        return removed
