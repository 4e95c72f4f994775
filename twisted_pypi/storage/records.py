# -*- test-case-name: tests.storage.test_records -*-
"""
Records on disk, the local :class:`~twisted_pypi.storage.recordstore.IRecordStore`.

One file per record, ``<root>/<index>/<key><suffix>``, holding one line of
JSON metadata and then the body exactly as it was given.  The metadata line
also gives the body's length, so a record cut short is read as absent rather
than as a shorter body (records written before the length was recorded are
read as they are).  Files are replaced atomically: a temporary file beside
the record, then a rename; a failed write leaves the old record and no
temporary file.
"""

from __future__ import annotations

import json
import os
import tempfile

from twisted.logger import Logger
from twisted.python.filepath import FilePath
from zope.interface import implementer

from twisted_pypi.core.names import is_safe_segment
from twisted_pypi.storage.recordstore import IRecordStore, Record
from twisted_pypi.storage.space import SpaceReport, is_full_error

__all__ = ["LocalRecords", "decode_record", "encode_record", "write_atomically"]

_log = Logger()

#: The metadata key holding the body's length (added on write, checked and
#: removed on read).
_LENGTH = "length"


def write_atomically(target: FilePath[str], data: bytes) -> None:
    """
    Replace ``target`` with a file holding ``data``, so that readers see
    either the old content or the new, never a mixture.  On failure the old
    content stays and no temporary file is left.

    :param target: The file to write; its parent directory is created if
        needed.
    :param data: The new content.
    :raise OSError: If it cannot be written.
    """
    parent = target.parent()
    parent.makedirs(ignoreExistingDirectory=True)
    fd, name = tempfile.mkstemp(dir=parent.path, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(name, target.path)
    except BaseException:
        try:
            os.remove(name)
        except OSError:
            pass
        raise


def encode_record(record: Record) -> bytes:
    """
    A record as it is stored: one line of JSON metadata (with the body's
    length), then the body.

    :param record: The record; its metadata must be JSON-serialisable.
    """
    meta = {**record.meta, _LENGTH: len(record.body)}
    return json.dumps(meta).encode() + b"\n" + record.body


def decode_record(data: bytes) -> Record:
    """
    A record from what :func:`encode_record` wrote.

    :param data: The stored bytes.
    :raise ValueError: If the metadata line is not a JSON object, or the body
        is not as long as it says.
    """
    head, newline, body = data.partition(b"\n")
    if not newline:
        raise ValueError("no metadata line")
    meta = json.loads(head)
    if not isinstance(meta, dict):
        raise ValueError("the metadata is not an object")
    length = meta.pop(_LENGTH, None)
    if length is not None and length != len(body):
        raise ValueError(f"{len(body)} bytes of body, {length} expected")
    return Record(meta, body)


@implementer(IRecordStore)
class LocalRecords:
    """
    Records in a directory: ``<root>/<index>/<key><suffix>``.
    """

    def __init__(
        self, root: FilePath[str], suffix: str, space: SpaceReport | None = None
    ) -> None:
        """
        :param root: The directory (``<cache-dir>/pages``, say).
        :param suffix: The file name suffix of every record (``.page``).
        :param space: Told when a write finds the disk full and when one
            succeeds, so a full disk is warned of once, with the file
            downloads, and shows on the status page; without one, each
            failed write is warned of.
        """
        self._root = root
        self._suffix = suffix
        self._space = space

    def _path(self, index: str, key: str) -> FilePath[str]:
        """The file of one record."""
        return self._root.child(index).child(key + self._suffix)

    def load(self, index: str, key: str) -> Record | None:
        """
        The record, or ``None`` if there is none or it is unreadable.
        """
        try:
            return decode_record(self._path(index, key).getContent())
        except (OSError, ValueError):
            return None

    def save(self, index: str, key: str, record: Record) -> bool:
        """
        Store a record atomically; a failure is logged and otherwise ignored.

        :return: Whether it was stored.
        """
        path = self._path(index, key)
        try:
            write_atomically(path, encode_record(record))
        except OSError as e:
            space = self._space
            if space is not None and is_full_error(e):
                # The space warns once for the whole episode.
                space.found_full(path.path, e)
                emit = _log.debug
            else:
                emit = _log.warn
            emit(
                "Could not store {path}: {why}; it is served from memory only",
                path=path.path,
                why=_why(e),
            )
            return False
        if self._space is not None:
            self._space.wrote()
        return True

    def remove(self, index: str, key: str) -> bool:
        """
        Delete a record.

        :return: Whether there was one.
        """
        try:
            os.remove(self._path(index, key).path)
        except OSError:
            return False
        return True

    def keys(self, index: str) -> list[str]:
        """
        The keys of every record of ``index``, sorted.
        """
        suffix = self._suffix
        return sorted(
            name.removesuffix(suffix)
            for name in _listdir(self._root.child(index))
            if name.endswith(suffix) and is_safe_segment(name)
        )

    def indexes(self) -> list[str]:
        """
        The names of the indexes that have a directory of records, sorted.
        """
        return sorted(n for n in _listdir(self._root) if is_safe_segment(n))


def _why(error: OSError) -> str:
    """
    What went wrong with a write, for one log line: a full disk (or quota)
    is said plainly, anything else as the system says it.
    """
    if is_full_error(error):
        return "the disk is full"
    return error.strerror or str(error)


def _listdir(path: FilePath[str]) -> list[str]:
    """The names in a directory; none if it is missing or unreadable."""
    try:
        return os.listdir(path.path)
    except OSError:
        return []
