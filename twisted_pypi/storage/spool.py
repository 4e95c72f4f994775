# -*- test-case-name: tests.storage.test_filecache -*-
"""
Spool files: the local file a download writes, unbuffered, before the store
publishes it (for the local directory store, by renaming it into place).
"""

from __future__ import annotations

import os
import tempfile

from zope.interface import implementer

from twisted_pypi.storage.interfaces import ISpool, ISpoolReader

__all__ = ["LocalSpool", "SpoolReader"]


@implementer(ISpoolReader)
class SpoolReader:
    """
    A read-only descriptor on a spool file, read at any offset.
    """

    def __init__(self, fd: int) -> None:
        """
        :param fd: The descriptor; the reader owns it.
        """
        self._fd: int | None = fd

    def read(self, offset: int, length: int) -> bytes:
        """
        :return: At most ``length`` bytes from ``offset``.
        :raise OSError: If the reader is closed or the file unreadable.
        """
        if self._fd is None:
            raise OSError("spool reader closed")
        return os.pread(self._fd, length, offset)

    def close(self) -> None:
        """Close the descriptor; calling this more than once is harmless."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@implementer(ISpool)
class LocalSpool:
    """
    A uniquely named file in a directory of partial downloads, written with
    unbuffered ``os.write`` so every reader sees each byte as soon as
    :meth:`write` returns.

    :ivar written: Bytes written so far.
    :ivar path: Where the file is now: in the spool directory, or where it
        was published.
    """

    def __init__(self, directory: str) -> None:
        """
        Create the file.

        :param directory: The directory of partial downloads (it exists).
        :raise OSError: If the file cannot be created.
        """
        fd, self.path = tempfile.mkstemp(dir=directory, prefix="dl-", suffix=".part")
        self._fd: int | None = fd
        self.written = 0
        self._owned = True

    def write(self, data: bytes) -> None:
        """
        Append ``data``.

        :raise OSError: If it cannot be written, or the spool was closed.
        """
        if self._fd is None:
            raise OSError("spool closed")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self.written += len(data)

    def open_reader(self) -> SpoolReader:
        """
        :return: A new reader of the file, wherever it is now.
        :raise OSError: If it cannot be opened.
        """
        return SpoolReader(os.open(self.path, os.O_RDONLY))

    def close(self) -> None:
        """
        Close the file for writing (before publishing it); calling this more
        than once is harmless.
        """
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def published(self, path: str) -> None:
        """
        Record that the file was moved to ``path`` (and is no longer ours to
        delete).

        :param path: Where it is now.
        """
        self.close()
        self.path = path
        self._owned = False

    def discard(self) -> None:
        """
        Close and delete the file, unless it was published; a file already
        gone is not an error.
        """
        self.close()
        if not self._owned:
            return
        self._owned = False
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
