"""
The S3 stores on a real S3-compatible server: SeaweedFS, started by
:mod:`tests.seaweed` (the shared one, with credentials: every request must
be signed), each test in a bucket of its own.
"""

from __future__ import annotations

import os

from botocore.config import Config
from botocore.credentials import Credentials
from botocore.session import get_session
from twisted.internet import reactor
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool

from tests.consumers import Consumer
from tests.seaweed import REGION, shared_server
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.multipart import MIN_PART_SIZE
from twisted_pypi.objectstore.signing import Signer
from twisted_pypi.storage.objectreader import ObjectReader
from twisted_pypi.storage.recordstore import Record
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace
from twisted_pypi.storage.s3records import S3Records

KEY = ("pypi", "https", "files.example", "packages", "big-1.0.tar.gz")


class SeaweedStoreTests(TestCase):
    """
    :class:`S3FileStore` and :class:`S3Records` on SeaweedFS.
    """

    def setUp(self) -> None:
        """The shared SeaweedFS, a new bucket, a client signing with its keys."""
        self.server = shared_server()
        self.bucket = self.server.new_bucket()
        assert self.server.keys is not None
        keys = self.server.keys
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        signer = Signer(Credentials(keys.access_key, keys.secret_key), REGION)
        self.client = S3Client(
            Agent(reactor, pool=pool), self.server.endpoint, signer, reactor
        )
        self.place = BucketPlace(self.bucket, "node/")

    def store(self) -> S3FileStore:
        """A store of the bucket with a new, empty local directory."""
        store = S3FileStore(
            self.client,
            self.place,
            FilePath(self.mktemp()),
            None,
            reactor,
            threshold=MIN_PART_SIZE,
            part_size=MIN_PART_SIZE,
        )
        store.scan()
        return store

    async def test_commit_and_serve_ranges(self) -> None:
        """
        A file committed by one node (in parts, being larger than the
        threshold) is listed by a node started afterwards with an empty
        disk, which reads ranges of it from the store with ranged GETs.
        """
        data = os.urandom(MIN_PART_SIZE + 12345)
        first = self.store()
        assert first.listing is not None
        await first.listing
        spool = first.open_spool()
        spool.write(data)
        stat = await first.commit(spool, KEY)
        self.assertEqual(stat.size, len(data))
        second = self.store()
        assert second.listing is not None
        await second.listing
        self.assertEqual(second.stat(KEY), stat)
        reader = second.open(KEY)
        self.assertIsInstance(reader, ObjectReader)
        assert reader is not None
        self.addCleanup(reader.close)
        for offset, length in [(0, 10), (MIN_PART_SIZE - 5, 100), (1, len(data) - 1)]:
            consumer = Consumer()
            await reader.stream(consumer, offset, length)
            self.assertEqual(b"".join(consumer.chunks), data[offset : offset + length])

    async def test_second_commit_is_a_success(self) -> None:
        """
        Two nodes committing the same file both succeed, with the same
        object: the second one's create-only upload found it there.
        """
        stats = []
        for store in (self.store(), self.store()):
            spool = store.open_spool()
            spool.write(b"same verified bytes")
            stats.append(await store.commit(spool, KEY))
        self.assertEqual(stats[0], stats[1])

    async def test_find_published_by_another_node(self) -> None:
        """
        A node whose index predates another node's commit finds the file
        with a HEAD.
        """
        reader_node = self.store()
        assert reader_node.listing is not None
        await reader_node.listing
        writer = self.store()
        spool = writer.open_spool()
        spool.write(b"late file")
        await writer.commit(spool, KEY)
        self.assertIsNone(reader_node.stat(KEY))
        found = await reader_node.find(KEY)
        assert found is not None
        self.assertEqual(found.size, 9)

    async def test_read_cache_fill(self) -> None:
        """
        A node using a file another node published (one ``PUT``, and one in
        parts) fetches it whole into its read cache, verified against the
        object's real entity tag, and reads it from the disk afterwards.
        """
        small = (*KEY[:-1], "small-1.0.tar.gz")
        files = {KEY: os.urandom(MIN_PART_SIZE + 4321), small: b"one small put"}
        writer = self.store()
        for key, data in files.items():
            spool = writer.open_spool()
            spool.write(data)
            await writer.commit(spool, key)
        reader_node = self.store()
        for key, data in files.items():
            stat = await reader_node.find(key)
            reader_node.touch(key)
            await reader_node.filled(key)
            copy = reader_node.lookup(key)
            assert copy is not None, f"no local copy of {key[-1]}"
            self.assertEqual(copy.getContent(), data)
            reader = reader_node.open(key)
            assert reader is not None
            self.addCleanup(reader.close)
            self.assertNotIsInstance(reader, ObjectReader)
            self.assertEqual(reader.stat, stat)

    def test_records(self) -> None:
        """
        Records round-trip through the bucket: saved whole, loaded, listed
        by index and key, removed.
        """
        keys = self.server.keys
        assert keys is not None
        client = get_session().create_client(
            "s3",
            endpoint_url=self.server.endpoint,
            region_name=REGION,
            aws_access_key_id=keys.access_key,
            aws_secret_access_key=keys.secret_key,
            config=Config(s3={"addressing_style": "path"}),
        )
        records = S3Records(client, self.place, "pages", ".page")
        record = Record({"url": "https://x/simple/six/"}, b"<html>six</html>")
        self.assertTrue(records.save("pypi", "six", record))
        self.assertTrue(records.save("pypi", "attrs", record))
        self.assertTrue(records.save("other", "six", record))
        self.assertEqual(records.load("pypi", "six"), record)
        self.assertIsNone(records.load("pypi", "absent"))
        self.assertEqual(records.keys("pypi"), ["attrs", "six"])
        self.assertEqual(records.indexes(), ["other", "pypi"])
        self.assertTrue(records.remove("pypi", "six"))
        self.assertFalse(records.remove("pypi", "six"))
        self.assertIsNone(records.load("pypi", "six"))
