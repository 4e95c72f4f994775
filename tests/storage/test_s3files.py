"""
Tests for :mod:`twisted_pypi.storage.s3files`: the shared store over a fake
S3 client (the real one, on SeaweedFS, is in ``test_s3seaweed``).
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from tests.storage.fakes3 import FakeS3, at_once
from twisted_pypi.storage.interfaces import FileStat, IFileStore, StoreUnreachable
from twisted_pypi.storage.objectreader import ObjectReader
from twisted_pypi.storage.rangereader import LocalFileReader
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace

KEY = ("pypi", "https", "files.example", "packages", "demo-1.0.tar.gz")
OBJECT = "team/files/pypi/https/files.example/packages/demo-1.0.tar.gz"


class RacingS3(FakeS3):
    """
    A bucket where another node publishes each object just before this
    node's upload of it.
    """

    def put(self, bucket: str, key: str, body: Any, **kwargs: Any) -> Deferred[str]:
        """The other node's object appears, then the upload is tried."""
        self.objects[bucket, key] = b"sdist bytes"
        return super().put(bucket, key, body, **kwargs)


class StoreBase(SynchronousTestCase):
    """
    An :class:`S3FileStore` over a fake client.
    """

    def setUp(self) -> None:
        """A store of a fake bucket."""
        self.s3 = FakeS3()
        self.root = FilePath(self.mktemp())
        self.store = self.make_store(self.root)

    def make_store(self, root: FilePath[str]) -> S3FileStore:
        """A store of ``s3://b/team/`` with its local directory at ``root``."""
        store = S3FileStore(
            cast(Any, self.s3),
            BucketPlace("b", "team/"),
            root,
            None,
            Clock(),
            cooperator=at_once,
        )
        store.scan()
        return store

    def commit(self, data: bytes, store: S3FileStore | None = None) -> FileStat:
        """Spool ``data`` and commit it as :data:`KEY`."""
        store = store or self.store
        spool = store.open_spool()
        spool.write(data)
        return self.successResultOf(store.commit(spool, KEY))


class S3FileStoreTests(StoreBase):
    """
    :class:`S3FileStore` over a fake client.
    """

    def test_interface(self) -> None:
        """
        The store provides :class:`IFileStore`.
        """
        self.assertTrue(verifyObject(IFileStore, self.store))

    def test_commit_publishes_create_only(self) -> None:
        """
        A commit uploads the spool under ``PREFIX/files/<key...>``, the
        layout of a local cache, and indexes the object's stat; the spool
        becomes the local copy.
        """
        stat = self.commit(b"sdist bytes")
        self.assertEqual(self.s3.objects["b", OBJECT], b"sdist bytes")
        self.assertEqual(self.store.stat(KEY), stat)
        self.assertEqual(stat.size, 11)
        self.assertTrue(self.store.is_cached(KEY))
        path = self.store.lookup(KEY)
        assert path is not None
        self.assertEqual(path.getContent(), b"sdist bytes")
        self.assertEqual(self.store.tmp_dir.listdir(), [])

    def test_already_published(self) -> None:
        """
        A file another node published first (the node this one streamed it
        from) counts as committed: the commit succeeds with the stored
        object's stat, the object is left as it was and is not uploaded a
        second time; the spool becomes the local copy.
        """
        self.s3.objects["b", OBJECT] = b"sdist bytes"
        before = self.s3._info("b", OBJECT)
        with capturedLogs():
            stat = self.commit(b"sdist bytes")
        self.assertEqual((stat.size, stat.etag), (before.size, before.etag))
        self.assertNotIn(("PUT", OBJECT), self.s3.calls)
        self.assertEqual(self.store.stat(KEY), stat)
        path = self.store.lookup(KEY)
        assert path is not None
        self.assertEqual(path.getContent(), b"sdist bytes")

    def test_published_meanwhile(self) -> None:
        """
        A file another node publishes between this node's look and its
        upload counts as committed too (the create-only upload is refused).
        """
        self.s3 = RacingS3()
        self.store = self.make_store(FilePath(self.mktemp()))
        with capturedLogs():
            stat = self.commit(b"sdist bytes")
        self.assertEqual(stat.size, 11)
        self.assertEqual(
            [c for c in self.s3.calls if c[1] == OBJECT],
            [("HEAD", OBJECT), ("PUT", OBJECT), ("HEAD", OBJECT)],
        )

    def test_commit_store_down(self) -> None:
        """
        A commit the store cannot take fails with :class:`StoreUnreachable`:
        nothing is indexed, and the spool is intact (its clients still get
        the file).
        """
        self.s3.down = True
        spool = self.store.open_spool()
        spool.write(b"sdist bytes")
        failure = self.failureResultOf(self.store.commit(spool, KEY))
        failure.trap(StoreUnreachable)
        self.assertIn("s3://b/team/", failure.getErrorMessage())
        self.assertIsNone(self.store.stat(KEY))
        reader = spool.open_reader()
        self.addCleanup(reader.close)
        self.assertEqual(reader.read(0, 100), b"sdist bytes")
        spool.discard()

    def test_find_store_down(self) -> None:
        """
        When the store cannot be asked, a look-up fails with
        :class:`StoreUnreachable`, unless there is a local copy.
        """
        self.s3.down = True
        self.failureResultOf(self.store.find(KEY)).trap(StoreUnreachable)
        self.store.path_for(KEY).parent().makedirs()
        self.store.path_for(KEY).setContent(b"local")
        stat = self.successResultOf(self.store.find(KEY))
        assert stat is not None
        self.assertEqual(stat.size, 5)
        reader = self.store.open(KEY)
        assert reader is not None
        self.addCleanup(reader.close)
        self.assertIsInstance(reader, LocalFileReader)

    def test_open_local_copy_with_object_validators(self) -> None:
        """
        A file with a local copy is read from it, with the object's stat
        (so every node sends the same ``ETag``).
        """
        stat = self.commit(b"sdist bytes")
        reader = self.store.open(KEY)
        assert reader is not None
        self.addCleanup(reader.close)
        self.assertIsInstance(reader, LocalFileReader)
        self.assertEqual(reader.stat, stat)

    def test_open_without_local_copy(self) -> None:
        """
        A file another node published is read from the object.
        """
        self.s3.objects["b", OBJECT] = b"published by node A"
        stat = self.successResultOf(self.store.find(KEY))
        reader = self.store.open(KEY)
        self.assertIsInstance(reader, ObjectReader)
        assert reader is not None
        self.assertEqual(reader.stat, stat)
        self.assertIsNone(self.store.open(KEY[:-1] + ("other-1.0.tar.gz",)))

    def test_remove(self) -> None:
        """
        Removing a file forgets it, deletes its local copy and its object.
        """
        self.commit(b"sdist bytes")
        self.assertTrue(self.store.remove(KEY))
        self.assertNotIn(("b", OBJECT), self.s3.objects)
        self.assertIsNone(self.store.stat(KEY))
        self.assertIsNone(self.store.lookup(KEY))
        self.assertFalse(self.store.remove(KEY))

    def test_unsafe_key(self) -> None:
        """
        An unsafe key is refused.
        """
        self.assertRaises(ValueError, self.store.find, ("pypi", ".."))
        self.assertRaises(ValueError, self.store.stat, ())


class ReadCacheTests(SynchronousTestCase):
    """
    The node's read cache fills from the store on a file's first use.
    """

    def setUp(self) -> None:
        """A store of a fake bucket holding a file another node published."""
        self.s3 = FakeS3()
        self.s3.objects["b", OBJECT] = b"published by node A"
        self.store = self.make_store(None)

    def make_store(self, max_size: int | None) -> S3FileStore:
        """A store of ``s3://b/team/`` with a budget of ``max_size``."""
        store = S3FileStore(
            cast(Any, self.s3),
            BucketPlace("b", "team/"),
            FilePath(self.mktemp()),
            max_size,
            Clock(),
            cooperator=at_once,
        )
        store.scan()
        return store

    def test_first_use_fills(self) -> None:
        """
        The first use of a file with no local copy fetches its object whole
        (one ``GET``) into a local copy; it is then read from the disk with
        the object's validators, and further uses fetch nothing.
        """
        stat = self.store.stat(KEY)
        self.store.touch(KEY)
        self.successResultOf(self.store.filled(KEY))
        self.assertEqual(self.s3.calls.count(("GET", OBJECT)), 1)
        path = self.store.lookup(KEY)
        assert path is not None
        self.assertEqual(path.getContent(), b"published by node A")
        reader = self.store.open(KEY)
        assert reader is not None
        self.addCleanup(reader.close)
        self.assertIsInstance(reader, LocalFileReader)
        self.assertEqual(reader.stat, stat)
        self.store.touch(KEY)
        self.assertEqual(self.s3.calls.count(("GET", OBJECT)), 1)
        self.assertEqual(self.store.reserved, 0)

    def test_cut_short_not_kept(self) -> None:
        """
        A fetch cut short keeps no local copy, partial or not, leaves no
        temporary file and gives its reservation back; the file is still
        read from the store, and the next use tries again.
        """
        self.s3.cut = 5
        self.store.touch(KEY)
        self.successResultOf(self.store.filled(KEY))
        self.assertIsNone(self.store.lookup(KEY))
        self.assertEqual(self.store.tmp_dir.listdir(), [])
        self.assertEqual(self.store.reserved, 0)
        self.assertIsInstance(self.store.open(KEY), ObjectReader)
        self.s3.cut = None
        self.store.touch(KEY)
        self.assertIsNotNone(self.store.lookup(KEY))

    def test_within_budget(self) -> None:
        """
        Local copies stay within the budget: the least recently used is
        evicted for a new one, and a file larger than the whole budget is
        not copied.
        """
        store = self.make_store(30)
        other = (*KEY[:-1], "other-1.0.tar.gz")
        self.s3.objects["b", OBJECT[: -len(KEY[-1])] + other[-1]] = b"x" * 15
        self.successResultOf(store.find(other))
        store.touch(KEY)
        store.touch(other)
        self.assertIsNone(store.lookup(KEY))
        self.assertIsNotNone(store.lookup(other))
        small = self.make_store(10)
        gets = self.s3.calls.count(("GET", OBJECT))
        small.touch(KEY)
        self.assertIsNone(small.lookup(KEY))
        self.assertEqual(self.s3.calls.count(("GET", OBJECT)), gets)
