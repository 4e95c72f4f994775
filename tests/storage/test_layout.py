"""
Tests for :mod:`twisted_pypi.storage.layout`: walking, placing and pruning
files in a cache directory.
"""

from __future__ import annotations

import os
import time

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.layout import (
    delete_stale_temps,
    move_into_place,
    prune,
    walk_files,
)


class WalkFilesTests(SynchronousTestCase):
    """
    :func:`walk_files`.
    """

    def test_safe_regular_files(self) -> None:
        """
        Regular files are found by their segments with their sizes; unsafe
        names and symbolic links are left out.
        """
        top = FilePath(self.mktemp())
        top.preauthChild("i/https/h/x-1.0.tar.gz").parent().makedirs()
        top.preauthChild("i/https/h/x-1.0.tar.gz").setContent(b"abc")
        top.child("top.whl").setContent(b"a")
        top.child(".hidden").setContent(b"b")
        os.symlink(top.child("top.whl").path, top.child("link.whl").path)
        found = {key: st.st_size for key, st in walk_files(top.path)}
        self.assertEqual(
            found, {("i", "https", "h", "x-1.0.tar.gz"): 3, ("top.whl",): 1}
        )


class StaleTempsTests(SynchronousTestCase):
    """
    :func:`delete_stale_temps`.
    """

    def test_old_deleted(self) -> None:
        """
        Partial downloads older than the age are deleted, younger ones kept.
        """
        tmp = FilePath(self.mktemp())
        tmp.makedirs()
        tmp.child("old.part").setContent(b"")
        old = time.time() - 100
        os.utime(tmp.child("old.part").path, (old, old))
        tmp.child("new.part").setContent(b"")
        delete_stale_temps(tmp, 50)
        self.assertEqual([c.basename() for c in tmp.children()], ["new.part"])


class PlaceAndPruneTests(SynchronousTestCase):
    """
    :func:`move_into_place` and :func:`prune`.
    """

    def test_move_creates_directories(self) -> None:
        """
        A file is moved to a target whose directories do not exist yet,
        replacing any file there.
        """
        root = FilePath(self.mktemp())
        root.makedirs()
        source = root.child("src")
        source.setContent(b"new")
        target = root.preauthChild("a/b/file")
        move_into_place(source.path, target)
        self.assertEqual(target.getContent(), b"new")
        self.assertFalse(source.exists())
        source.setContent(b"newer")
        move_into_place(source.path, target)
        self.assertEqual(target.getContent(), b"newer")

    def test_missing_source(self) -> None:
        """
        Moving a source that does not exist raises :class:`OSError`.
        """
        root = FilePath(self.mktemp())
        root.makedirs()
        with self.assertRaises(OSError):
            move_into_place(root.child("nope").path, root.child("t"))

    def test_prune(self) -> None:
        """
        Empty directories are removed up to, not including, the top; a
        directory that is not empty stops the pruning.
        """
        top = FilePath(self.mktemp())
        top.preauthChild("a/b/c").makedirs()
        top.child("a").child("keep").setContent(b"")
        prune(top.preauthChild("a/b/c"), top)
        self.assertFalse(top.preauthChild("a/b").exists())
        self.assertTrue(top.child("a").exists())
        top.child("a").child("keep").remove()
        prune(top.child("a"), top)
        self.assertFalse(top.child("a").exists())
        self.assertTrue(top.exists())
