# -*- test-case-name: tests.storage.test_records -*-
"""
Records by index name and key: what a record is (:class:`Record`) and what
the place that keeps them answers (:class:`IRecordStore`): a directory
(:class:`~twisted_pypi.storage.records.LocalRecords`) or a bucket
(:mod:`twisted_pypi.storage.s3records`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attrs import field, frozen
from zope.interface import Interface

__all__ = ["IRecordStore", "Record"]


@frozen
class Record:
    """
    One stored record: a small JSON-serialisable mapping of metadata and a
    body of bytes (a page as the upstream sent it, say).

    :ivar meta: The metadata.
    :ivar body: The body.
    """

    meta: Mapping[str, Any] = field(factory=dict)
    body: bytes = b""


class IRecordStore(Interface):
    """
    Records by index name and key (a normalized project name, say), each
    replaced whole: a reader sees the old record or the new one.

    Loading is synchronous: records are small, and read only when a page is
    not in memory.
    """

    def load(index: str, key: str) -> Record | None:
        """
        The record, or ``None`` if there is none or it is unreadable
        (corrupt or truncated records are read as absent).
        """

    def save(index: str, key: str, record: Record) -> bool:
        """
        Store a record, replacing any other; a failure is logged and
        otherwise ignored (what is stored is a copy).

        :return: Whether it was stored.
        """

    def remove(index: str, key: str) -> bool:
        """
        Forget a record.

        :return: Whether there was one.
        """

    def keys(index: str) -> list[str]:
        """
        The keys of every record stored for ``index``, sorted.
        """

    def indexes() -> list[str]:
        """
        The names of the indexes that have records, sorted.
        """
