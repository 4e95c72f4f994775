# -*- test-case-name: tests.storage.test_readout -*-
"""
Reading stored files whole through the storage seam, for the tools that
used to read cached files by path (export, offline serving, metadata
reading): a file of a shared store may have no local copy, so it is
streamed from :meth:`~twisted_pypi.storage.interfaces.IFileStore.open`
into memory (small files) or into a local file.

The local file is written as the bytes come (the tools are commands, or
run it away from requests); a copy that fails part way is deleted.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import BinaryIO

from twisted.internet.interfaces import IConsumer, IProducer
from zope.interface import implementer

from twisted_pypi.storage.interfaces import IFileReader, IFileStore

__all__ = ["copy_to_path", "read_bytes"]

#: The most bytes :func:`read_bytes` reads (core metadata is a few KiB).
MAX_READ = 16 << 20


@implementer(IConsumer)
class _Collect:
    """Keeps the bytes written to it, in a list or in a file."""

    def __init__(self, out: BinaryIO | None = None) -> None:
        """:param out: The file to write to, or ``None`` to keep bytes."""
        self.chunks: list[bytes] = []
        self._out = out

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """The reader's producer (never paused: writes are at once)."""

    def unregisterProducer(self) -> None:
        """The range ended."""

    def write(self, data: bytes) -> None:
        """Keep ``data``."""
        if self._out is not None:
            self._out.write(data)
        else:
            self.chunks.append(data)


async def read_bytes(store: IFileStore, key: Sequence[str]) -> bytes | None:
    """
    A stored file's bytes, whole, or ``None`` if the store does not have it
    (asking the store itself if need be) or it is larger than
    :data:`MAX_READ`.

    :param store: The file store.
    :param key: The file's key.
    :raise StoreUnreachable: If a shared store could not be asked.
    :raise ShortRead: If the file ended early.
    """
    key = tuple(key)
    if await store.find(key) is None:
        return None
    reader = store.open(key)
    if reader is None:
        return None
    try:
        if reader.stat.size > MAX_READ:
            return None
        collect = _Collect()
        if reader.stat.size:
            await reader.stream(collect, 0, reader.stat.size)
        return b"".join(collect.chunks)
    finally:
        reader.close()


async def copy_to_path(reader: IFileReader, path: str) -> None:
    """
    Write the whole file ``reader`` reads to ``path`` (created or
    replaced; deleted if the copy fails), and close the reader.

    :param reader: An open stored file.
    :param path: The local file to write.
    :raise OSError: If the file cannot be written.
    :raise ShortRead: If the stored file ended early.
    """
    try:
        with open(path, "wb") as out:
            if reader.stat.size:
                await reader.stream(_Collect(out), 0, reader.stat.size)
    except BaseException:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        raise
    finally:
        reader.close()
