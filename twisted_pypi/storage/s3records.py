# -*- test-case-name: tests.storage.test_s3records -*-
"""
Records in an S3 bucket: the
:class:`~twisted_pypi.storage.recordstore.IRecordStore` of ``--store``, so
that every node sharing the bucket shares the page records and JSON
documents (a new node with an empty disk serves stale pages at once).

One object per record, ``PREFIX/<area>/<index>/<key><suffix>``, holding
exactly what a local record file holds
(:func:`~twisted_pypi.storage.records.encode_record`: the metadata line
gives the body's length, so a record cut short reads as absent).  A save
is one ``PUT``: readers see the old record or the new one.

The calls block (botocore's own client: records are small, no streaming is
needed, and botocore retries and signs them): the page and JSON caches load
and save records in the thread pool (their runner).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from twisted.logger import Logger
from zope.interface import implementer

from twisted_pypi.core.names import is_safe_segment
from twisted_pypi.storage.records import decode_record, encode_record
from twisted_pypi.storage.recordstore import IRecordStore, Record
from twisted_pypi.storage.s3place import BucketPlace

__all__ = ["S3Records"]

_log = Logger()

#: What botocore raises when a request fails.
_FAILURES = (BotoCoreError, ClientError)


@implementer(IRecordStore)
class S3Records:
    """
    Records in a bucket: ``PREFIX/<area>/<index>/<key><suffix>``.
    """

    def __init__(self, client: Any, place: BucketPlace, area: str, suffix: str):
        """
        :param client: A botocore S3 client (path-style addressing).
        :param place: The bucket and prefix.
        :param area: The records' directory name in a local cache
            (``pages``).
        :param suffix: The suffix of every record's name (``.page``).
        """
        self._client = client
        self._bucket = place.bucket
        self._prefix = place.area_prefix(area)
        self._suffix = suffix

    def _key(self, index: str, key: str) -> str | None:
        """The object key of a record, or ``None`` if a name is unsafe."""
        if not (is_safe_segment(index) and is_safe_segment(key + self._suffix)):
            return None
        return f"{self._prefix}{index}/{key}{self._suffix}"

    def load(self, index: str, key: str) -> Record | None:
        """
        The record, or ``None`` if there is none, it is unreadable, or the
        store failed (logged).
        """
        name = self._key(index, key)
        if name is None:
            return None
        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=name)
            data = answer["Body"].read()
        except ClientError as e:
            if _code(e) not in ("NoSuchKey", "404"):
                _warn("Cannot read {key} from the store: {error}", name, e)
            return None
        except BotoCoreError as e:
            _warn("Cannot read {key} from the store: {error}", name, e)
            return None
        try:
            return decode_record(data)
        except ValueError:
            return None

    def save(self, index: str, key: str, record: Record) -> bool:
        """
        Store a record with one ``PUT``; a failure is logged and otherwise
        ignored.

        :return: Whether it was stored.
        """
        name = self._key(index, key)
        if name is None:
            return False
        try:
            self._client.put_object(
                Bucket=self._bucket, Key=name, Body=encode_record(record)
            )
        except _FAILURES as e:
            _warn(
                "Could not store {key}: {error}; it is served from memory only",
                name,
                e,
            )
            return False
        return True

    def remove(self, index: str, key: str) -> bool:
        """
        Delete a record.

        :return: Whether there was one (and it was deleted).
        """
        name = self._key(index, key)
        if name is None:
            return False
        try:
            self._client.head_object(Bucket=self._bucket, Key=name)
            self._client.delete_object(Bucket=self._bucket, Key=name)
        except ClientError as e:
            if _code(e) not in ("NoSuchKey", "404"):
                _warn("Cannot delete {key} from the store: {error}", name, e)
            return False
        except BotoCoreError as e:
            _warn("Cannot delete {key} from the store: {error}", name, e)
            return False
        return True

    def keys(self, index: str) -> list[str]:
        """
        The keys of every record of ``index``, sorted (none if the store
        cannot be listed).
        """
        if not is_safe_segment(index):
            return []
        prefix = f"{self._prefix}{index}/"
        suffix = self._suffix
        names, _ = self._list(prefix)
        return sorted(
            name.removesuffix(suffix)
            for name in names
            if name.endswith(suffix) and is_safe_segment(name)
        )

    def indexes(self) -> list[str]:
        """
        The names of the indexes that have records, sorted.
        """
        _, folders = self._list(self._prefix)
        return sorted(f for f in folders if is_safe_segment(f))

    def _list(self, prefix: str) -> tuple[list[str], list[str]]:
        """
        The names of the objects and of the folders right under ``prefix``
        (a failure is logged: then as many as were listed).
        """
        names: list[str] = []
        folders: list[str] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix, Delimiter="/"
        )
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    names.append(item["Key"][len(prefix) :])
                for folder in page.get("CommonPrefixes", ()):
                    folders.append(folder["Prefix"][len(prefix) :].rstrip("/"))
        except _FAILURES as e:
            _warn("Cannot list {key} in the store: {error}", prefix, e)
        return names, folders


def _code(error: ClientError) -> str:
    """The S3 error code (or HTTP status) of a failed request."""
    code: str = error.response.get("Error", {}).get("Code", "")
    return code


def _warn(message: str, key: str, error: Exception) -> None:
    """Log a failure of the store (botocore's messages hold no secret)."""
    _log.warn(message, key=key, error=str(error))
