"""
Tests for :mod:`twisted_pypi.files.commit`: a verified spool published to
the store once the way is clear, and what a failed publish means (a full or
unreachable store leaves the file uncached, its followers served from the
spool; anything else fails the download).
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import HandFedResponse
from tests.files.test_download import DATA, IDLE, SEGMENTS, _Base
from twisted_pypi.files.commit import DISK_FULL, commit_spool
from twisted_pypi.files.download import Downloads
from twisted_pypi.files.spec import DownloadError, NotCached, State
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.interfaces import (
    FileStat,
    ISpool,
    StoreFull,
    StoreUnreachable,
)
from twisted_pypi.upstream.stream import streaming


class FailingStore(FileCache):
    """
    A file cache whose commits fail with the exception the test gives.

    :ivar error: What the next commit fails with.
    """

    error: Exception = OSError("the store broke")

    def commit(self, spool: ISpool, key: Sequence[str]) -> Deferred[FileStat]:
        """Fail, publishing nothing."""
        return fail(self.error)


class CommitSpoolTests(SynchronousTestCase):
    """
    :func:`commit_spool` on its own: the outcome of one commit.
    """

    def setUp(self) -> None:
        """A cache, and a verified spool in it."""
        self.cache = SlowStore(FilePath(self.mktemp()), None, Clock())
        self.cache.scan()
        self.spool = self.cache.open_spool()
        self.spool.write(DATA)

    def test_committed(self) -> None:
        """A commit the store takes fires with the file's stat."""
        d = commit_spool(self.cache, self.spool, SEGMENTS)
        [(pending, stat)] = self.cache.commits
        pending.callback(stat)
        self.assertEqual(self.successResultOf(d), stat)
        self.assertEqual(stat.size, len(DATA))

    def test_waits_before_commit(self) -> None:
        """
        The store is not asked before ``before_commit``'s Deferred fired.
        """
        clear: Deferred[None] = Deferred()
        d = commit_spool(self.cache, self.spool, SEGMENTS, lambda: clear)
        self.assertEqual(self.cache.commits, [])
        clear.callback(None)
        [(pending, stat)] = self.cache.commits
        pending.callback(stat)
        self.assertEqual(self.successResultOf(d), stat)

    def failed(self, error: Exception) -> Any:
        """
        :param error: Why the store's commit fails.
        :return: The failure :func:`commit_spool` gives for it.
        """
        store = FailingStore(FilePath(self.mktemp()), None, Clock())
        store.error = error
        return self.failureResultOf(commit_spool(store, self.spool, SEGMENTS))

    def test_store_full(self) -> None:
        """A full store means the file is not cached: the disk is full."""
        failure = self.failed(StoreFull(errno.ENOSPC, "No space left on device"))
        failure.trap(NotCached)
        self.assertEqual(failure.getErrorMessage(), DISK_FULL)

    def test_store_unreachable(self) -> None:
        """
        A store that cannot be reached means the file is not cached, saying
        how the store failed.
        """
        failure = self.failed(StoreUnreachable("no answer in 30 s"))
        failure.trap(NotCached)
        self.assertEqual(
            failure.getErrorMessage(), "the store failed: no answer in 30 s"
        )

    def test_other_failure(self) -> None:
        """Any other failure is a DownloadError that says the commit failed."""
        failure = self.failed(OSError("the store broke"))
        self.assertIs(failure.type, DownloadError)
        self.assertEqual(failure.getErrorMessage(), "cannot commit: the store broke")


class SlowStore(FileCache):
    """
    A file cache whose commits are reported when the test says, as an
    object store's uploads would be.

    :ivar commits: Each pending commit's Deferred, and the stat to fire it
        with.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As :class:`FileCache`."""
        super().__init__(*args, **kwargs)
        self.commits: list[tuple[Deferred[FileStat], FileStat]] = []

    def commit(self, spool: ISpool, key: Sequence[str]) -> Deferred[FileStat]:
        """Commit at once, but report it only when the test fires it."""
        stats: list[FileStat] = []
        super().commit(spool, key).addCallback(stats.append)
        later: Deferred[FileStat] = Deferred()
        self.commits.append((later, stats[0]))
        return later


class CommitTests(_Base):
    """
    Publishing the file to the store: asynchronous, and possibly failing.
    """

    def test_slow_commit(self) -> None:
        """
        A verified file whose publish takes time (an upload) is sent whole
        to its followers, who finish before the store published it; the
        download stays in flight meanwhile, and once it is published the
        waiters get the file's stat.
        """
        self.cache = SlowStore(self.cache.root, None, self.clock)
        self.downloads = Downloads(
            self.cache, streaming(self.upstream.fetch), self.clock, IDLE
        )
        self.use(self.spec)
        client = self.client()
        download = self.downloads.get(SEGMENTS)
        assert download is not None
        done = download.when_done()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        response.end()
        self.assertIs(download.state, State.COMMITTING)
        self.assertTrue(download.complete)
        self.assertEqual(client.body(), DATA)
        self.assertTrue(client.finished)
        self.assertNoResult(done)
        self.assertIs(self.downloads.get(SEGMENTS), download)
        [(pending, stat)] = self.cache.commits
        pending.callback(stat)
        self.assertEqual(self.successResultOf(done), stat)
        self.assertIsNone(self.downloads.get(SEGMENTS))
        self.assertFalse(self.cache.is_pinned(SEGMENTS))

    def test_slow_commit_failure(self) -> None:
        """
        A slow publish that fails after the followers got the verified file
        fails the download's waiters with a DownloadError and logs one line;
        the followers' responses stay whole, never aborted.
        """
        self.cache = SlowStore(self.cache.root, None, self.clock)
        self.downloads = Downloads(
            self.cache, streaming(self.upstream.fetch), self.clock, IDLE
        )
        self.use(self.spec)
        client = self.client()
        download = self.downloads.get(SEGMENTS)
        assert download is not None
        done = download.when_done()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        response.end()
        [(pending, stat)] = self.cache.commits
        with capturedLogs() as events:
            pending.errback(OSError("the store broke"))
        failure = self.failureResultOf(done, DownloadError)
        self.assertIn("cannot commit", failure.getErrorMessage())
        self.assertEqual(client.body(), DATA)
        self.assertTrue(client.finished)
        self.assertFalse(client.transport.disconnected)
        self.assertIsNone(self.downloads.get(SEGMENTS))
        self.assertEqual(len([e for e in events if "why" in e]), 1)

    def test_commit_failure(self) -> None:
        """
        A store that cannot publish the file fails the download with a
        DownloadError: followers are aborted, the spool is discarded.
        """
        self.cache.files_dir.child("pypi").setContent(b"in the way")
        client = self.client()
        download = self.downloads.get(SEGMENTS)
        assert download is not None
        done = download.when_done()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        with capturedLogs() as events:
            response.end()
        failure = self.failureResultOf(done, DownloadError)
        self.assertIn("cannot commit", failure.getErrorMessage())
        self.assertEqual(client.body(), DATA[:-1])
        self.assertAborted(client)
        self.assertEqual(self.cache.tmp_dir.children(), [])
        self.assertIsNone(self.downloads.get(SEGMENTS))
        self.assertFalse(self.cache.is_pinned(SEGMENTS))
        self.assertEqual(len([e for e in events if "why" in e]), 1)


class FullCommitStore(FileCache):
    """A file cache whose commits find the disk full."""

    def commit(self, spool: ISpool, key: object) -> Deferred[FileStat]:
        """Fail as a full store does, publishing nothing."""
        return fail(StoreFull(errno.ENOSPC, "No space left on device"))


class CommitFullTests(_Base):
    """
    The spool was written, but publishing it finds the store full.
    """

    def test_followers_get_the_spool(self) -> None:
        """
        The followers still get the whole, verified file from the spool,
        which is then deleted; waiters learn it was not cached.
        """
        self.cache = FullCommitStore(FilePath(self.mktemp()), None, self.clock)
        self.cache.scan()
        self.downloads = Downloads(
            self.cache, streaming(self.upstream.fetch), self.clock, IDLE
        )
        self.use(self.spec)
        client = self.client()
        download = self.downloads.get(SEGMENTS)
        assert download is not None
        done = download.when_done()
        response = self.upstream.respond(HandFedResponse())
        with capturedLogs():
            response.send(DATA)
            response.end()
        self.assertEqual(client.body(), DATA)
        self.assertFalse(client.transport.disconnected)
        self.failureResultOf(done, NotCached)
        self.assertNothingCached()
