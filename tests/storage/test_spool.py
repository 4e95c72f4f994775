"""
Tests for :mod:`twisted_pypi.storage.spool`: partial downloads written
unbuffered and read at any offset while still being written.
"""

from __future__ import annotations

import errno
import os
import time

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.interfaces import StoreFull
from twisted_pypi.storage.layout import STALE_TEMP_AGE
from twisted_pypi.storage.space import StoreSpace
from twisted_pypi.storage.spool import (
    SWEEP_INTERVAL,
    LocalSpool,
    SpoolDirectory,
)


class LocalSpoolTests(SynchronousTestCase):
    """
    :class:`LocalSpool` and its readers.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.spool = LocalSpool(self.directory)
        self.addCleanup(self.spool.discard)

    def test_read_while_writing(self) -> None:
        """
        A reader sees each written byte as soon as :meth:`write` returns, at
        any offset; the spool counts what was written.
        """
        reader = self.spool.open_reader()
        self.addCleanup(reader.close)
        self.spool.write(b"hello ")
        self.assertEqual(reader.read(0, 100), b"hello ")
        self.spool.write(b"world")
        self.assertEqual(reader.read(6, 3), b"wor")
        self.assertEqual(self.spool.written, 11)
        self.assertTrue(os.path.basename(self.spool.path).startswith("dl-"))

    def test_closed(self) -> None:
        """
        A closed spool cannot be written, and a closed reader cannot read;
        closing twice is harmless.
        """
        reader = self.spool.open_reader()
        self.spool.close()
        self.spool.close()
        self.assertRaises(OSError, self.spool.write, b"x")
        reader.close()
        reader.close()
        self.assertRaises(OSError, reader.read, 0, 1)

    def test_discard(self) -> None:
        """
        Discarding deletes the file; discarding again, or after the file
        vanished, is harmless.
        """
        path = self.spool.path
        self.spool.discard()
        self.assertFalse(os.path.exists(path))
        self.spool.discard()

    def test_published_is_kept(self) -> None:
        """
        Once published, the spool follows the file to its new place and
        discarding no longer deletes it.
        """
        self.spool.write(b"data")
        target = os.path.join(self.mktemp())
        os.replace(self.spool.path, target)
        self.spool.published(target)
        self.spool.discard()
        self.assertEqual(self.spool.path, target)
        reader = self.spool.open_reader()
        self.addCleanup(reader.close)
        self.assertEqual(reader.read(0, 10), b"data")
        with open(target, "rb") as f:
            self.assertEqual(f.read(), b"data")


class FakeDisk:
    """
    Writes through to the file until ``room`` bytes were written, then
    fails with ``code`` (a full disk, or quota).

    :ivar room: The bytes still accepted.
    """

    def __init__(self, room: int, code: int = errno.ENOSPC) -> None:
        """
        :param room: The bytes accepted.
        :param code: The error's errno.
        """
        self.room = room
        self.code = code

    def write(self, fd: int, data: memoryview) -> int:
        """Write what fits, as :func:`os.write` does; fail if nothing does."""
        if self.room <= 0:
            raise OSError(self.code, os.strerror(self.code))
        n = os.write(fd, data[: self.room])
        self.room -= n
        return n


class FullSpoolTests(SynchronousTestCase):
    """
    A spool on a full disk.
    """

    def test_full_write_is_all_or_nothing(self) -> None:
        """
        A write that runs out of room part way raises :class:`StoreFull`,
        and the file is cut back to its length before the write; the
        store's space is told.  Once there is room, the same write succeeds
        and clears the full state.
        """
        directory = self.mktemp()
        os.makedirs(directory)
        disk = FakeDisk(10)
        space = StoreSpace(Clock())
        spool = LocalSpool(directory, space, disk.write)
        self.addCleanup(spool.discard)
        spool.write(b"12345")
        with capturedLogs():
            self.assertRaises(StoreFull, spool.write, b"abcdefgh")
        self.assertEqual(os.path.getsize(spool.path), 5)
        self.assertEqual(spool.written, 5)
        self.assertTrue(space.full)
        disk.room = 100
        with capturedLogs():
            spool.write(b"abcdefgh")
        self.assertEqual(spool.open_reader().read(0, 100), b"12345abcdefgh")
        self.assertFalse(space.full)

    def test_quota(self) -> None:
        """A full quota (``EDQUOT``) is a full store too."""
        directory = self.mktemp()
        os.makedirs(directory)
        spool = LocalSpool(directory, None, FakeDisk(0, errno.EDQUOT).write)
        self.addCleanup(spool.discard)
        error = self.assertRaises(StoreFull, spool.write, b"x")
        self.assertEqual(error.errno, errno.EDQUOT)

    def test_other_errors(self) -> None:
        """Another write error is raised as it is, not as a full store."""
        directory = self.mktemp()
        os.makedirs(directory)
        spool = LocalSpool(directory, None, FakeDisk(0, errno.EIO).write)
        self.addCleanup(spool.discard)
        error = self.assertRaises(OSError, spool.write, b"x")
        self.assertNotIsInstance(error, StoreFull)


class SpoolDirectoryTests(SynchronousTestCase):
    """
    :class:`SpoolDirectory`: spools are locked while open, and swept once
    no live process owns them.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.tmp = FilePath(self.mktemp())
        self.spools = SpoolDirectory(self.tmp, StoreSpace(self.clock), self.clock)

    def test_open_spool_kept_by_sweep(self) -> None:
        """
        A spool still open in this process is not swept, however old; once
        closed without being published, it is.
        """
        spool = self.spools.open()
        self.addCleanup(spool.discard)
        _age(spool.path)
        self.assertEqual(self.spools.sweep(), 0)
        self.assertTrue(os.path.exists(spool.path))
        spool.close()
        with capturedLogs():
            self.assertEqual(self.spools.sweep(), 1)
        self.assertFalse(os.path.exists(spool.path))

    def test_periodic_sweep(self) -> None:
        """
        Once started, the sweep runs every :data:`SWEEP_INTERVAL` (not at
        once): a leftover no process owns goes, a live spool stays; after
        :meth:`stop_sweeping`, nothing runs.
        """
        self.tmp.makedirs()
        leftover = self.tmp.child("dl-killed.part")
        leftover.setContent(b"partial")
        _age(leftover.path)
        live = self.spools.open()
        self.addCleanup(live.discard)
        _age(live.path)
        self.spools.start_sweeping()
        self.assertTrue(os.path.exists(leftover.path))
        with capturedLogs():
            self.clock.advance(SWEEP_INTERVAL)
        self.assertFalse(os.path.exists(leftover.path))
        self.assertTrue(os.path.exists(live.path))
        self.spools.stop_sweeping()
        self.assertEqual(self.clock.getDelayedCalls(), [])


def _age(path: str, seconds: float = 2 * STALE_TEMP_AGE) -> None:
    """Make a file look last written ``seconds`` ago."""
    old = time.time() - seconds
    os.utime(path, (old, old))
