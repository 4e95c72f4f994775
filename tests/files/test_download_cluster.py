"""
Tests for :class:`twisted_pypi.files.download.Downloads` with a
:class:`~twisted_pypi.files.cluster.ClusterFetch`: each new download's body
comes from the cluster (the upstream if this node owns the file's lease,
else the lease's holder), and the lease is released once the download
ended, after the commit.  Leases are real
(:class:`~twisted_pypi.storage.leases.S3Leases` on the in-memory S3); the
upstream and the peer are hand-fed fakes.  :class:`SharedStoreTests` keep
the files in an :class:`~twisted_pypi.storage.s3files.S3FileStore` on the
same in-memory S3, to count the uploads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ConnectionLost, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import HandFedResponse
from tests.files.test_commit import SlowStore
from tests.files.test_download import (
    DATA,
    IDLE,
    SEGMENTS,
    SHA256,
    URL,
    FakeUpstream,
)
from tests.files.test_follower import Sink
from tests.storage.fakes3 import at_once
from tests.storage.memorys3 import MemoryS3, memory_client
from twisted_pypi.files.cluster import ClusterFetch
from twisted_pypi.files.download import Downloads, FileSpec
from twisted_pypi.files.spec import State
from twisted_pypi.storage.interfaces import FileStat
from twisted_pypi.storage.leases import S3Leases
from twisted_pypi.storage.leasing import LeaseRecord
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace
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


class SharedSlowStore(SlowStore):
    """
    A :class:`SlowStore` in which other nodes publish files: :meth:`find`
    answers from :attr:`published` first.

    :ivar published: The files other nodes published, and their stats.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As :class:`SlowStore`; nothing published."""
        super().__init__(*args, **kwargs)
        self.published: dict[tuple[str, ...], FileStat] = {}

    def find(self, key: Sequence[str]) -> Deferred[FileStat | None]:
        """A file another node published, else as :class:`SlowStore`."""
        found = self.published.get(tuple(key))
        return super().find(key) if found is None else succeed(found)


class ClusterDownloadsTests(SynchronousTestCase):
    """
    Downloads whose bodies come through a :class:`ClusterFetch`.
    """

    def setUp(self) -> None:
        """One shared in-memory store; this node is B."""
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.store = MemoryS3()
        self.cache = SharedSlowStore(FilePath(self.mktemp()), None, self.clock)
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
        that node, not from the upstream, into its own download, commits it
        once that node published the file, and leaves the holder's lease
        alone when the download ends.
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
        response.send(DATA)
        response.end()
        self.assertEqual(self.cache.commits, [])  # until node A published it
        self.cache.published[SEGMENTS] = FileStat(len(DATA), 1.0, "e1")
        self.clock.advance(1)
        [(pending, stat)] = self.cache.commits
        with capturedLogs():
            pending.callback(stat)
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

    def test_given_response_closed(self) -> None:
        """
        An upstream answer the caller already has is closed unread: the
        cluster decides where the body comes from (here, this node's lease
        and the upstream).
        """
        given = HandFedResponse(length=len(DATA))
        self.downloads.start_or_join(SPEC, StreamingResponse.of(given))
        self.assertEqual(given.transport.producerState, "stopped")
        self.assertEqual(self.upstream.urls, [URL])
        self.assertEqual(self.cluster.holding(), ["/".join(SEGMENTS)])


#: The file's object in the in-memory S3.
OBJECT = "bucket/files/" + "/".join(SEGMENTS)


class SharedStoreTests(SynchronousTestCase):
    """
    Downloads whose files are published to an object store (the in-memory
    S3, which counts the uploads), leases in the same store; this node is B.
    """

    def setUp(self) -> None:
        """One in-memory S3 for the files and the leases."""
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.s3 = MemoryS3()
        client = memory_client(self.s3, self.clock)
        root = FilePath(self.mktemp())
        place = BucketPlace("bucket")
        self.cache = S3FileStore(
            client, place, root, None, self.clock, cooperator=at_once
        )
        self.cache.scan()
        self.upstream = FakeUpstream()
        self.peer = FakePeer()
        leases = S3Leases(client, "bucket", "", NODE_B, self.clock)
        self.cluster = ClusterFetch(
            leases, streaming(self.upstream.fetch), self.peer.fetch
        )
        self.downloads = Downloads(
            self.cache, streaming(self.upstream.fetch), self.clock, IDLE,
            cluster=self.cluster,
        )  # fmt: skip

    def puts(self) -> int:
        """How many uploads of the file's object the store was sent."""
        return sum(1 for m, name, _ in self.s3.requests if (m, name) == ("PUT", OBJECT))

    def follow(self) -> tuple[HandFedResponse, Deferred[None]]:
        """
        Start a download that streams the file from node A (which holds a
        live lease), followed by one sink; send the whole body.

        :return: The peer's response and the sink's Deferred.
        """
        holder = LeaseRecord(NODE_A, "/".join(SEGMENTS), "a1", 2e9)
        self.s3.put(KEY, holder.encode())
        download = self.downloads.start_or_join(SPEC)
        self.sink = Sink()
        followed = download.follow(self.sink)
        response = HandFedResponse(length=len(DATA))
        with capturedLogs():
            self.peer.pending[0].callback(StreamingResponse.of(response))
            response.send(DATA)
            response.end()
        self.download = download
        return response, followed

    def test_clients_before_publish(self) -> None:
        """
        The owner's clients get the whole verified file and finish while
        the upload is still in progress; the file is published after, and
        the lease released then.
        """
        download = self.downloads.start_or_join(SPEC)
        sink = Sink()
        followed = download.follow(sink)
        self.s3.hold = True
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        response.send(DATA)
        response.end()
        self.successResultOf(followed)
        self.assertEqual((sink.body, sink.events[-1]), (DATA, ("finish",)))
        self.assertNotIn(OBJECT, self.s3.objects)
        self.assertIs(download.state, State.COMMITTING)
        self.assertIs(self.downloads.get(SEGMENTS), download)
        self.assertIsNotNone(self.s3.objects.get(KEY))  # the lease, still held
        self.s3.hold = False
        with capturedLogs():
            while self.s3.held:
                self.s3.release()
        self.assertIs(download.state, State.DONE)
        self.assertEqual(self.s3.objects[OBJECT][0], DATA)
        self.assertNotIn(KEY, self.s3.objects)

    def test_publish_fails_after_clients(self) -> None:
        """
        A publish that fails after the clients finished (the store went
        down) leaves nothing published, logs one line, and does not touch
        the finished clients.
        """
        download = self.downloads.start_or_join(SPEC)
        sink = Sink()
        followed = download.follow(sink)
        self.s3.hold = True
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        response.send(DATA)
        response.end()
        self.successResultOf(followed)
        self.s3.hold = False
        pending, _ = self.s3.held.pop(0)
        with capturedLogs() as events:
            pending.errback(ConnectionRefusedError("the store is down"))
        self.assertNotIn(OBJECT, self.s3.objects)
        self.assertIs(download.state, State.PASSED)
        self.assertEqual((sink.body, sink.events[-1]), (DATA, ("finish",)))
        self.assertNotIn(("abort",), sink.events)
        lines = [e for e in events if "store" in str(e.get("why", ""))]
        self.assertEqual(len(lines), 1)

    def test_follower_waits_for_publish(self) -> None:
        """
        A node whose stream from the owner ended before the owner published
        the file finishes its clients, and does not upload the file: it
        waits until the owner's object is there.
        """
        _, followed = self.follow()
        self.successResultOf(followed)
        self.assertEqual((self.sink.body, self.sink.events[-1]), (DATA, ("finish",)))
        self.assertIs(self.download.state, State.COMMITTING)
        self.clock.advance(1)
        self.assertIs(self.download.state, State.COMMITTING)
        self.s3.put(OBJECT, DATA)  # node A publishes
        with capturedLogs():
            self.clock.advance(5)
        self.assertIs(self.download.state, State.DONE)
        self.assertEqual(self.puts(), 0)
        self.assertIsNotNone(self.s3.objects.get(KEY))  # node A's, left alone

    def test_follower_publishes_for_dead_owner(self) -> None:
        """
        When the owner's lease disappears without the file being published
        (the owner died after sending it), the following node takes the
        lease, uploads the file once, and releases the lease.
        """
        _, followed = self.follow()
        self.successResultOf(followed)
        self.clock.advance(1)
        self.assertEqual(self.puts(), 0)
        del self.s3.objects[KEY]  # node A is gone
        with capturedLogs() as events:
            self.clock.advance(5)
        self.assertIs(self.download.state, State.DONE)
        self.assertEqual(self.puts(), 1)
        self.assertEqual(self.s3.objects[OBJECT][0], DATA)
        self.assertNotIn(KEY, self.s3.objects)
        self.assertTrue(any("gone without publishing" in str(e) for e in events))

    def test_follower_publishes_when_taken_over(self) -> None:
        """
        When another node took the owner's lease over (the owner stopped
        renewing it) and the file is not published, the following node
        uploads it itself, create-only, leaving the new holder's lease.
        """
        _, followed = self.follow()
        self.successResultOf(followed)
        other = LeaseRecord("http://c.internal:8080", "/".join(SEGMENTS), "c1", 2e9)
        self.s3.put(KEY, other.encode())
        with capturedLogs():
            self.clock.advance(1)
        self.assertIs(self.download.state, State.DONE)
        self.assertEqual(self.puts(), 1)
        self.assertEqual(LeaseRecord.decode(self.s3.objects[KEY][0]), other)
