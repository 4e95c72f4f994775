"""
:mod:`twisted_pypi.storage.leases` on a real S3-compatible store: the
shared SeaweedFS of :mod:`tests.seaweed`, whose conditional writes
(``If-None-Match: *``, ``If-Match`` on ``PUT`` and ``DELETE``) decide who
holds a lease.  Expiry is driven by a :class:`Clock` the nodes share, so no
test waits for a lease to run out.
"""

from __future__ import annotations

from botocore.credentials import Credentials
from twisted.internet import reactor
from twisted.internet.defer import gatherResults
from twisted.internet.task import Clock
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool

from tests.seaweed import REGION, shared_server
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.signing import Signer
from twisted_pypi.storage.leases import S3Lease, S3Leases
from twisted_pypi.storage.leasing import Following, LeaseRecord, Owned

SEGMENTS = ("pypi", "https", "files.example", "packages", "demo-1.0+local.tar.gz")
NODES = [f"http://node{n}.internal:8080" for n in range(4)]


class SeaweedLeaseTests(TestCase):
    """
    Nodes claiming one file's lease in a bucket of their own.
    """

    def setUp(self) -> None:
        """A new bucket, a client, a clock the nodes share."""
        self.server = shared_server()
        self.bucket = self.server.new_bucket("leases")
        assert self.server.keys is not None
        keys = self.server.keys
        signer = Signer(Credentials(keys.access_key, keys.secret_key), REGION)
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        self.client = S3Client(
            Agent(reactor, pool=pool), self.server.endpoint, signer, reactor
        )
        self.clock = Clock()
        self.clock.advance(1_700_000_000)

    def node(self, url: str, clock: Clock | None = None) -> S3Leases:
        """A node's leases under the prefix ``p/``, on the shared clock."""
        clock = clock or self.clock
        return S3Leases(self.client, self.bucket, "p/", url, clock)

    async def stored(self) -> LeaseRecord:
        """The lease object, read directly."""
        key = self.node(NODES[0]).key_for(SEGMENTS)
        _, data = await self.client.read(self.bucket, key)
        return LeaseRecord.decode(data)

    async def test_one_winner(self) -> None:
        """
        Four nodes claiming the same file at once: exactly one owns it, the
        others follow that one, and the lease object names it.
        """
        claims = await gatherResults([self.node(url).claim(SEGMENTS) for url in NODES])
        owned = [claim for claim in claims if isinstance(claim, Owned)]
        following = [claim for claim in claims if isinstance(claim, Following)]
        self.assertEqual((len(owned), len(following)), (1, 3))
        record = await self.stored()
        self.assertEqual(owned[0].lease.record, record)
        self.assertEqual({f.holder for f in following}, {record})
        await owned[0].lease.release()

    async def test_expiry_then_takeover(self) -> None:
        """
        A lease its holder stopped renewing is followed until it expires;
        then one of two nodes claiming it at once takes it over, and the
        old holder's release leaves the new lease alone.
        """
        hung = Clock()  # node A's: it stops, so A never renews
        hung.advance(self.clock.seconds())
        a = self.node(NODES[0], hung)
        b, c = (self.node(url) for url in NODES[1:3])
        claim = await a.claim(SEGMENTS)
        assert isinstance(claim, Owned)
        old = claim.lease
        self.assertIsInstance(await b.claim(SEGMENTS), Following)
        self.clock.advance(a.ttl)
        claims = await gatherResults([b.claim(SEGMENTS), c.claim(SEGMENTS)])
        owned = [claim for claim in claims if isinstance(claim, Owned)]
        self.assertEqual(len(owned), 1)
        record = await self.stored()
        self.assertEqual(owned[0].lease.record, record)
        self.assertIn(record.node_url, NODES[1:3])
        await old.release()
        self.assertEqual(await self.stored(), record)
        await owned[0].lease.release()

    async def test_renewal_keeps_it(self) -> None:
        """
        A lease renewed every few seconds stays live well past its first
        expiry: another node keeps following it; once released, the other
        node owns the file.
        """
        a, b = self.node(NODES[0]), self.node(NODES[1])
        claim = await a.claim(SEGMENTS)
        assert isinstance(claim, Owned) and isinstance(claim.lease, S3Lease)
        lease = claim.lease
        for _ in range(int(a.ttl / a.renew_every) * 3):
            self.clock.advance(a.renew_every)
            assert lease._renewing is not None
            await lease._renewing
        self.assertFalse(lease.lost)
        self.assertEqual(await self.stored(), lease.record)
        self.assertIsInstance(await b.claim(SEGMENTS), Following)
        await lease.release()
        self.assertIsInstance(await b.claim(SEGMENTS), Owned)
