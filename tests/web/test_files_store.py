"""
Tests for the ``/files/`` part of the proxy (:mod:`twisted_pypi.web.files`)
on a shared store: two proxies (nodes) on one in-memory S3 bucket.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import MemoryProxy
from tests.storage.fakes3 import at_once
from tests.storage.memorys3 import MemoryS3, memory_client
from tests.web.test_files import NEW, make_index
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace

PLACE = BucketPlace("bucket", "team/")


class SharedStoreTests(SynchronousTestCase):
    """
    Files another node cached are served from the store; files another
    node deleted are downloaded again.
    """

    def setUp(self) -> None:
        self.s3 = MemoryS3()
        self.index = make_index()

    def node(self, cache_size: int | None = None) -> MemoryProxy:
        """
        A proxy whose files are in the shared bucket, with a read cache of
        ``cache_size`` bytes.
        """
        cache_dir = FilePath(self.mktemp())
        clock = Clock()
        store = S3FileStore(
            memory_client(self.s3, clock),
            PLACE,
            cache_dir,
            cache_size,
            clock,
            cooperator=at_once,
        )
        return MemoryProxy(self.index, cache_dir, cache=store)

    def object_name(self, proxy: MemoryProxy, path: str) -> str:
        """The bucket's name of the object of a file's proxy path."""
        key = tuple(path.split("/")[2:])
        return f"{PLACE.bucket}/{PLACE.file_key(key)}"

    def test_deleted_by_another_node(self) -> None:
        """
        A file that another node deleted from the store after this node
        indexed it is not an aborted response: the read finds it gone
        before anything was sent, the node forgets it and downloads it
        again (MISS, the whole file).  (The second node's read cache is too
        small to keep a copy.)
        """
        first, second = self.node(), self.node(cache_size=100)
        path = first.file_path(NEW.filename)
        self.assertEqual(first.get(path).header("x-cache"), "MISS")
        ranged = second.get(path, headers={"Range": "bytes=0-9"})
        self.assertEqual((ranged.code, ranged.header("x-cache")), (206, "HIT"))
        self.assertEqual(ranged.body, NEW.content[:10])
        del self.s3.objects[self.object_name(first, path)]
        again = second.get(path)
        self.assertEqual((again.code, again.header("x-cache")), (200, "MISS"))
        self.assertEqual(again.body, NEW.content)
        self.assertEqual(self.index.count(f"/packages/{NEW.filename}"), 2)
        self.assertIn(self.object_name(first, path), self.s3.objects)

    def test_read_cache(self) -> None:
        """
        A node serving a file another node cached keeps a copy once it
        served it: the next requests, whole or ranged, are answered from
        its disk without a ranged ``GET`` to the store.
        """
        first, second = self.node(), self.node()
        path = first.file_path(NEW.filename)
        first.get(path)
        name = self.object_name(first, path)
        served = second.get(path)
        self.assertEqual((served.header("x-cache"), served.body), ("HIT", NEW.content))
        gets = sum(1 for m, n, _ in self.s3.requests if (m, n) == ("GET", name))
        for headers in ({}, {"Range": "bytes=5-9"}):
            again = second.get(path, headers=headers)
            self.assertEqual(again.header("x-cache"), "HIT")
        self.assertEqual(again.body, NEW.content[5:10])
        after = sum(1 for m, n, _ in self.s3.requests if (m, n) == ("GET", name))
        self.assertEqual(after, gets)
        copy = second.cache.lookup(path.split("/")[2:])
        assert copy is not None
        self.assertEqual(copy.getContent(), NEW.content)
