"""
Tests for :mod:`twisted_pypi.storage.filecache`.
"""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from tests.consumers import Consumer
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.interfaces import IFileStore, ISpool, ISpoolReader
from twisted_pypi.storage.lrufiles import TOUCH_INTERVAL
from twisted_pypi.storage.records import write_atomically

#: A plausible "now", in seconds since the epoch, for the test clocks.
NOW = 1_700_000_000.0

A = ("pypi", "https", "files.example", "packages", "a-1.0.tar.gz")
B = ("pypi", "https", "files.example", "packages", "b-1.0.tar.gz")
C = ("pypi", "https", "files.example", "other", "c-1.0-py3-none-any.whl")


class _CacheTestMixin:
    """
    Builds a cache in a fresh directory.
    """

    def make_cache(
        self, tc: SynchronousTestCase, max_size: int | None = None
    ) -> tuple[FileCache, Clock]:
        """
        :return: A scanned cache under a new directory, and its clock.
        """
        clock = Clock()
        clock.advance(NOW)
        cache = FileCache(FilePath(tc.mktemp()), max_size, clock)
        cache.scan()
        return cache, clock


def put(cache: FileCache, segments: tuple[str, ...], data: bytes) -> FilePath[str]:
    """
    Write ``data`` the way a download does and commit it.

    :return: The committed file's path.
    """
    spool = cache.open_spool()
    spool.write(data)
    committed = cache.commit(spool, segments)
    assert committed.called
    return cache.path_for(segments)


class PathTests(SynchronousTestCase, _CacheTestMixin):
    """
    :meth:`FileCache.path_for` and :meth:`FileCache.lookup`.
    """

    def test_path_under_files(self) -> None:
        """A file's path is its segments under ``files/`` in the root."""
        cache, _ = self.make_cache(self)
        self.assertEqual(
            cache.path_for(A).path,
            os.path.join(cache.root.path, "files", *A),
        )

    def test_unsafe_segments_rejected(self) -> None:
        """
        Empty, dot, dot-dot, hidden, slash, backslash and NUL segments, and
        no segments at all, raise ValueError from every method taking
        segments.
        """
        cache, _ = self.make_cache(self)
        bad = ["", ".", "..", ".hidden", "a/b", "a\\b", "a\x00b"]
        for segment in bad:
            segments = ("pypi", "https", segment, "x-1.0.tar.gz")
            self.assertRaises(ValueError, cache.path_for, segments)
            self.assertRaises(ValueError, cache.lookup, segments)
            spool = cache.open_spool()
            self.assertRaises(ValueError, cache.commit, spool, segments)
            self.assertRaises(ValueError, cache.stat, segments)
            self.assertRaises(ValueError, cache.open, segments)
            spool.discard()
        self.assertRaises(ValueError, cache.path_for, ())
        self.assertEqual(list(cache.files_dir.walk())[1:], [])

    def test_lookup_missing(self) -> None:
        """A file that is not in the cache is looked up as None."""
        cache, _ = self.make_cache(self)
        self.assertIsNone(cache.lookup(A))

    def test_lookup_forgets_vanished_file(self) -> None:
        """A file deleted behind the cache's back is forgotten by lookup."""
        cache, _ = self.make_cache(self)
        path = put(cache, A, b"12345")
        path.remove()
        self.assertIsNone(cache.lookup(A))
        self.assertEqual(cache.total_size, 0)

    def test_lookup_does_not_mark_use(self) -> None:
        """Looking a file up does not change the LRU order."""
        cache, _ = self.make_cache(self)
        put(cache, A, b"1")
        put(cache, B, b"2")
        self.assertIsNotNone(cache.lookup(A))
        self.assertEqual([key for key, _ in cache.entries()], [A, B])


class CommitTests(SynchronousTestCase, _CacheTestMixin):
    """
    :meth:`FileCache.open_spool`, :meth:`FileCache.commit` and
    :meth:`LocalSpool.discard`.
    """

    def test_spool_in_tmp(self) -> None:
        """Spool files are created empty, with unique names, in ``tmp/``."""
        cache, _ = self.make_cache(self)
        first, second = cache.open_spool(), cache.open_spool()
        self.assertEqual(FilePath(first.path).parent(), cache.root.child("tmp"))
        self.assertNotEqual(first.path, second.path)
        self.assertEqual(os.path.getsize(first.path), 0)
        first.discard()
        second.discard()

    def test_commit_moves_and_accounts(self) -> None:
        """
        Committing moves the spool file to its final path (creating the
        directories), adds its size to the total, and gives its stat.
        """
        cache, _ = self.make_cache(self)
        spool = cache.open_spool()
        temp = spool.path
        spool.write(b"hello")
        stat = self.successResultOf(cache.commit(spool, A))
        path = cache.path_for(A)
        self.assertFalse(os.path.exists(temp))
        self.assertEqual(path.getContent(), b"hello")
        self.assertEqual(cache.lookup(A), path)
        self.assertEqual(stat, cache.stat(A))
        self.assertEqual(stat.size, 5)
        self.assertEqual(cache.total_size, 5)
        self.assertTrue(cache.is_cached(A))

    def test_readers_survive_commit(self) -> None:
        """
        A reader opened on a spool before its commit reads on after it, and
        one opened after it reads the committed file.
        """
        cache, _ = self.make_cache(self)
        spool = cache.open_spool()
        spool.write(b"hello")
        before = spool.open_reader()
        self.successResultOf(cache.commit(spool, A))
        spool.discard()
        after = spool.open_reader()
        self.assertEqual(before.read(1, 3), b"ell")
        self.assertEqual(after.read(0, 10), b"hello")
        before.close()
        after.close()
        self.assertEqual(cache.path_for(A).getContent(), b"hello")

    def test_commit_failure(self) -> None:
        """
        A commit that cannot move the file fails its Deferred with the
        OSError, publishes nothing, and leaves the spool to discard.
        """
        cache, _ = self.make_cache(self)
        cache.files_dir.child("pypi").setContent(b"not a directory")
        spool = cache.open_spool()
        spool.write(b"hello")
        self.failureResultOf(cache.commit(spool, A), OSError)
        self.assertFalse(cache.is_cached(A))
        self.assertEqual(cache.total_size, 0)
        spool.discard()
        self.assertEqual(cache.tmp_dir.children(), [])

    def test_recommit_replaces(self) -> None:
        """Committing the same file again counts only the new size."""
        cache, _ = self.make_cache(self)
        put(cache, A, b"12345")
        put(cache, A, b"12")
        self.assertEqual(cache.total_size, 2)
        self.assertEqual(cache.path_for(A).getContent(), b"12")

    def test_discard(self) -> None:
        """
        Discarding deletes a spool file; discarding again, or a file already
        gone, is no error.
        """
        cache, _ = self.make_cache(self)
        spool = cache.open_spool()
        spool.discard()
        self.assertFalse(os.path.exists(spool.path))
        spool.discard()
        gone = cache.open_spool()
        os.remove(gone.path)
        gone.discard()


class RemoveTests(SynchronousTestCase, _CacheTestMixin):
    """
    Deleting one cached file on purpose.
    """

    def test_remove(self) -> None:
        """
        Removing a cached file deletes it and its emptied directories, and
        takes its size off the total; removing it again says there was none.
        """
        cache, _ = self.make_cache(self)
        path = put(cache, A, b"hello")
        self.assertTrue(cache.remove(A))
        self.assertFalse(path.exists())
        self.assertFalse(path.parent().exists())
        self.assertIsNone(cache.lookup(A))
        self.assertEqual(cache.total_size, 0)
        self.assertFalse(cache.remove(A))


class ScanTests(SynchronousTestCase):
    """
    :meth:`FileCache.scan`.
    """

    def test_missing_root(self) -> None:
        """Scanning a cache whose root does not exist creates its directories."""
        root = FilePath(self.mktemp())
        cache = FileCache(root, None, Clock())
        cache.scan()
        self.assertTrue(root.child("files").isdir())
        self.assertTrue(root.child("tmp").isdir())
        self.assertEqual(cache.total_size, 0)

    def test_registers_files_in_lru_order(self) -> None:
        """
        Scanning registers every file under ``files/`` with its size, least
        recently used first, deletes the stale partial downloads in ``tmp/``,
        and leaves other areas alone.
        """
        root = FilePath(self.mktemp())
        files = root.child("files")
        layout = [(A, b"aaaa", 300), (B, b"bb", 100), (C, b"c", 200)]
        for segments, data, when in layout:
            path = files.preauthChild("/".join(segments))
            path.parent().makedirs(ignoreExistingDirectory=True)
            path.setContent(data)
            os.utime(path.path, (when, when))
        root.child("tmp").makedirs()
        root.child("tmp").child("dl-x.part").setContent(b"partial")
        os.utime(root.child("tmp").child("dl-x.part").path, (1000, 1000))
        root.child("pages").makedirs()
        root.child("pages").child("page").setContent(b"<html>")
        cache = FileCache(root, None, Clock())
        cache.scan()
        self.assertEqual(list(cache.entries()), [(B, 2), (C, 1), (A, 4)])
        self.assertEqual(cache.total_size, 7)
        self.assertEqual(root.child("tmp").children(), [])
        self.assertEqual(root.child("pages").child("page").getContent(), b"<html>")

    def test_evicts_to_budget(self) -> None:
        """Scanning with a budget smaller than the files evicts the oldest."""
        root = FilePath(self.mktemp())
        for segments, when in [(A, 100), (B, 200)]:
            path = root.child("files").preauthChild("/".join(segments))
            path.parent().makedirs(ignoreExistingDirectory=True)
            path.setContent(b"1234")
            os.utime(path.path, (when, when))
        cache = FileCache(root, 5, Clock())
        cache.scan()
        self.assertEqual([key for key, _ in cache.entries()], [B])
        self.assertFalse(root.child("files").preauthChild("/".join(A)).exists())

    def test_order_survives_restart(self) -> None:
        """
        A file touched after another stays more recently used across a
        restart (a new cache scanning the same root).
        """
        clock = Clock()
        clock.advance(NOW)
        root = FilePath(self.mktemp())
        cache = FileCache(root, None, clock)
        cache.scan()
        for segments, when in [(A, 100), (B, 200)]:
            path = put(cache, segments, b"1")
            os.utime(path.path, (when, when))
        clock.advance(TOUCH_INTERVAL + 1)
        cache.touch(A)
        again = FileCache(root, None, clock)
        again.scan()
        self.assertEqual([key for key, _ in again.entries()], [B, A])


class AreaTests(SynchronousTestCase, _CacheTestMixin):
    """
    :meth:`FileCache.area` and :func:`write_atomically`.
    """

    def test_area(self) -> None:
        """An area is a directory under the root, created on demand."""
        cache, _ = self.make_cache(self)
        pages = cache.area("pages")
        self.assertEqual(pages, cache.root.child("pages"))
        self.assertTrue(pages.isdir())

    def test_reserved_area_names(self) -> None:
        """The cache's own directories and unsafe names are not areas."""
        cache, _ = self.make_cache(self)
        for name in ("files", "tmp", "..", ".x", "a/b"):
            self.assertRaises(ValueError, cache.area, name)

    def test_write_atomically(self) -> None:
        """Writing atomically replaces the content and leaves no temporary file."""
        cache, _ = self.make_cache(self)
        target = cache.area("pages").child("x")
        write_atomically(target, b"one")
        write_atomically(target, b"two")
        self.assertEqual(target.getContent(), b"two")
        self.assertEqual(target.parent().listdir(), ["x"])


class SeamTests(SynchronousTestCase, _CacheTestMixin):
    """
    The file cache as an :class:`IFileStore`: stat, open, spools.
    """

    def test_interfaces(self) -> None:
        """The cache, its spools and their readers provide the seam's interfaces."""
        cache, _ = self.make_cache(self)
        spool = cache.open_spool()
        reader = spool.open_reader()
        self.assertTrue(verifyObject(IFileStore, cache))
        self.assertTrue(verifyObject(ISpool, spool))
        self.assertTrue(verifyObject(ISpoolReader, reader))
        reader.close()
        spool.discard()

    def test_stat(self) -> None:
        """
        A file's stat gives its size, modification time and a tag made of
        both; a missing file has none.
        """
        cache, _ = self.make_cache(self)
        path = put(cache, A, b"hello")
        os.utime(path.path, ns=(1, 1_600_000_000_123_456_789))
        stat = cache.stat(A)
        assert stat is not None
        self.assertEqual(stat.size, 5)
        self.assertEqual(stat.modified, os.stat(path.path).st_mtime)
        self.assertEqual(stat.etag, "5-16345785dffbcd15")
        self.assertIsNone(cache.stat(B))

    def test_stat_registers_and_forgets(self) -> None:
        """
        A file put on disk behind the cache's back is registered by stat;
        one deleted behind its back is forgotten.
        """
        cache, _ = self.make_cache(self)
        path = cache.path_for(A)
        path.parent().makedirs()
        path.setContent(b"1234")
        self.assertFalse(cache.is_cached(A))
        self.assertIsNotNone(cache.stat(A))
        self.assertEqual(cache.total_size, 4)
        path.remove()
        self.assertIsNone(cache.stat(A))
        self.assertEqual(cache.total_size, 0)

    def test_open_streams(self) -> None:
        """An open file streams its ranges; opening registers it."""
        cache, _ = self.make_cache(self)
        path = cache.path_for(A)
        path.parent().makedirs()
        path.setContent(b"0123456789")
        reader = cache.open(A)
        assert reader is not None
        self.addCleanup(reader.close)
        self.assertTrue(cache.is_cached(A))
        consumer = Consumer()
        self.successResultOf(reader.stream(consumer, 3, 4))
        self.assertEqual(b"".join(consumer.chunks), b"3456")
        self.assertEqual(reader.stat, cache.stat(A))

    def test_open_missing(self) -> None:
        """Opening a file the cache does not have gives None and forgets it."""
        cache, _ = self.make_cache(self)
        path = put(cache, A, b"1")
        path.remove()
        self.assertIsNone(cache.open(A))
        self.assertFalse(cache.is_cached(A))

    def test_foreign_spool(self) -> None:
        """A spool of another kind of store cannot be committed."""
        cache, _ = self.make_cache(self)
        self.assertRaises(TypeError, cache.commit, object(), A)


class SweepTests(SynchronousTestCase):
    """
    Partial downloads left by a killed process, and those of a live one
    sharing the cache directory.
    """

    def test_startup_sweep(self) -> None:
        """
        A starting cache deletes an old partial download that no live
        process owns, and keeps one that another cache on the same directory
        (another process) is writing, however old.
        """
        root = FilePath(self.mktemp())
        other = FileCache(root, None, Clock())
        other.scan()
        live = other.open_spool()
        self.addCleanup(live.discard)
        live.write(b"still downloading")
        leftover = other.tmp_dir.child("dl-killed.part")
        leftover.setContent(b"partial")
        for path in (live.path, leftover.path):
            _age(path)
        with capturedLogs():
            FileCache(root, None, Clock()).scan()
        self.assertEqual([c.basename() for c in other.tmp_dir.children()],
                         [os.path.basename(live.path)])  # fmt: skip


def _age(path: str) -> None:
    """Make a file look last written an hour ago."""
    old = os.path.getmtime(path) - 3600
    os.utime(path, (old, old))
