"""
Tests for :mod:`twisted_pypi.files.cluster`: where a download's body comes
from when nodes share a store.  Leases are real
(:class:`~twisted_pypi.storage.leases.S3Leases` on the in-memory S3 of
:mod:`tests.storage.fakes3`); the upstream and the peers are fakes whose
answers the tests give.  Two real nodes on loopback are in
:mod:`tests.files.test_cluster_loopback`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from tests.fakes import HandFedResponse
from tests.storage.memorys3 import MemoryS3, memory_client
from twisted_pypi.files.cluster import ClusterFetch
from twisted_pypi.storage.leases import S3Leases
from twisted_pypi.storage.leasing import Claim, Following, ILeases, LeaseRecord
from twisted_pypi.upstream.stream import StreamingResponse

SEGMENTS = ("pypi", "https", "files.example", "packages", "demo-1.0.tar.gz")
URL = "https://files.example/packages/demo-1.0.tar.gz"
KEY = "bucket/leases/" + "/".join(SEGMENTS)
NODE_A = "http://a.internal:8080"
NODE_B = "http://b.internal:8080"


def answer(code: int = 200) -> StreamingResponse:
    """A response with a body nobody read yet."""
    return StreamingResponse.of(HandFedResponse(code))


class Node:
    """
    One node: its leases on the shared store, a fake upstream and fake
    peers, and its :class:`ClusterFetch`.

    :ivar upstream_urls: The URLs fetched from the upstream.
    :ivar peer_calls: The ``(node_url, segments)`` fetched from peers.
    :ivar peer_answers: What each peer call answers, in order (a response,
        an exception to fail with, or a function called then).
    """

    def __init__(self, store: MemoryS3, clock: Clock, url: str) -> None:
        """:param store: The shared store. :param clock: The shared clock."""
        ids = (f"{url}#{n}" for n in itertools.count())
        leases = S3Leases(
            memory_client(store, clock), "bucket", "", url, clock,
            new_id=lambda: next(ids),
        )  # fmt: skip
        self.leases = leases
        self.upstream_urls: list[str] = []
        self.peer_calls: list[tuple[str, tuple[str, ...]]] = []
        self.peer_answers: list[
            StreamingResponse | Exception | Callable[[], StreamingResponse]
        ] = []
        self.cluster = ClusterFetch(leases, self.upstream, self.peer)

    def upstream(self, url: str) -> Deferred[StreamingResponse]:
        """Record the URL; answer 200."""
        self.upstream_urls.append(url)
        return succeed(answer())

    def peer(
        self, node_url: str, segments: Sequence[str]
    ) -> Deferred[StreamingResponse]:
        """Record the call; answer the next of :attr:`peer_answers`."""
        self.peer_calls.append((node_url, tuple(segments)))
        result = self.peer_answers.pop(0)
        if isinstance(result, Exception):
            return fail(result)
        return succeed(result if isinstance(result, StreamingResponse) else result())


@implementer(ILeases)
class AlwaysFollowing:
    """
    Leases whose every claim finds a new live lease of node A.

    :ivar superseded: The leases each claim was asked to take over.
    """

    def __init__(self) -> None:
        """No claims yet."""
        self.superseded: list[Following | None] = []

    def claim(
        self, segments: Sequence[str], supersede: Following | None = None
    ) -> Deferred[Claim]:
        """Another lease of node A."""
        self.superseded.append(supersede)
        n = len(self.superseded)
        holder = LeaseRecord(NODE_A, "/".join(segments), f"a{n}", 2e9)
        return succeed(Following(holder, f"etag{n}"))


class ClusterFetchTests(SynchronousTestCase):
    """
    :class:`ClusterFetch` and its :class:`FileSource` per download.
    """

    def setUp(self) -> None:
        """Nodes A and B on one in-memory store."""
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.store = MemoryS3()
        self.a = Node(self.store, self.clock, NODE_A)
        self.b = Node(self.store, self.clock, NODE_B)

    def stored(self) -> LeaseRecord | None:
        """The file's lease in the store, if any."""
        found = self.store.objects.get(KEY)
        return None if found is None else LeaseRecord.decode(found[0])

    def test_owner_fetches_upstream(self) -> None:
        """
        The first node to download a file owns its lease and fetches from
        the upstream; the lease is released when the download ends.
        """
        source = self.a.cluster.for_file(SEGMENTS)
        response = self.successResultOf(source.fetch(URL))
        self.assertEqual(response.code, 200)
        self.assertEqual(self.a.upstream_urls, [URL])
        record = self.stored()
        assert record is not None
        self.assertEqual(record.node_url, NODE_A)
        self.assertEqual(self.a.cluster.holding(), ["/".join(SEGMENTS)])
        self.assertIsNone(source.node)
        self.successResultOf(source.ended())
        self.assertIsNone(self.stored())
        self.assertEqual(self.a.cluster.holding(), [])

    def test_follower_streams_from_owner(self) -> None:
        """
        A node that finds a live lease streams the file from its holder,
        not from the upstream, and says so.
        """
        owner = self.a.cluster.for_file(SEGMENTS)
        self.successResultOf(owner.fetch(URL))
        from_a = answer()
        self.b.peer_answers.append(from_a)
        source = self.b.cluster.for_file(SEGMENTS)
        with capturedLogs():
            self.assertIs(self.successResultOf(source.fetch(URL)), from_a)
        self.assertEqual(self.b.peer_calls, [(NODE_A, SEGMENTS)])
        self.assertEqual(self.b.upstream_urls, [])
        self.assertEqual(source.node, NODE_A)
        self.assertEqual(self.b.cluster.followed(), {"/".join(SEGMENTS): NODE_A})
        self.successResultOf(source.ended())
        record = self.stored()
        assert record is not None
        self.assertEqual(record.node_url, NODE_A)  # B's end leaves A's lease
        self.assertEqual(self.b.cluster.followed(), {})

    def test_holder_not_serving(self) -> None:
        """
        A node whose lease holder does not serve the file (it answers 404,
        or cannot be reached) takes over exactly that lease and fetches
        from the upstream; the unread answer is discarded.
        """
        refused = HandFedResponse(404)
        for failure in (StreamingResponse.of(refused), ConnectionRefusedError("x")):
            with self.subTest(failure=failure):
                self.store.objects.clear()
                self.successResultOf(self.a.cluster.for_file(SEGMENTS).fetch(URL))
                self.b.peer_answers.append(failure)
                source = self.b.cluster.for_file(SEGMENTS)
                with capturedLogs() as events:
                    self.successResultOf(source.fetch(URL))
                self.assertEqual(self.b.upstream_urls[-1], URL)
                record = self.stored()
                assert record is not None
                self.assertEqual(record.node_url, NODE_B)
                self.assertIsNotNone(source.lease)
                self.assertIn("does not serve it", str(events))
                self.successResultOf(source.ended())
        self.assertIsNotNone(refused.protocol)  # its body was discarded

    def test_takeover_lost_follows_winner(self) -> None:
        """
        A node whose takeover of an unserved lease loses to another node's
        follows that node instead.
        """
        self.successResultOf(self.a.cluster.for_file(SEGMENTS).fetch(URL))
        node_c = "http://c.internal:8080"

        def c_took_over() -> StreamingResponse:
            self.store.put(KEY, LeaseRecord(node_c, "k", "c", 2e9).encode())
            return answer(404)

        from_c = answer()
        self.b.peer_answers.extend([c_took_over, from_c])
        source = self.b.cluster.for_file(SEGMENTS)
        with capturedLogs():
            self.assertIs(self.successResultOf(source.fetch(URL)), from_c)
        self.assertEqual([node for node, _ in self.b.peer_calls], [NODE_A, node_c])
        self.assertEqual(self.b.upstream_urls, [])

    def test_nobody_serves(self) -> None:
        """
        When every holder found keeps not serving the file, the node
        fetches from the upstream without a lease after a few tries (no
        loop, no lease held).
        """
        leases = AlwaysFollowing()
        self.b.peer_answers.extend([ConnectionRefusedError("gone")] * 10)
        cluster = ClusterFetch(leases, self.b.upstream, self.b.peer)
        source = cluster.for_file(SEGMENTS)
        with capturedLogs() as events:
            self.successResultOf(source.fetch(URL))
        self.assertEqual(self.b.upstream_urls, [URL])
        self.assertEqual(len(self.b.peer_calls), 3)
        self.assertEqual(len(leases.superseded), 3)
        self.assertIsNone(source.lease)
        self.assertIn("No node serves", str(events))

    def test_store_down(self) -> None:
        """
        A node that cannot reach the leases fetches from the upstream
        without a lease (its clients are served as on one node).
        """
        self.store.down = True
        source = self.a.cluster.for_file(SEGMENTS)
        with capturedLogs() as events:
            self.successResultOf(source.fetch(URL))
        self.assertEqual(self.a.upstream_urls, [URL])
        self.assertIsNone(source.lease)
        self.assertIn("without a lease", str(events))
        self.successResultOf(source.ended())

    def test_ended_during_claim(self) -> None:
        """
        A download that ends while its claim is under way releases the
        lease the claim then wins.
        """
        self.store.hold = True
        source = self.a.cluster.for_file(SEGMENTS)
        fetching = source.fetch(URL)
        self.successResultOf(source.ended())
        self.store.release()  # the create
        self.assertIn(KEY, self.store.objects)
        self.store.release()  # the release's delete
        self.successResultOf(fetching)
        self.assertNotIn(KEY, self.store.objects)
        self.assertEqual(self.clock.getDelayedCalls(), [])
