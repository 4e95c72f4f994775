"""
Tests for :mod:`twisted_pypi.storage.lrufiles`: the least-recently-used
order of a cache directory's files on disk (uses recorded in access times,
eviction to stay within the budget or to make room on a full disk), through
:class:`~twisted_pypi.storage.filecache.FileCache` and on its own.
"""

from __future__ import annotations

import os

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.storage.test_filecache import NOW, A, B, C, _CacheTestMixin, put
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.lru import LruIndex
from twisted_pypi.storage.lrufiles import TOUCH_INTERVAL, LruFiles


class LruFilesTests(SynchronousTestCase):
    """
    :class:`LruFiles` on its own, over a directory written by hand.
    """

    def setUp(self) -> None:
        """Two files on disk, ``A`` used before ``C``; nothing loaded."""
        self.clock = Clock()
        self.clock.advance(NOW)
        self.files = FilePath(self.mktemp())
        for key, when in ((A, NOW - 100), (C, NOW - 50)):
            path = self.files.descendant(key)
            path.parent().makedirs(ignoreExistingDirectory=True)
            path.setContent(b"1234")
            os.utime(path.path, (when, when))
        self.index = LruIndex(None)
        self.lru = LruFiles(
            self.index, self.files, self.files.descendant, self.clock, lambda: None
        )

    def test_load(self) -> None:
        """Loading registers the files on disk, by their last use."""
        self.lru.load()
        self.assertEqual(list(self.index.entries()), [(A, 4), (C, 4)])

    def test_delete(self) -> None:
        """
        Deleting a file forgets it and removes it, with its empty
        directories; it is not an eviction.
        """
        self.lru.load()
        path = self.lru.delete(C)
        self.assertFalse(path.exists())
        self.assertFalse(path.parent().exists())
        self.assertTrue(self.files.descendant(A).exists())
        self.assertEqual(list(self.index.entries()), [(A, 4)])
        self.assertEqual(self.lru.evictions, 0)

    def test_within_budget(self) -> None:
        """
        Over a budget, the least recently used file is evicted first (and
        not a file kept for this round), counted and logged.
        """
        self.lru.load()
        self.index.max_size = 4
        with capturedLogs() as events:
            self.lru.within_budget(keep=A)
        self.assertEqual(list(self.index.entries()), [(A, 4)])
        self.assertEqual(self.lru.evictions, 1)
        self.assertEqual(len(events), 1)


class TouchTests(SynchronousTestCase, _CacheTestMixin):
    """
    :meth:`FileCache.touch`.
    """

    def test_touch_moves_to_end(self) -> None:
        """A touched file becomes the most recently used."""
        cache, _ = self.make_cache(self)
        put(cache, A, b"1")
        put(cache, B, b"2")
        cache.touch(A)
        self.assertEqual([key for key, _ in cache.entries()], [B, A])

    def test_touch_keeps_mtime(self) -> None:
        """
        Touching records the use in the file's access time and leaves its
        modification time (the HTTP validator) unchanged.
        """
        cache, clock = self.make_cache(self)
        path = put(cache, A, b"1")
        os.utime(path.path, ns=(10**18, 1_600_000_000_123_456_789))
        clock.advance(TOUCH_INTERVAL + 1)
        cache.touch(A)
        st = os.stat(path.path)
        self.assertEqual(st.st_mtime_ns, 1_600_000_000_123_456_789)
        self.assertEqual(st.st_atime, int(clock.seconds()))

    def test_touch_is_rate_limited(self) -> None:
        """
        A second touch within the touch interval changes the order in memory
        but does not write the access time again.
        """
        cache, clock = self.make_cache(self)
        path = put(cache, A, b"1")
        put(cache, B, b"2")
        clock.advance(TOUCH_INTERVAL + 1)
        cache.touch(A)
        first = os.stat(path.path).st_atime_ns
        clock.advance(1)
        cache.touch(B)
        cache.touch(A)
        self.assertEqual(os.stat(path.path).st_atime_ns, first)
        self.assertEqual([key for key, _ in cache.entries()], [B, A])


class EvictionTests(SynchronousTestCase, _CacheTestMixin):
    """
    Eviction under a size budget.
    """

    def test_lru_evicted_first(self) -> None:
        """
        Committing past the budget evicts the least recently used file (a
        touched file counts as used), deletes it from disk, and logs it.
        """
        cache, _ = self.make_cache(self, max_size=10)
        a = put(cache, A, b"aaaa")
        b = put(cache, B, b"bbbb")
        cache.touch(A)
        with capturedLogs() as events:
            put(cache, C, b"cccc")
        self.assertEqual([key for key, _ in cache.entries()], [A, C])
        self.assertFalse(b.exists())
        self.assertTrue(a.exists())
        self.assertEqual(cache.evictions, 1)
        self.assertEqual(cache.total_size, 8)
        self.assertEqual([e["path"] for e in events if "max_size" in e], [b.path])

    def test_pinned_never_evicted(self) -> None:
        """A pinned file is never evicted, even if the cache stays over budget."""
        cache, _ = self.make_cache(self, max_size=6)
        put(cache, A, b"aaaa")
        cache.pin(A)
        put(cache, B, b"bbbb")
        self.assertEqual([key for key, _ in cache.entries()], [A, B])
        self.assertEqual(cache.evictions, 0)
        cache.unpin(A)
        put(cache, C, b"cc")
        self.assertEqual([key for key, _ in cache.entries()], [B, C])

    def test_pins_are_counted(self) -> None:
        """A file pinned twice stays pinned until unpinned twice."""
        cache, _ = self.make_cache(self)
        cache.pin(A)
        cache.pin(A)
        cache.unpin(A)
        self.assertTrue(cache.is_pinned(A))
        cache.unpin(A)
        self.assertFalse(cache.is_pinned(A))
        self.assertRaises(ValueError, cache.unpin, A)

    def test_oversized_file_kept(self) -> None:
        """
        A file bigger than the whole budget is committed and kept; every other
        unpinned file is evicted.
        """
        cache, _ = self.make_cache(self, max_size=5)
        put(cache, A, b"aa")
        put(cache, B, b"bb")
        path = put(cache, C, b"cccccccccc")
        self.assertEqual(list(cache.entries()), [(C, 10)])
        self.assertEqual(path.getContent(), b"cccccccccc")

    def test_reservation_makes_room(self) -> None:
        """
        Reserving bytes evicts least recently used files to make room, the
        reserved bytes count until released, and releasing twice is harmless.
        """
        cache, _ = self.make_cache(self, max_size=10)
        put(cache, A, b"aaaa")
        put(cache, B, b"bbbb")
        reservation = cache.reserve(6)
        self.assertEqual([key for key, _ in cache.entries()], [B])
        self.assertEqual(cache.reserved, 6)
        put(cache, C, b"cc")
        self.assertEqual([key for key, _ in cache.entries()], [C])
        reservation.release()
        reservation.release()
        self.assertEqual(cache.reserved, 0)

    def test_empty_directories_pruned(self) -> None:
        """Evicting a directory's last file removes the empty directories."""
        cache, _ = self.make_cache(self, max_size=4)
        put(cache, C, b"cccc")
        put(cache, A, b"aaaa")
        self.assertFalse(cache.path_for(C).parent().exists())
        self.assertTrue(cache.path_for(A).exists())

    def test_no_budget(self) -> None:
        """Without a budget nothing is evicted."""
        cache, _ = self.make_cache(self)
        for segments in (A, B, C):
            put(cache, segments, b"x" * 1000)
        self.assertEqual(cache.total_size, 3000)
        self.assertEqual(cache.evictions, 0)


class MakeRoomTests(SynchronousTestCase):
    """
    :meth:`FileCache.make_room`: eviction when a write found the disk full,
    whatever the budget.
    """

    def test_evicts_without_budget(self) -> None:
        """
        With no size limit, least-recently-used unpinned files are evicted
        until they add up to the room wanted; pinned files stay.
        """
        cache = FileCache(FilePath(self.mktemp()), None, Clock(), free_space=_unknown)
        cache.scan()
        a, b, c = (
            put(cache, A, b"a" * 10),
            put(cache, B, b"b" * 10),
            put(cache, C, b"c"),
        )
        cache.pin(A)
        with capturedLogs() as events:
            self.assertTrue(cache.make_room(5))
        self.assertTrue(a.exists())
        self.assertFalse(os.path.exists(b.path))
        self.assertTrue(os.path.exists(c.path))
        self.assertEqual([key for key, _ in cache.entries()], [A, C])
        self.assertEqual(cache.evictions, 1)
        self.assertIn("full disk", events[0]["log_format"].format(**events[0]))

    def test_hopeless_keeps_files(self) -> None:
        """
        When the file system says even evicting every unpinned file would
        not make the room, nothing is evicted.
        """
        cache = FileCache(
            FilePath(self.mktemp()), None, Clock(), free_space=lambda p: 3
        )
        cache.scan()
        put(cache, A, b"a" * 10)
        with capturedLogs():
            self.assertFalse(cache.make_room(100))
        self.assertTrue(cache.is_cached(A))
        self.assertEqual(cache.evictions, 0)

    def test_nothing_to_evict(self) -> None:
        """With nothing evictable, no room is made."""
        cache = FileCache(FilePath(self.mktemp()), None, Clock(), free_space=_unknown)
        cache.scan()
        self.assertFalse(cache.make_room(1))


def _unknown(path: str) -> None:
    """A file system that does not say how much is free."""
    return None
