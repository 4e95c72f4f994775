"""
Tests for :mod:`twisted_pypi.storage.bucketindex`: a private index kept in
a bucket of a real S3-compatible server (the shared SeaweedFS of
:mod:`tests.seaweed`), uploaded to through one node and listed, hashed and
served by another, which never reads a whole object to hash it.
"""

from __future__ import annotations

import hashlib
import io
import os

from botocore.credentials import Credentials
from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool

from tests.consumers import Consumer
from tests.seaweed import REGION, shared_server
from tests.uploadforms import CONTENT_TYPE, WHEEL, upload_body
from tests.wheels import build_wheel
from twisted_pypi.core.config import LocalConfig
from twisted_pypi.core.links import LinkPrefixes
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.signing import Signer
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.storage.bucketindex import FACTS_FOLDER, BucketIndexPlace
from twisted_pypi.upload.errors import UploadError
from twisted_pypi.upload.store import Stored, publish_upload, receive_upload

#: A wheel with a Requires-Python, uploaded later.
LATER = build_wheel("Demo.Pkg", "2.0", requires_python=">=3.8")

#: Seconds a listing stays good in these tests.
TTL = 60.0


class BucketIndexTests(TestCase):
    """
    Two nodes' views of one private index in a bucket.
    """

    def setUp(self) -> None:
        """The shared SeaweedFS, a new bucket, a client signing with its keys."""
        self.server = shared_server()
        self.bucket = self.server.new_bucket("private")
        keys = self.server.keys
        assert keys is not None
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        signer = Signer(Credentials(keys.access_key, keys.secret_key), REGION)
        self.client = S3Client(
            Agent(reactor, pool=pool), self.server.endpoint, signer, reactor
        )
        self.clock = Clock()

    def node(self) -> LocalIndex:
        """A node's index of ``s3://BUCKET/team/``, with its own spool dir."""
        spools = self.mktemp()
        os.makedirs(spools)
        place = BucketIndexPlace(self.client, self.bucket, "team/", spools, TTL)
        config = LocalConfig("team", place.where)
        return LocalIndex(config, LinkPrefixes(), place=place, clock=self.clock)

    async def upload(self, index: LocalIndex, body: bytes) -> Stored:
        """Receive (blocking, here at once) and publish an upload form."""
        received = receive_upload(
            io.BytesIO(body), CONTENT_TYPE, index.place.spool_dir, 1 << 20
        )
        try:
            return await publish_upload(index, received)
        finally:
            received.discard()

    async def test_upload_listed_everywhere(self) -> None:
        """
        A wheel uploaded through node A is listed at once by A; node B,
        whose listing is fresh, lists it once its TTL passed (refreshed in
        the background), with the same sha256, Requires-Python and core
        metadata, and serves byte ranges of it from the store.  Only the
        upload's spool directory is touched, and it is left empty.
        """
        node_a, node_b = self.node(), self.node()
        await node_a.refresh()
        await node_b.refresh()
        stored = await self.upload(node_a, upload_body(LATER, version="2.0"))
        self.assertEqual(stored.sha256, LATER.sha256)
        self.assertEqual(os.listdir(node_a.place.spool_dir), [])
        seen = await node_a.file(LATER.filename)
        assert seen is not None
        self.assertEqual(await node_b.file(LATER.filename), None)
        self.clock.advance(TTL)
        self.assertEqual(await node_b.file(LATER.filename), None)
        await node_b.refresh(force=True)
        listed = await node_b.file(LATER.filename)
        assert listed is not None
        self.assertEqual(
            (listed.sha256, listed.requires_python, listed.metadata, listed.size),
            (LATER.sha256, ">=3.8", LATER.metadata, len(LATER.content)),
        )
        consumer = Consumer()
        reader = node_b.open(listed)
        await reader.stream(consumer, 2, 10)
        reader.close()
        self.assertEqual(b"".join(consumer.chunks), LATER.content[2:12])

    async def test_background_refresh(self) -> None:
        """
        Once the listing is older than the TTL, a request is answered from
        it at once and the bucket is listed again in the background.
        """
        node_a, node_b = self.node(), self.node()
        await node_b.refresh()
        await self.upload(node_a, upload_body(WHEEL))
        self.clock.advance(TTL)
        await node_b.refresh()
        self.assertNotIn(WHEEL.filename, node_b._files)
        await node_b._lock.run(lambda: None)
        self.assertIn(WHEEL.filename, node_b._files)

    async def test_same_name_refused(self) -> None:
        """
        A second upload of a name, through another node, is refused with
        409 and the first file stays.
        """
        node_a, node_b = self.node(), self.node()
        await self.upload(node_a, upload_body(WHEEL))
        error = None
        try:
            await self.upload(node_b, upload_body(WHEEL))
        except UploadError as e:
            error = e
        assert error is not None
        self.assertEqual(error.code, 409)
        self.assertIn(f"{WHEEL.filename} already exists", error.message)

    async def test_object_without_facts(self) -> None:
        """
        An object put under the prefix by other means is listed without
        hashes (nothing reads it whole to hash it), a wheel with its
        ``METADATA`` read by ranges, advertised with its hash; objects in
        the facts folder and other names are not listed.
        """
        await self.client.put(self.bucket, "team/" + WHEEL.filename, WHEEL.content)
        await self.client.put(self.bucket, f"team/{FACTS_FOLDER}x.metadata", b"x")
        await self.client.put(self.bucket, "team/README.txt", b"hello")
        index = self.node()
        await index.refresh()
        self.assertEqual(sorted(index._files), [WHEEL.filename])
        listed = index._files[WHEEL.filename]
        self.assertEqual((listed.sha256, listed.metadata), ("", WHEEL.metadata))
        page = (await index.get_project("demo-pkg")).entry.page
        self.assertEqual([f.hashes for f in page.files], [{}])  # type: ignore[union-attr]
        digest = hashlib.sha256(WHEEL.metadata).hexdigest()
        self.assertEqual(
            [f.core_metadata for f in page.files],  # type: ignore[union-attr]
            [{"sha256": digest}],
        )
