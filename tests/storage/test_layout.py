"""
Tests for :mod:`twisted_pypi.storage.layout`: walking, placing and pruning
files in a cache directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.layout import (
    delete_file,
    delete_stale_temps,
    free_bytes,
    hold_lock,
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

    def test_owned_by_live_process_kept(self) -> None:
        """
        A partial download locked by another live process is kept however
        old it is; once that process is gone (killed: nothing cleaned up),
        the next sweep deletes it.
        """
        tmp = FilePath(self.mktemp())
        tmp.makedirs()
        part = tmp.child("dl-other.part")
        part.setContent(b"partial")
        child = _hold_lock_in_child(self, part.path)
        _age(part.path)
        self.assertEqual(delete_stale_temps(tmp, 50), 0)
        self.assertTrue(os.path.exists(part.path))
        child.kill()
        child.wait()
        with capturedLogs():
            self.assertEqual(delete_stale_temps(tmp, 50), 1)
        self.assertFalse(os.path.exists(part.path))

    def test_owned_in_this_process_kept(self) -> None:
        """
        A lock held through another descriptor in this process (another
        file cache on the same directory) protects the file too.
        """
        tmp = FilePath(self.mktemp())
        tmp.makedirs()
        part = tmp.child("dl-mine.part")
        part.setContent(b"partial")
        fd = os.open(part.path, os.O_RDWR)
        self.addCleanup(os.close, fd)
        hold_lock(fd)
        _age(part.path)
        self.assertEqual(delete_stale_temps(tmp, 50), 0)
        self.assertTrue(os.path.exists(part.path))

    def test_missing_directory(self) -> None:
        """Sweeping a directory that does not exist deletes nothing."""
        self.assertEqual(delete_stale_temps(FilePath(self.mktemp()), 50), 0)


class DeleteFileTests(SynchronousTestCase):
    """
    :func:`delete_file` and :func:`free_bytes`.
    """

    def test_delete_and_prune(self) -> None:
        """
        A deleted file takes its emptied directories with it (not the top);
        a missing file is reported as such.
        """
        top = FilePath(self.mktemp())
        target = top.child("a").child("b")
        target.parent().makedirs()
        target.setContent(b"x")
        self.assertTrue(delete_file(target, top))
        self.assertEqual(top.listdir(), [])
        self.assertFalse(delete_file(target, top))

    def test_free_bytes(self) -> None:
        """The free bytes of an existing file system are known; else None."""
        free = free_bytes(self.mktemp().rsplit(os.sep, 1)[0] or os.curdir)
        self.assertIsInstance(free, int)
        self.assertIsNone(free_bytes(os.path.join(self.mktemp(), "missing")))


def _age(path: str, seconds: float = 100) -> None:
    """Make a file look last written ``seconds`` ago."""
    old = time.time() - seconds
    os.utime(path, (old, old))


def _hold_lock_in_child(tc: SynchronousTestCase, path: str) -> subprocess.Popen[bytes]:
    """
    Start a process that locks ``path`` as a proxy locks its spools, and
    return once it holds the lock; it is killed when the test ends, if not
    before.
    """
    code = (
        "import os, sys, time; from twisted_pypi.storage.layout import hold_lock;"
        " fd = os.open(sys.argv[1], os.O_RDWR); hold_lock(fd);"
        " print('locked', flush=True); time.sleep(600)"
    )
    child = subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE)
    assert child.stdout is not None
    stdout = child.stdout

    def stop() -> None:
        child.kill()
        child.wait()
        stdout.close()

    tc.addCleanup(stop)
    tc.assertEqual(stdout.readline(), b"locked\n")
    return child


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
