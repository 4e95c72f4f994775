"""
The object store client against a real S3-compatible store: SeaweedFS,
started by :mod:`tests.seaweed` with credentials in its environment, so
only correctly signed requests succeed.
"""

from __future__ import annotations

import hashlib
import os

from botocore.credentials import Credentials
from twisted.internet import reactor
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool

from tests.consumers import Consumer
from tests.seaweed import REGION, SeaweedServer, shared_server
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.errors import (
    AccessDenied,
    AlreadyExists,
    NotFound,
    StoreUnavailable,
)
from twisted_pypi.objectstore.multipart import MIN_PART_SIZE, put_file
from twisted_pypi.objectstore.signing import Signer

MiB = 1024 * 1024


class SeaweedTests(TestCase):
    """
    :class:`S3Client` on a real SeaweedFS, each test in a bucket of its own.
    """

    def setUp(self) -> None:
        """
        The shared store, a new bucket, a client with the store's keys.
        """
        self.server = shared_server()
        self.bucket = self.server.new_bucket()
        self.client = self.make_client(self.server)

    def make_client(self, server: SeaweedServer, secret: str | None = None) -> S3Client:
        """
        A client of ``server`` signing with its keys (or another secret).
        """
        assert server.keys is not None
        credentials = Credentials(
            server.keys.access_key, secret or server.keys.secret_key
        )
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        agent = Agent(reactor, pool=pool)
        return S3Client(agent, server.endpoint, Signer(credentials, REGION), reactor)

    async def read_range(self, key: str, offset: int, length: int) -> bytes:
        """
        ``length`` bytes of an object from ``offset``, streamed.
        """
        body = await self.client.get(self.bucket, key, offset, length)
        consumer = Consumer()
        await body.stream_to(consumer)
        return b"".join(consumer.chunks)

    async def test_signed_roundtrip(self) -> None:
        """
        An object written with metadata reads back with its size, entity
        tag, type and metadata; the store accepted the signatures.
        """
        key = "six/six-1.0+local é.whl"
        etag = await self.client.put(
            self.bucket, key, b"wheel bytes", content_type="x/y", metadata={"sha": "1"}
        )
        info = await self.client.head(self.bucket, key)
        self.assertEqual((info.size, info.etag, info.content_type), (11, etag, "x/y"))
        self.assertEqual(dict(info.metadata), {"sha": "1"})
        _, data = await self.client.read(self.bucket, key)
        self.assertEqual(data, b"wheel bytes")

    async def test_wrong_secret(self) -> None:
        """
        A request signed with a wrong secret is refused as
        :class:`AccessDenied`.
        """
        await self.client.put(self.bucket, "k", b"x")
        bad = self.make_client(self.server, secret="not-the-secret")
        with self.assertRaises(AccessDenied):
            await bad.read(self.bucket, "k")
        with self.assertRaises(AccessDenied):
            await bad.put(self.bucket, "k", b"y")

    async def test_create_only(self) -> None:
        """
        A second create-only write of a key fails with
        :class:`AlreadyExists` and leaves the first object.
        """
        await self.client.put(self.bucket, "once", b"first", create_only=True)
        with self.assertRaises(AlreadyExists):
            await self.client.put(self.bucket, "once", b"second", create_only=True)
        _, data = await self.client.read(self.bucket, "once")
        self.assertEqual(data, b"first")

    async def test_missing(self) -> None:
        """
        Reading, or asking about, an object that is not there is
        :class:`NotFound`; deleting one removes it.
        """
        with self.assertRaises(NotFound):
            await self.client.head(self.bucket, "nothing")
        await self.client.put(self.bucket, "gone", b"x")
        await self.client.delete(self.bucket, "gone")
        with self.assertRaises(NotFound):
            await self.client.get(self.bucket, "gone")

    async def test_ranges(self) -> None:
        """
        Ranged reads return exactly the bytes asked for.
        """
        data = bytes(range(256)) * 40
        await self.client.put(self.bucket, "r", data)
        self.assertEqual(await self.read_range("r", 0, 1), data[:1])
        self.assertEqual(await self.read_range("r", 1000, 2000), data[1000:3000])
        self.assertEqual(await self.read_range("r", len(data) - 7, 7), data[-7:])

    async def test_list_pages(self) -> None:
        """
        A listing two keys at a time walks every key under a prefix, in
        order, by continuation tokens.
        """
        keys = [f"p/{i}" for i in range(5)]
        for key in keys + ["q/other"]:
            await self.client.put(self.bucket, key, b"x")
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            page = await self.client.list_objects(self.bucket, "p/", token, max_keys=2)
            seen += [o.key for o in page.objects]
            pages += 1
            token = page.next_token
            if token is None:
                break
        self.assertEqual(seen, keys)
        self.assertEqual(pages, 3)

    async def test_multipart(self) -> None:
        """
        A 20 MB file published in parts (create-only) reads back by ranges
        across part boundaries; publishing it again create-only fails with
        :class:`AlreadyExists` and publishes nothing.
        """
        path = self.mktemp()
        data = os.urandom(20 * 1000 * 1000)
        with open(path, "wb") as f:
            f.write(data)
        etag = await put_file(
            self.client,
            self.bucket,
            "big.whl",
            path,
            len(data),
            create_only=True,
            threshold=MIN_PART_SIZE,
            part_size=MIN_PART_SIZE,
        )
        self.assertTrue(etag.endswith("-4"), etag)
        info = await self.client.head(self.bucket, "big.whl")
        self.assertEqual(info.size, len(data))
        edge = MIN_PART_SIZE - 10
        self.assertEqual(
            await self.read_range("big.whl", edge, 20), data[edge : edge + 20]
        )
        tail = await self.read_range("big.whl", len(data) - 1000, 1000)
        self.assertEqual(tail, data[-1000:])
        whole = await self.read_range("big.whl", 0, len(data))
        self.assertEqual(hashlib.sha256(whole).digest(), hashlib.sha256(data).digest())
        with self.assertRaises(AlreadyExists):
            await put_file(
                self.client,
                self.bucket,
                "big.whl",
                path,
                len(data),
                create_only=True,
                threshold=MIN_PART_SIZE,
                part_size=MIN_PART_SIZE,
            )

    async def test_small_file(self) -> None:
        """
        A file under the threshold is published in one streamed ``PUT``
        with its signed SHA-256.
        """
        path = self.mktemp()
        data = os.urandom(300 * 1000)
        with open(path, "wb") as f:
            f.write(data)
        digest = hashlib.sha256(data).hexdigest()
        await put_file(
            self.client, self.bucket, "small", path, len(data), sha256=digest
        )
        _, back = await self.client.read(self.bucket, "small")
        self.assertEqual(back, data)


class OutageTests(TestCase):
    """
    A store of its own, stopped and started again.
    """

    async def test_outage(self) -> None:
        """
        While the store is stopped requests fail with
        :class:`StoreUnavailable`; once it is back, what was written before
        is there.
        """
        from tests.seaweed import S3Keys

        server = SeaweedServer(S3Keys.random())
        self.addCleanup(server.close)
        server.start()
        bucket = server.new_bucket()
        client = SeaweedTests.make_client(self, server)  # type: ignore[arg-type]
        await client.put(bucket, "k", b"kept")
        server.stop()
        with self.assertRaises(StoreUnavailable):
            await client.read(bucket, "k")
        server.start()
        _, data = await client.read(bucket, "k")
        self.assertEqual(data, b"kept")
