"""
Tests for :mod:`twisted_pypi.storage.spool`: partial downloads written
unbuffered and read at any offset while still being written.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.spool import LocalSpool


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
