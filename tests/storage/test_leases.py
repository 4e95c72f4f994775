"""
Tests for :mod:`twisted_pypi.storage.leases`: leases kept in an object
store, against an in-memory S3 (:mod:`tests.storage.fakes3`) and a
:class:`Clock`.  The same behaviour on a real SeaweedFS is in
:mod:`tests.storage.test_leases_seaweed`.
"""

from __future__ import annotations

import itertools

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from tests.storage.memorys3 import MemoryS3, memory_client
from twisted_pypi.storage.leases import S3Lease, S3Leases
from twisted_pypi.storage.leasing import (
    ClaimFailed,
    Following,
    ILease,
    ILeases,
    LeaseRecord,
    Owned,
)

SEGMENTS = ("pypi", "https", "files.example", "packages", "demo-1.0.tar.gz")
NAME = "/".join(SEGMENTS)
KEY = "bucket/cache/leases/" + NAME
NODE_A = "http://a.internal:8080"
NODE_B = "http://b.internal:8080"
START = 1_700_000_000.0


class _Base(SynchronousTestCase):
    """
    One in-memory store, one clock, and two nodes' leases on it.
    """

    def setUp(self) -> None:
        """Nodes A and B share the store and the clock."""
        self.clock = Clock()
        self.clock.advance(START)
        self.store = MemoryS3()
        self.ids = (f"id{n}" for n in itertools.count())
        self.a = self.leases(NODE_A)
        self.b = self.leases(NODE_B)

    def leases(self, node_url: str) -> S3Leases:
        """A node's leases in the store's ``cache/`` prefix."""
        client = memory_client(self.store, self.clock)
        return S3Leases(
            client, "bucket", "cache/", node_url, self.clock,
            new_id=lambda: next(self.ids),
        )  # fmt: skip

    def stored(self) -> LeaseRecord:
        """The lease object in the store."""
        return LeaseRecord.decode(self.store.objects[KEY][0])

    def owned(self, leases: S3Leases) -> S3Lease:
        """Claim the file with ``leases``, expecting to own it."""
        claim = self.successResultOf(leases.claim(SEGMENTS))
        assert isinstance(claim, Owned), claim
        assert isinstance(claim.lease, S3Lease)
        return claim.lease

    def methods(self) -> list[str]:
        """The methods of the requests sent so far."""
        return [method for method, _, _ in self.store.requests]


class ClaimTests(_Base):
    """
    :meth:`S3Leases.claim`.
    """

    def test_interfaces(self) -> None:
        """S3Leases provides ILeases; the leases it hands out provide ILease."""
        self.assertTrue(verifyObject(ILeases, self.a))
        self.assertTrue(verifyObject(ILease, self.owned(self.a)))

    def test_first_claim_owns(self) -> None:
        """
        The first claim creates the lease object under ``leases/`` with a
        conditional create; its body names the node, the file, a lease id
        and an expiry one time-to-live from now.
        """
        lease = self.owned(self.a)
        self.assertEqual(
            self.stored(), LeaseRecord(NODE_A, NAME, "id0", START + self.a.ttl)
        )
        self.assertEqual(lease.record, self.stored())
        [(method, name, headers)] = self.store.requests
        self.assertEqual((method, name), ("PUT", KEY))
        self.assertEqual(headers.getRawHeaders(b"if-none-match"), [b"*"])
        self.assertLessEqual(self.a.ttl, 30)

    def test_live_lease_followed(self) -> None:
        """A claim that finds another node's live lease follows that node."""
        self.owned(self.a)
        claim = self.successResultOf(self.b.claim(SEGMENTS))
        assert isinstance(claim, Following)
        self.assertEqual(claim.holder.node_url, NODE_A)
        self.assertEqual(claim.etag, self.store.objects[KEY][1])

    def test_expired_lease_taken_over(self) -> None:
        """
        A lease past its expiry (its holder stopped renewing) is taken
        over with a write conditional on the version read.
        """
        self.store.put(KEY, LeaseRecord(NODE_A, NAME, "old", START - 1).encode())
        etag = self.store.objects[KEY][1]
        lease = self.owned(self.b)
        self.assertEqual(self.stored().node_url, NODE_B)
        self.assertEqual(lease.record.lease_id, self.stored().lease_id)
        method, _, headers = self.store.requests[-1]
        self.assertEqual(method, "PUT")
        self.assertEqual(headers.getRawHeaders(b"if-match"), [f'"{etag}"'.encode()])

    def test_own_url_taken_over(self) -> None:
        """
        A live lease naming this node's own URL (left by a process that
        died) is taken over, not followed.
        """
        self.store.put(KEY, LeaseRecord(NODE_A, NAME, "old", START + 10).encode())
        lease = self.owned(self.a)
        self.assertEqual(self.stored().lease_id, lease.record.lease_id)
        self.assertNotEqual(lease.record.lease_id, "old")

    def test_unreadable_lease_taken_over(self) -> None:
        """An object in a lease's place that is not a lease is taken over."""
        self.store.put(KEY, b"garbage")
        self.owned(self.b)
        self.assertEqual(self.stored().node_url, NODE_B)

    def test_supersede(self) -> None:
        """
        A live lease the caller found unserved is taken over when named;
        a lease that changed since is followed instead.
        """
        self.owned(self.a)
        found = self.successResultOf(self.b.claim(SEGMENTS))
        assert isinstance(found, Following)
        self.owned(self.a)  # A's own URL: A takes it over again
        again = self.successResultOf(self.b.claim(SEGMENTS, found))
        self.assertIsInstance(again, Following)
        assert isinstance(again, Following)
        claim = self.successResultOf(self.b.claim(SEGMENTS, again))
        self.assertIsInstance(claim, Owned)
        self.assertEqual(self.stored().node_url, NODE_B)

    def test_race_one_winner(self) -> None:
        """
        Two nodes taking over the same expired lease at once: the store
        applies one conditional write, the other node follows the winner.
        """
        self.store.put(KEY, LeaseRecord(NODE_A, NAME, "old", START - 1).encode())
        self.store.hold = True
        c = self.leases("http://c.internal:8080")
        by_b, by_c = self.b.claim(SEGMENTS), c.claim(SEGMENTS)
        while self.store.held:
            self.store.release()
        claims = [self.successResultOf(by_b), self.successResultOf(by_c)]
        self.assertEqual(sorted(type(claim).__name__ for claim in claims),
                         ["Following", "Owned"])  # fmt: skip
        [following] = [claim for claim in claims if isinstance(claim, Following)]
        self.assertEqual(following.holder, self.stored())

    def test_released_meanwhile(self) -> None:
        """
        A lease that exists when created but is gone when read (released
        in between) is created again.
        """
        self.store.put(KEY, b"whatever")
        self.store.hold = True
        claim = self.b.claim(SEGMENTS)
        self.store.release()  # 412 on the create
        del self.store.objects[KEY]
        while self.store.held:
            self.store.release()
        self.assertIsInstance(self.successResultOf(claim), Owned)
        self.assertEqual(self.methods(), ["PUT", "GET", "PUT"])

    def test_store_down(self) -> None:
        """A claim on a store that cannot be reached fails with ClaimFailed."""
        self.store.down = True
        self.failureResultOf(self.a.claim(SEGMENTS), ClaimFailed)

    def test_gives_up(self) -> None:
        """
        A claim that keeps losing to other writers gives up with
        ClaimFailed instead of looping.
        """
        self.store.put(KEY, b"x")
        self.store.hold = True
        claim = self.b.claim(SEGMENTS)
        while self.store.held:
            _, _, headers = self.store.requests[-1]
            if headers.hasHeader(b"if-match"):  # another writer gets there first
                self.store.put(KEY, b"changed %d" % len(self.store.requests))
            self.store.release()
        self.failureResultOf(claim, ClaimFailed)


class RenewTests(_Base):
    """
    :class:`S3Lease`: renewal and loss.
    """

    def test_renewed(self) -> None:
        """
        A lease held is renewed every ``renew_every`` seconds, conditional
        on its own last version, so it stays live as long as it is held.
        """
        lease = self.owned(self.a)
        for _ in range(10):
            etag = self.store.objects[KEY][1]
            self.clock.advance(self.a.renew_every)
            _, _, headers = self.store.requests[-1]
            self.assertEqual(headers.getRawHeaders(b"if-match"), [f'"{etag}"'.encode()])
        self.assertEqual(self.stored().expires, self.clock.seconds() + self.a.ttl)
        self.assertEqual(lease.record, self.stored())
        self.assertFalse(lease.lost)
        self.assertIsInstance(self.successResultOf(self.b.claim(SEGMENTS)), Following)

    def test_taken_over(self) -> None:
        """
        A lease another node took over is lost: its renewal fails, it is
        not renewed again, and releasing it leaves the new lease alone.
        """
        lease = self.owned(self.a)
        self.store.put(KEY, LeaseRecord(NODE_B, NAME, "b", START + 100).encode())
        with capturedLogs() as events:
            self.clock.advance(self.a.renew_every)
        self.assertTrue(lease.taken)
        self.assertTrue(lease.lost)
        self.assertIn("taken over", str(events))
        sent = len(self.store.requests)
        self.clock.advance(self.a.renew_every * 3)
        self.assertEqual(len(self.store.requests), sent)
        self.successResultOf(lease.release())
        self.assertEqual(self.stored().node_url, NODE_B)

    def test_store_down_retried(self) -> None:
        """
        A renewal the store fails is tried again at the next interval; a
        lease unrenewed past its expiry counts as lost until renewed.
        """
        lease = self.owned(self.a)
        self.store.down = True
        with capturedLogs():
            self.clock.pump([self.a.renew_every] * 5)
        self.assertTrue(lease.lost)
        self.store.down = False
        self.clock.advance(self.a.renew_every)
        self.assertFalse(lease.lost)
        self.assertEqual(self.stored().expires, self.clock.seconds() + self.a.ttl)

    def test_release(self) -> None:
        """
        Releasing deletes the lease, conditional on its version, and stops
        the renewals; a second release does nothing.
        """
        lease = self.owned(self.a)
        etag = self.store.objects[KEY][1]
        self.successResultOf(lease.release())
        self.assertNotIn(KEY, self.store.objects)
        method, _, headers = self.store.requests[-1]
        self.assertEqual(method, "DELETE")
        self.assertEqual(headers.getRawHeaders(b"if-match"), [f'"{etag}"'.encode()])
        self.successResultOf(lease.release())
        self.clock.advance(self.a.renew_every * 3)
        self.assertEqual(self.methods(), ["PUT", "DELETE"])
        self.assertIsInstance(self.successResultOf(self.b.claim(SEGMENTS)), Owned)

    def test_release_during_renewal(self) -> None:
        """
        A release while a renewal is under way waits for it, then deletes
        the renewed version.
        """
        lease = self.owned(self.a)
        self.store.hold = True
        self.clock.advance(self.a.renew_every)
        released = lease.release()
        self.assertNoResult(released)
        self.store.release()
        self.store.release()
        self.successResultOf(released)
        self.assertNotIn(KEY, self.store.objects)

    def test_release_never_fails(self) -> None:
        """A release the store fails succeeds all the same (the lease expires)."""
        lease = self.owned(self.a)
        self.store.down = True
        with capturedLogs() as events:
            self.successResultOf(lease.release())
        self.assertIn("will expire", str(events))
