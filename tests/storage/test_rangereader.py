"""
Tests for :mod:`twisted_pypi.storage.rangereader`: local files read by ranges
into a consumer.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from tests.consumers import Consumer
from tests.runnerguard import QueuedRunner
from twisted_pypi.storage import rangereader
from twisted_pypi.storage.interfaces import (
    IFileReader,
    ILocalFile,
    ReadStopped,
    ShortRead,
)
from twisted_pypi.storage.rangereader import (
    LocalFileReader,
    open_path,
    page_cached,
    read_cached,
)

DATA = bytes(range(100))


class RangeReaderTests(SynchronousTestCase):
    """
    :func:`open_path` and :class:`LocalFileReader`.
    """

    def setUp(self) -> None:
        """A file of 100 bytes."""
        self.path = FilePath(self.mktemp())
        self.path.setContent(DATA)

    def open(self, chunk_size: int = 16) -> LocalFileReader:
        """The file, open with a small chunk size, closed after the test."""
        reader = open_path(self.path.path, chunk_size)
        self.addCleanup(reader.close)
        return reader

    def test_stat(self) -> None:
        """The reader gives the file's size, mtime and a size-mtime tag."""
        os.utime(self.path.path, ns=(1, 1_600_000_000_123_456_789))
        reader = self.open()
        self.assertTrue(verifyObject(IFileReader, reader))
        self.assertEqual(reader.stat.size, 100)
        self.assertEqual(reader.stat.modified, os.stat(self.path.path).st_mtime)
        self.assertEqual(reader.stat.etag, "64-16345785dffbcd15")

    def test_missing_or_directory(self) -> None:
        """A missing file or a directory cannot be opened."""
        self.assertRaises(OSError, open_path, self.mktemp())
        self.assertRaises(OSError, open_path, os.path.dirname(self.path.path))

    def test_range_in_chunks(self) -> None:
        """
        A range is written in chunks of at most the chunk size, by a
        streaming producer that unregisters before the result fires.
        """
        consumer = Consumer()
        d = self.open(chunk_size=16).stream(consumer, 10, 40)
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(b"".join(consumer.chunks), DATA[10:50])
        self.assertEqual([len(c) for c in consumer.chunks], [16, 16, 8])
        self.assertEqual(consumer.registrations[0][1], True)
        self.assertIsNone(consumer.producer)

    def test_backpressure(self) -> None:
        """A paused consumer gets one chunk per resume and nothing more."""
        consumer = Consumer(pause_each=True)
        d = self.open(chunk_size=16).stream(consumer, 0, 40)
        self.assertEqual(consumer.chunks, [DATA[:16]])
        self.assertNoResult(d)
        producer = consumer.producer
        assert producer is not None
        producer.resumeProducing()
        self.assertEqual(b"".join(consumer.chunks), DATA[:32])
        producer.resumeProducing()
        self.assertEqual(b"".join(consumer.chunks), DATA[:40])
        self.successResultOf(d)

    def test_ranges_one_after_another(self) -> None:
        """One reader streams several ranges in turn, but one at a time."""
        reader = self.open()
        first, second = Consumer(pause_each=True), Consumer()
        d = reader.stream(first, 0, 32)
        self.assertRaises(ValueError, reader.stream, second, 50, 10)
        assert first.producer is not None
        first.producer.resumeProducing()
        self.successResultOf(d)
        self.successResultOf(reader.stream(second, 50, 10))
        self.assertEqual(second.chunks, [DATA[50:60]])

    def test_short_read(self) -> None:
        """A file that ends before the range does fails with ShortRead."""
        consumer = Consumer()
        reader = self.open()
        with open(self.path.path, "r+b") as f:
            f.truncate(20)
        self.failureResultOf(reader.stream(consumer, 0, 40), ShortRead)
        self.assertEqual(b"".join(consumer.chunks), DATA[:20])
        self.assertIsNone(consumer.producer)

    def test_stop(self) -> None:
        """A consumer that stops the producer ends the range with ReadStopped."""
        consumer = Consumer(pause_each=True)
        d = self.open().stream(consumer, 0, 100)
        assert consumer.producer is not None
        consumer.producer.stopProducing()
        self.failureResultOf(d, ReadStopped)
        consumer.producer.resumeProducing()
        self.assertEqual(consumer.chunks, [DATA[:16]])

    def test_cancel(self) -> None:
        """Cancelling stops reading and unregisters the producer."""
        consumer = Consumer(pause_each=True)
        d = self.open().stream(consumer, 0, 100)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertIsNone(consumer.producer)

    def test_close_stops(self) -> None:
        """Closing the reader mid-range stops the range; closing twice is fine."""
        consumer = Consumer(pause_each=True)
        reader = open_path(self.path.path, 16)
        d = reader.stream(consumer, 0, 100)
        reader.close()
        reader.close()
        self.failureResultOf(d, ReadStopped)
        self.assertRaises(ValueError, reader.stream, consumer, 0, 1)

    def test_local_file_descriptor(self) -> None:
        """
        The reader is an :class:`ILocalFile`: its descriptor reads the file
        (for the kernel to copy from) until the reader is closed, then it
        is refused.
        """
        reader = open_path(self.path.path, 16)
        self.assertTrue(verifyObject(ILocalFile, reader))
        self.assertEqual(os.pread(reader.fileno(), 5, 10), DATA[10:15])
        reader.close()
        self.assertRaises(ValueError, reader.fileno)

    def test_in_memory(self) -> None:
        """
        A file just written is in the page cache, any range of it; so is an
        empty range.  A range past the file's end is not (nothing could be
        read there), nor is any range once the reader is closed.
        """
        reader = open_path(self.path.path, 16)
        self.assertTrue(reader.in_memory(0, len(DATA)))
        self.assertTrue(reader.in_memory(10, 5))
        self.assertTrue(reader.in_memory(len(DATA), 0))
        self.assertFalse(reader.in_memory(0, len(DATA) + 1))
        self.assertFalse(reader.in_memory(len(DATA) + 100, 10))
        reader.close()
        self.assertRaises(ValueError, reader.in_memory, 0, 1)


class PageCachedTests(SynchronousTestCase):
    """
    :func:`page_cached` asks the page cache without waiting for the disk,
    and says ``False`` where the system cannot say.
    """

    def test_no_nowait(self) -> None:
        """
        Without ``RWF_NOWAIT`` (not Linux), no range is known to be in
        memory.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"x" * 100)
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertTrue(page_cached(fd, 0, 100))
        self.patch(rangereader, "os", _NoNowait())
        self.assertFalse(page_cached(fd, 0, 100))

    def test_read_cached(self) -> None:
        """
        :func:`read_cached` gives the bytes of a range the page cache holds
        (a file just written), nothing for an empty range, and ``None`` for
        a range past the file's end.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(DATA)
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertEqual(read_cached(fd, 10, 20), DATA[10:30])
        self.assertEqual(read_cached(fd, 50, 0), b"")
        self.assertIsNone(read_cached(fd, 90, 20))

    def test_refused(self) -> None:
        """
        A descriptor that cannot be read that way (a directory) is not known
        to be in memory.
        """
        fd = os.open(".", os.O_RDONLY)
        self.addCleanup(os.close, fd)
        self.assertFalse(page_cached(fd, 0, 1))


class _NoNowait:
    """The ``os`` module of a system without ``RWF_NOWAIT``."""

    def __getattr__(self, name: str) -> object:
        """``os``'s attribute, but no ``RWF_NOWAIT``."""
        if name == "RWF_NOWAIT":
            raise AttributeError(name)
        return getattr(os, name)


class ReadAwayTests(SynchronousTestCase):
    """
    With a runner, a chunk not in the page cache is read by it (a pool
    thread), not on the reactor's thread.
    """

    def setUp(self) -> None:
        """A file of 100 bytes, none of it in memory as far as the probe says."""
        self.path = FilePath(self.mktemp())
        self.path.setContent(DATA)
        self.patch(rangereader, "page_cached", lambda fd, offset, length: False)
        self.pool = QueuedRunner()
        self.reader = open_path(self.path.path, 40, self.pool)
        self.addCleanup(self.reader.close)

    def test_chunks_read_away(self) -> None:
        """
        Each chunk waits for the runner; once it has read them all the
        consumer has the range and the stream is done.
        """
        consumer = Consumer()
        d = self.reader.stream(consumer, 5, 90)
        self.assertEqual(consumer.chunks, [])
        reads = 0
        while self.pool.queued:
            self.pool.run_one()
            reads += 1
        self.assertEqual(reads, 3)
        self.assertEqual(b"".join(consumer.chunks), DATA[5:95])
        self.assertIsNone(self.successResultOf(d))

    def test_in_memory_read_here(self) -> None:
        """
        A chunk the page cache holds is read at once, without the runner.
        """
        self.patch(rangereader, "page_cached", lambda fd, offset, length: True)
        consumer = Consumer()
        self.successResultOf(self.reader.stream(consumer, 0, 100))
        self.assertEqual(b"".join(consumer.chunks), DATA)
        self.assertEqual(self.pool.queued, [])

    def test_closed_while_away(self) -> None:
        """
        Closing the reader while a chunk is being read stops the range at
        once but keeps the descriptor open until the read is back; what it
        read is not written.
        """
        consumer = Consumer()
        d = self.reader.stream(consumer, 0, 100)
        fd = self.reader.fileno()
        self.reader.close()
        self.failureResultOf(d, ReadStopped)
        os.fstat(fd)  # still open: the thread reads it
        self.pool.run_one()
        self.assertRaises(OSError, os.fstat, fd)
        self.assertEqual(consumer.chunks, [])
        self.assertEqual(self.pool.queued, [])

    def test_read_failed(self) -> None:
        """
        A read that fails in the thread fails the range with its error.
        """

        def broken(work: Callable[[], object]) -> Deferred[object]:
            return fail(OSError(errno.EIO, "disk"))

        reader = open_path(self.path.path, 40, broken)
        self.addCleanup(reader.close)
        consumer = Consumer()
        failure = self.failureResultOf(reader.stream(consumer, 0, 100), OSError)
        self.assertEqual(failure.value.errno, errno.EIO)
        self.assertEqual(consumer.chunks, [])
