"""
Tests for :class:`twisted_pypi.files.download.Downloads` with a
:class:`~twisted_pypi.files.cluster.ClusterFetch`: each new download's body
comes from the cluster (the upstream if this node owns the file's lease,
else the lease's holder), and the lease is released once the download
ended, after the commit.  Leases are real
(:class:`~twisted_pypi.storage.leases.S3Leases` on the in-memory S3); the
upstream and the peer are hand-fed fakes.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import HandFedResponse
from tests.files.test_download import (
    DATA,
    IDLE,
    SEGMENTS,
    SHA256,
    URL,
    FakeUpstream,
    SlowStore,
)
from tests.storage.memorys3 import MemoryS3, memory_client
from twisted_pypi.files.cluster import ClusterFetch
from twisted_pypi.files.download import Downloads, FileSpec
from twisted_pypi.files.spec import State
from twisted_pypi.storage.leases import S3Leases
from twisted_pypi.storage.leasing import LeaseRecord
from twisted_pypi.upstream.stream import StreamingResponse, streaming

KEY = "bucket/leases/" + "/".join(SEGMENTS)
NODE_A = "http://a.internal:8080"
NODE_B = "http://b.internal:8080"
SPEC = FileSpec(URL, SEGMENTS, len(DATA), {"sha256": SHA256})


class FakePeer:
    """
    The other nodes: records each GET of a file in flight, and hands out
    Deferreds the test fires.
    """

    def __init__(self) -> None:
        """No calls yet."""
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.pending: list[Deferred[StreamingResponse]] = []

    def fetch(self, node: str, segments: Sequence[str]) -> Deferred[StreamingResponse]:
        """Record the call; the test answers it."""
        self.calls.append((node, tuple(segments)))
        d: Deferred[StreamingResponse] = Deferred()
        self.pending.append(d)
        return d


class ClusterDownloadsTests(SynchronousTestCase):
    """
    Downloads whose bodies come through a :class:`ClusterFetch`.
    """

    def setUp(self) -> None:
        """One shared in-memory store; this node is B."""
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.store = MemoryS3()
        self.cache = SlowStore(FilePath(self.mktemp()), None, self.clock)
        self.cache.scan()
        self.upstream = FakeUpstream()
        self.peer = FakePeer()
        leases = S3Leases(
            memory_client(self.store, self.clock), "bucket", "", NODE_B, self.clock
        )
        self.cluster = ClusterFetch(
            leases, streaming(self.upstream.fetch), self.peer.fetch
        )
        self.downloads = Downloads(
            self.cache,
            streaming(self.upstream.fetch),
            self.clock,
            IDLE,
            cluster=self.cluster,
        )

    def lease(self) -> LeaseRecord | None:
        """The file's lease in the store, if any."""
        found = self.store.objects.get(KEY)
        return None if found is None else LeaseRecord.decode(found[0])

    def finish(self, response: HandFedResponse) -> None:
        """Send the whole file, and let the slow store commit it."""
        response.send(DATA)
        response.end()
        [(pending, stat)] = self.cache.commits
        pending.callback(stat)

    def test_owner(self) -> None:
        """
        A node that owns the lease fetches from the upstream; it holds the
        lease until the file is committed, and releases it then.
        """
        download = self.downloads.start_or_join(SPEC)
        self.assertEqual(self.upstream.urls, [URL])
        record = self.lease()
        assert record is not None
        self.assertEqual(record.node_url, NODE_B)
        self.assertEqual(self.cluster.holding(), ["/".join(SEGMENTS)])
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        response.send(DATA)
        response.end()
        self.assertIs(download.state, State.COMMITTING)
        self.assertIsNotNone(self.lease())  # not before the commit
        [(pending, stat)] = self.cache.commits
        with capturedLogs():
            pending.callback(stat)
        self.assertIs(download.state, State.DONE)
        self.assertIsNone(self.lease())
        self.assertEqual(self.cluster.holding(), [])

    def test_follower(self) -> None:
        """
        A node that finds another node's live lease takes the body from
        that node, not from the upstream, into its own download; it leaves
        the holder's lease alone when the download ends.
        """
        holder = LeaseRecord(NODE_A, "/".join(SEGMENTS), "a1", 2e9)
        self.store.put(KEY, holder.encode())
        download = self.downloads.start_or_join(SPEC)
        self.assertEqual(self.peer.calls, [(NODE_A, SEGMENTS)])
        self.assertEqual(self.upstream.urls, [])
        response = HandFedResponse(length=len(DATA))
        with capturedLogs():
            self.peer.pending[0].callback(StreamingResponse.of(response))
        self.assertEqual(self.cluster.followed(), {"/".join(SEGMENTS): NODE_A})
        with capturedLogs():
            self.finish(response)
        self.assertIs(download.state, State.DONE)
        self.assertEqual(self.lease(), holder)
        self.assertEqual(self.cluster.followed(), {})

    def test_failure_releases(self) -> None:
        """
        A download that fails mid-body releases its lease at once, so that
        the next request (on any node) starts a fresh download.
        """
        download = self.downloads.start_or_join(SPEC)
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        response.send(DATA[:10])
        with capturedLogs():
            response.end(Failure(ConnectionLost()))
        self.assertIs(download.state, State.FAILED)
        self.assertIsNone(self.lease())
        self.assertEqual(self.cluster.holding(), [])
        self.assertIsNone(self.downloads.get(SEGMENTS))

    def test_one_source_per_download(self) -> None:
        """
        Clients joining a download in flight share its source: one claim,
        one upstream fetch.
        """
        first = self.downloads.start_or_join(SPEC)
        self.assertIs(self.downloads.start_or_join(SPEC), first)
        self.assertEqual(self.upstream.urls, [URL])
        self.assertEqual(self.cluster.holding(), ["/".join(SEGMENTS)])
