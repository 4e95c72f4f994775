# -*- test-case-name: tests.storage.test_filecache -*-
"""
Spool files: the local file a download writes, unbuffered, before the store
publishes it (for the local directory store, by renaming it into place), and
the directory that holds them.

Each spool is locked (see :func:`~twisted_pypi.storage.layout.hold_lock`)
while its process has it open, so that a sweep, in any process sharing the
directory, deletes only the leftovers of processes that died.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.python.filepath import FilePath
from zope.interface import implementer

from twisted_pypi.storage.interfaces import ISpool, ISpoolReader
from twisted_pypi.storage.layout import STALE_TEMP_AGE, delete_stale_temps, hold_lock
from twisted_pypi.storage.space import StoreSpace, as_store_full, is_full_error

__all__ = ["SWEEP_INTERVAL", "LocalSpool", "SpoolDirectory", "SpoolReader"]

#: Seconds between two sweeps of a running proxy's partial downloads.
SWEEP_INTERVAL = 300.0

#: Writes bytes to a descriptor, as :func:`os.write` does.
Write = Callable[[int, memoryview], int]


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
    A uniquely named, locked file in a directory of partial downloads,
    written with unbuffered ``os.write`` so every reader sees each byte as
    soon as :meth:`write` returns.

    :ivar written: Bytes written so far.
    :ivar path: Where the file is now: in the spool directory, or where it
        was published.
    """

    def __init__(
        self,
        directory: str,
        space: StoreSpace | None = None,
        write: Write = os.write,
    ) -> None:
        """
        Create the file, and lock it.

        :param directory: The directory of partial downloads (it exists).
        :param space: Told when a write finds the disk full, and when one
            succeeds.
        :param write: Writes to the file's descriptor (:func:`os.write`).
        :raise StoreFull: If the disk has no room for the file.
        :raise OSError: If it cannot be created for another reason.
        """
        self._space = space
        self._write = write
        try:
            fd, self.path = tempfile.mkstemp(
                dir=directory, prefix="dl-", suffix=".part"
            )
        except OSError as e:
            raise self._no_room(directory, e) from None
        self._fd: int | None = fd
        self.written = 0
        self._owned = True
        hold_lock(fd)

    def write(self, data: bytes) -> None:
        """
        Append ``data``, all or nothing: if a write fails part way, the
        file is cut back to where it was.

        :raise StoreFull: If the disk (or the quota) is full.
        :raise OSError: If it cannot be written for another reason, or the
            spool was closed.
        """
        fd = self._fd
        if fd is None:
            raise OSError("spool closed")
        view = memoryview(data)
        try:
            while view:
                view = view[self._write(fd, view) :]
        except OSError as e:
            if len(view) < len(data):
                os.ftruncate(fd, self.written)
                os.lseek(fd, self.written, os.SEEK_SET)
            raise self._no_room(self.path, e) from None
        self.written += len(data)
        if self._space is not None:
            self._space.wrote()

    def _no_room(self, where: str, error: OSError) -> OSError:
        """
        :return: ``error`` as a :class:`StoreFull` if it is for lack of room
            (and the store's space told), else as it is.
        """
        if not is_full_error(error):
            return error
        if self._space is not None:
            self._space.found_full(where, error)
        return as_store_full(error)

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


class SpoolDirectory:
    """
    The directory of partial downloads: makes spools in it and sweeps away
    those no live process owns, at startup and every :data:`SWEEP_INTERVAL`.

    :ivar directory: The directory.
    """

    def __init__(
        self,
        directory: FilePath[str],
        space: StoreSpace,
        clock: IReactorTime,
        write: Write = os.write,
    ) -> None:
        """
        :param directory: The directory (made when needed).
        :param space: Told of full disks by the spools.
        :param clock: Runs the periodic sweep.
        :param write: Writes to a spool's descriptor (:func:`os.write`).
        """
        self.directory = directory
        self._space = space
        self._clock = clock
        self._write = write
        self._sweeping: LoopingCall | None = None

    def open(self) -> LocalSpool:
        """
        A new, empty, locked spool file.

        :raise StoreFull: If the disk has no room for it.
        :raise OSError: If it cannot be created for another reason.
        """
        try:
            self.directory.makedirs(ignoreExistingDirectory=True)
        except OSError as e:
            if not is_full_error(e):
                raise
            self._space.found_full(self.directory.path, e)
            raise as_store_full(e) from None
        return LocalSpool(self.directory.path, self._space, self._write)

    def sweep(self, stale_after: float = STALE_TEMP_AGE) -> int:
        """
        Delete the partial downloads no live process owns, last written more
        than ``stale_after`` seconds ago.

        :return: How many were deleted.
        """
        return delete_stale_temps(self.directory, stale_after)

    def start_sweeping(self, interval: float = SWEEP_INTERVAL) -> None:
        """
        Sweep every ``interval`` seconds (the first after one interval)
        until :meth:`stop_sweeping`; calling this again changes nothing.
        """
        if self._sweeping is None:
            self._sweeping = LoopingCall(self.sweep)
            self._sweeping.clock = self._clock
            self._sweeping.start(interval, now=False)

    def stop_sweeping(self) -> None:
        """
        Stop the periodic sweep, if it runs.
        """
        sweeping, self._sweeping = self._sweeping, None
        if sweeping is not None and sweeping.running:
            sweeping.stop()
