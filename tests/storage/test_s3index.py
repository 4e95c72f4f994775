"""
Tests for :mod:`twisted_pypi.storage.s3index`: what a shared store's bucket
holds, listed, looked up with ``HEAD``, updated and corrected; on its own and
through :class:`~twisted_pypi.storage.s3files.S3FileStore`, over a fake S3
client.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.storage.fakes3 import FakeS3
from tests.storage.test_s3files import KEY, OBJECT, StoreBase
from twisted_pypi.objectstore.errors import S3Error
from twisted_pypi.objectstore.objects import ObjectInfo
from twisted_pypi.storage.interfaces import FileStat
from twisted_pypi.storage.s3index import ObjectIndex
from twisted_pypi.storage.s3place import BucketPlace


class ObjectIndexTests(SynchronousTestCase):
    """
    :class:`ObjectIndex` on its own.
    """

    def setUp(self) -> None:
        """An empty index of ``s3://b/team/``."""
        self.s3 = FakeS3()
        self.index = ObjectIndex(cast(Any, self.s3), BucketPlace("b", "team/"))

    def test_add_remove(self) -> None:
        """
        An indexed object is listed with its size, date and entity tag
        until it is removed.
        """
        stat = self.index.add(KEY, ObjectInfo(11, "abc", 1700000000.0))
        self.assertEqual(stat, FileStat(11, 1700000000.0, "abc"))
        self.assertEqual(self.index.get(KEY), stat)
        self.assertIn(KEY, self.index)
        self.assertEqual(len(self.index), 1)
        self.assertTrue(self.index.remove(KEY))
        self.assertIsNone(self.index.get(KEY))
        self.assertFalse(self.index.remove(KEY))

    def test_head(self) -> None:
        """
        A ``HEAD`` of a file's object indexes it; a missing object is
        ``None``, not indexed.
        """
        self.s3.objects["b", OBJECT] = b"sdist bytes"
        stat = self.successResultOf(self.index.head(KEY))
        assert stat is not None
        self.assertEqual(stat.size, 11)
        self.assertEqual(self.index.get(KEY), stat)
        other = KEY[:-1] + ("other-1.0.tar.gz",)
        self.assertIsNone(self.successResultOf(self.index.head(other)))
        self.assertNotIn(other, self.index)

    def test_head_store_down(self) -> None:
        """A ``HEAD`` the store cannot answer fails with its error."""
        self.s3.down = True
        self.failureResultOf(self.index.head(KEY), S3Error)

    def test_forget(self) -> None:
        """
        A file whose object a read found gone is forgotten, and that is
        logged; one indexed again since (another stat) is kept.
        """
        stat = self.index.add(KEY, ObjectInfo(11, "abc"))
        newer = self.index.add(KEY, ObjectInfo(12, "def"))
        with capturedLogs() as events:
            self.index.forget(KEY, stat)
        self.assertEqual(self.index.get(KEY), newer)
        self.assertEqual(events, [])
        with capturedLogs() as events:
            self.index.forget(KEY, newer)
        self.assertNotIn(KEY, self.index)
        self.assertEqual(len(events), 1)

    def test_listing_keeps_newer(self) -> None:
        """
        A listing does not replace what was indexed while it ran (a commit,
        a ``HEAD``): the listed object may be older.
        """
        self.s3.objects["b", OBJECT] = b"sdist bytes"
        stat = self.index.add(KEY, ObjectInfo(99, "newer"))
        with capturedLogs():
            self.successResultOf(self.index.list_bucket())
        self.assertEqual(self.index.get(KEY), stat)


class StoreIndexTests(StoreBase):
    """
    The index behind :class:`~twisted_pypi.storage.s3files.S3FileStore`:
    filled at its scan, completed by its look-ups.
    """

    def test_find_miss_asks_the_store(self) -> None:
        """
        A file the index does not list is looked up with a ``HEAD`` (another
        node may have published it), then indexed: the next look-up does not
        ask again.
        """
        self.s3.objects["b", OBJECT] = b"published by node A"
        stat = self.successResultOf(self.store.find(KEY))
        assert stat is not None
        self.assertEqual(stat.size, 19)
        self.assertEqual(self.s3.calls.count(("HEAD", OBJECT)), 1)
        self.assertEqual(self.successResultOf(self.store.find(KEY)), stat)
        self.assertEqual(self.s3.calls.count(("HEAD", OBJECT)), 1)

    def test_find_absent(self) -> None:
        """
        A file the store does not have is found to be absent.
        """
        self.assertIsNone(self.successResultOf(self.store.find(KEY)))

    def test_scan_lists_the_bucket(self) -> None:
        """
        A scan lists every file object of the prefix, page by page, into the
        index; objects outside ``files/`` or with unsafe names are left out.
        """
        self.s3.page_size = 2
        for name in ("a-1.whl", "b-1.whl", "c-1.whl", ".hidden"):
            self.s3.objects["b", f"team/files/pypi/https/h/{name}"] = b"x"
        self.s3.objects["b", "team/pages/pypi/demo.page"] = b"{}\n"
        self.s3.objects["b", "other/files/pypi/https/h/d-1.whl"] = b"x"
        store = self.make_store(FilePath(self.mktemp()))
        self.assertEqual(store.store_files, 3)
        self.assertTrue(store.is_cached(("pypi", "https", "h", "c-1.whl")))

    def test_scan_store_down(self) -> None:
        """
        A store that cannot be listed leaves the index empty: files are
        then looked up one by one.
        """
        self.s3.down = True
        store = self.make_store(FilePath(self.mktemp()))
        self.assertIsNone(self.successResultOf(cast(Any, store.listing)))
        self.assertEqual(store.store_files, 0)
        self.assertEqual(len(self.flushLoggedErrors()), 0)
