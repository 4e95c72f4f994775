"""
Tests for :mod:`twisted_pypi.files.flight` and
:mod:`twisted_pypi.files.intake` on a full disk: the download makes room by
evicting, and when the file still does not fit, passes it through to its
followers without caching it.

The disk is a fake :func:`os.write` with a given room, which evictions give
back; clients are real site connections, as in
:mod:`tests.files.test_download`.
"""

from __future__ import annotations

import errno
import os

from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.python.filepath import FilePath

from tests.fakes import HandFedResponse
from tests.files.test_download import (
    DATA,
    IDLE,
    SEGMENTS,
    Client,
    PausingTransport,
    _Base,
)
from twisted_pypi.files.download import Downloads, NotCached
from twisted_pypi.files.feed import PASS_THROUGH_BUFFER
from twisted_pypi.files.spec import FileSpec, State
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.upstream.stream import streaming

OTHER = ("pypi", "https", "files.example", "packages", "old-1.0.tar.gz")


class FakeDisk:
    """
    A disk with ``room`` bytes left: writes fail with ``code`` past it.

    :ivar room: The bytes still free (``None``: no limit).
    :ivar refused: How many writes failed.
    """

    def __init__(self, room: int | None, code: int = errno.ENOSPC) -> None:
        """
        :param room: The bytes free.
        :param code: The errno of a failed write.
        """
        self.room = room
        self.code = code
        self.refused = 0

    def write(self, fd: int, data: memoryview) -> int:
        """Write what fits, as :func:`os.write` does."""
        if self.room is None:
            return os.write(fd, data)
        if self.room <= 0:
            self.refused += 1
            raise OSError(self.code, os.strerror(self.code))
        n = os.write(fd, data[: self.room])
        self.room -= n
        return n


class DiskCache(FileCache):
    """
    A file cache on a :class:`FakeDisk`: evicting a file frees its bytes on
    the disk.
    """

    def __init__(self, root: FilePath[str], clock: Clock, disk: FakeDisk) -> None:
        """
        :param root: The cache root.
        :param clock: The clock.
        :param disk: The disk.
        """
        super().__init__(
            root, None, clock, spool_write=disk.write, free_space=lambda p: None
        )
        self.disk = disk

    def make_room(self, nbytes: int) -> bool:
        """Evict, then give the evicted bytes back to the disk."""
        before = self.total_size
        made = super().make_room(nbytes)
        if self.disk.room is not None:
            self.disk.room += before - self.total_size
        return made


class _DiskBase(_Base):
    """
    A cache on a fake disk holding one old file; the file downloaded is
    :data:`DATA`.
    """

    room: int | None = None
    code = errno.ENOSPC

    def setUp(self) -> None:
        """The old file goes in while the disk has room; then it is tight."""
        super().setUp()
        self.disk = FakeDisk(None, self.code)
        self.cache = DiskCache(FilePath(self.mktemp()), self.clock, self.disk)
        self.cache.scan()
        spool = self.cache.open_spool()
        spool.write(b"o" * 100)
        self.cache.commit(spool, OTHER)
        self.disk.room = self.room
        self.downloads = Downloads(
            self.cache, streaming(self.upstream.fetch), self.clock, IDLE
        )
        self.use(self.spec)

    def fill(self, *clients: Client) -> HandFedResponse:
        """Answer the upstream request, send the whole body in chunks."""
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        for start in range(0, len(DATA), 100):
            response.send(DATA[start : start + 100])
        response.end()
        return response

    def assertWhole(self, *clients: Client) -> None:
        """Every client got the whole file, and a clean end."""
        for client in clients:
            self.assertTrue(client.head().startswith(b"HTTP/1.1 200 OK"))
            self.assertEqual(client.body(), DATA)
            self.assertFalse(client.transport.disconnected)


class PassThroughTests(_DiskBase):
    """
    The disk fills part way and evicting does not make enough room.
    """

    room = 300

    def test_evicts_then_passes_through(self) -> None:
        """
        When a write finds the disk full, the cache evicts (without a size
        limit), the write is tried again, and when it still fails every
        follower gets the complete, verified file from the upstream; nothing
        is committed or left in ``tmp/``; one warning is logged, and the
        disk is reported full.
        """
        clients = [self.client(), self.client()]
        download = self.downloads.get(SEGMENTS)
        assert download is not None
        done = download.when_done()
        with capturedLogs() as events:
            self.fill()
        self.assertWhole(*clients)
        self.assertEqual(self.cache.evictions, 1)
        self.assertFalse(self.cache.is_cached(OTHER))
        self.assertEqual(self.disk.refused, 2)  # before and after evicting
        self.assertNothingCached()
        self.assertIs(download.state, State.PASSED)
        self.failureResultOf(done, NotCached)
        self.assertEqual(self.downloads.uncached, 1)
        warnings = [e for e in events if e["log_level"] >= LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertIn("disk is full", warnings[0]["log_format"])
        self.assertTrue(self.cache.space.full)
        self.assertIsNotNone(self.cache.space.last_full)

    def test_new_client_starts_again(self) -> None:
        """
        A client arriving while a download passes through cannot follow it
        from the first byte: it gets a download of its own (also passed
        through), and both get the whole file.
        """
        first = self.client()
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        download = self.downloads.get(SEGMENTS)
        assert download is not None
        with capturedLogs():
            response.send(DATA[:500])
            self.assertFalse(download.joinable)
            self.assertIsNone(self.downloads.get(SEGMENTS))
            second = self.client()
            self.assertEqual(len(self.upstream.urls), 2)
            again = self.upstream.respond(HandFedResponse(length=len(DATA)))
            again.send(DATA)
            again.end()
            response.send(DATA[500:])
            response.end()
        self.assertWhole(first, second)
        self.assertNothingCached()
        self.assertEqual(self.downloads.uncached, 2)

    def test_no_followers(self) -> None:
        """
        A download nobody follows (``pypiproxy warm``) that finds the disk
        full fails with :class:`NotCached` and leaves nothing behind.
        """
        download = self.downloads.start_or_join(self.spec)
        done = download.when_done()
        with capturedLogs():
            self.fill()
        self.failureResultOf(done, NotCached)
        self.assertNothingCached()

    def test_last_follower_leaves(self) -> None:
        """
        When the last follower of a download passing through leaves, the
        upstream is stopped: nobody would get the bytes.
        """
        client = self.client()
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        with capturedLogs():
            response.send(DATA[:500])
            client.lose()
        self.assertEqual(response.transport.producerState, "stopped")
        self.assertNothingCached()

    def test_status(self) -> None:
        """A download passing through says it will not be cached."""
        self.client()
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        with capturedLogs():
            response.send(DATA[:500])
        [status] = self.downloads.in_flight()
        self.assertFalse(status.cached)
        self.assertEqual(status.written, 500)


class QuotaTests(PassThroughTests):
    """
    The same, when the quota is full (``EDQUOT``) rather than the disk.
    """

    code = errno.EDQUOT


class NoRoomAtAllTests(_DiskBase):
    """
    Not even the spool's first byte fits.
    """

    room = 0

    def test_passes_through_from_start(self) -> None:
        """
        A download whose first write finds the disk full, even after
        evicting, sends every byte to its followers through memory.
        """
        clients = [self.client(), self.client()]
        with capturedLogs():
            self.fill()
        self.assertWhole(*clients)
        self.assertNothingCached()


class MadeRoomTests(_DiskBase):
    """
    Evicting makes enough room.
    """

    room = 300

    def setUp(self) -> None:
        """The old file is bigger than the new one."""
        super().setUp()
        self.disk.room = None
        spool = self.cache.open_spool()
        spool.write(b"o" * 2000)
        self.cache.commit(spool, OTHER)
        self.disk.room = self.room

    def test_cached_after_eviction(self) -> None:
        """
        When evicting made room, the write is tried again, the file is
        cached after all, and the next successful write clears the full
        state.
        """
        client = self.client()
        with capturedLogs() as events:
            self.fill()
        self.assertWhole(client)
        self.assertFalse(self.cache.is_cached(OTHER))
        path = self.cache.lookup(SEGMENTS)
        assert path is not None
        self.assertEqual(path.getContent(), DATA)
        self.assertFalse(self.cache.space.full)
        self.assertEqual(self.downloads.uncached, 0)
        levels = [e["log_level"] for e in events]
        self.assertEqual(levels.count(LogLevel.warn), 1)


class BackpressureTests(_DiskBase):
    """
    Passing through, the slowest follower sets the pace.
    """

    room = 0

    def test_slow_client_pauses_upstream(self) -> None:
        """
        When the slowest follower lags more than the buffer, the upstream is
        paused (and the idle timer with it); it resumes once the follower
        catches up, and everyone gets the whole file.
        """
        data = os.urandom(3 * PASS_THROUGH_BUFFER)
        self.use(FileSpec(self.spec.url, SEGMENTS, len(data)))
        slow = Client(self.site, PausingTransport()).get()
        fast = self.client()
        response = self.upstream.respond(HandFedResponse(length=len(data)))
        chunk = 65536
        with capturedLogs():
            sent = 0
            while response.transport.producerState != "paused":
                response.send(data[sent : sent + chunk])
                sent += chunk
            self.assertLess(sent, len(data))
            self.clock.advance(IDLE * 10)  # no idle timeout while paused
            while sent < len(data):
                while response.transport.producerState == "paused":
                    slow.resume()
                response.send(data[sent : sent + chunk])
                sent += chunk
            response.end()
            for _ in range(len(data)):
                if slow.transport.producer is None:
                    break  # finished
                slow.resume()
        self.assertEqual(fast.body(), data)
        self.assertEqual(slow.body(), data)
        self.assertNothingCached()
