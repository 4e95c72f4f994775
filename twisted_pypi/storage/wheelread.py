# -*- test-case-name: tests.storage.test_wheelread -*-
"""
A wheel's ``METADATA`` read from what the storage layer holds, by the few
ranges :mod:`zipfile` needs, never the whole file:

- :func:`spool_metadata`: from a download's spool (a local file, read
  through an :class:`~twisted_pypi.storage.interfaces.ISpoolReader`),
  blocking: run it in the runner;
- :func:`stored_ranges`: the ranges of a stored file (an
  :class:`~twisted_pypi.storage.interfaces.IFileReader`: a local file or an
  object of a shared store) for
  :func:`~twisted_pypi.core.zipranges.metadata_by_ranges`.
"""

from __future__ import annotations

import io
from typing import IO, Any, cast

from twisted.internet.interfaces import IConsumer, IProducer
from zope.interface import implementer

from twisted_pypi.core.metadata import metadata_from_wheel
from twisted_pypi.core.zipranges import RangeRead, SizedFile
from twisted_pypi.storage.interfaces import IFileReader, ISpoolReader

__all__ = ["ReaderFile", "spool_metadata", "stored_ranges"]


class ReaderFile(SizedFile):
    """
    A read-only, seekable file over an :class:`ISpoolReader` of a known
    size (blocking reads).
    """

    def __init__(self, reader: ISpoolReader, size: int) -> None:
        """
        :param reader: Reads the bytes; not closed here.
        :param size: The file's size.
        """
        super().__init__(size)
        self._reader = reader

    def readinto(self, buffer: Any) -> int:
        length = max(min(len(buffer), self.size - self._pos), 0)
        data = self._reader.read(self._pos, length) if length else b""
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def spool_metadata(reader: ISpoolReader, size: int, filename: str) -> bytes:
    """
    The ``METADATA`` of the wheel a spool holds (blocking), and close the
    reader.

    :param reader: Reads the spool.
    :param size: The wheel's size.
    :param filename: The wheel's filename.
    :raises MetadataUnavailable: If it has no readable ``METADATA``.
    """
    try:
        buffered = io.BufferedReader(ReaderFile(reader, size), 64 << 10)
        return metadata_from_wheel(cast(IO[bytes], buffered), filename)
    finally:
        reader.close()


@implementer(IConsumer)
class _Collect:
    """Keeps the bytes a reader streams to it."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """The reader's producer (never paused)."""

    def unregisterProducer(self) -> None:
        """The range ended."""

    def write(self, data: bytes) -> None:
        """Keep ``data``."""
        self.chunks.append(data)


def stored_ranges(reader: IFileReader) -> RangeRead:
    """
    Reads ranges of a stored file (see
    :data:`~twisted_pypi.core.zipranges.RangeRead`); the caller closes the
    reader.

    :param reader: The open stored file.
    """
    size: int = reader.stat.size

    async def read(offset: int | None, length: int) -> tuple[bytes, int]:
        """``length`` bytes at ``offset`` (``None``: the last ones)."""
        start = max(size - length, 0) if offset is None else offset
        length = max(min(length, size - start), 0)
        collect = _Collect()
        if length:
            await reader.stream(collect, start, length)
        return b"".join(collect.chunks), size

    return read
