"""
Tests for :mod:`twisted_pypi.files.follower`: one client following a file
being downloaded, through any sink (no HTTP here).
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IProducer, IPushProducer
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted_pypi.files.follower import Follower
from twisted_pypi.files.interfaces import IFollowerSink
from twisted_pypi.storage.interfaces import ISpoolReader

DATA = b"0123456789"


@implementer(ISpoolReader)
class Reader:
    """A spool reader over a bytes object that grows."""

    def __init__(self, file: FakeDownload) -> None:
        """:param file: Whose bytes to read."""
        self._file = file
        self.closed = False

    def read(self, offset: int, length: int) -> bytes:
        """:return: The bytes written at ``offset``."""
        return self._file.data[offset : offset + length]

    def close(self) -> None:
        """Note the close."""
        self.closed = True


class FakeDownload:
    """
    A download the test writes by hand.

    :ivar data: The bytes written so far.
    :ivar complete: Whether the file was verified.
    :ivar detached: The followers that detached.
    :ivar readers: The readers handed out.
    :ivar positions: Where each reader was to read from.
    """

    def __init__(self) -> None:
        """Nothing written yet."""
        self.data = b""
        self.complete = False
        self.detached: list[Follower] = []
        self.readers: list[Reader] = []
        self.positions: list[int] = []

    @property
    def written(self) -> int:
        """Bytes written so far."""
        return len(self.data)

    def open_reader(self, position: int = 0) -> Reader:
        """A new reader, noting where it will read from."""
        reader = Reader(self)
        self.readers.append(reader)
        self.positions.append(position)
        return reader

    def detach(self, follower: Follower) -> None:
        """Record the detach."""
        self.detached.append(follower)


@implementer(IFollowerSink)
class Sink:
    """
    Records what a follower does; with ``pause_each`` it pauses the
    follower after every write.

    :ivar events: ``("start", length)``, ``("finish",)``, ``("abort",)``.
    :ivar body: The bytes written.
    """

    def __init__(self, pause_each: bool = False, gone: bool = False) -> None:
        """
        :param pause_each: Pause after every write.
        :param gone: The sink's consumer is gone: it stops a producer as it
            is registered, as a disconnected transport does.
        """
        self.pause_each = pause_each
        self.gone = gone
        self.events: list[tuple[object, ...]] = []
        self.body = b""
        self.producer: IPushProducer | None = None
        self.closed: Deferred[None] = Deferred()

    def start(self, length: int | None) -> None:
        """The body begins."""
        self.events.append(("start", length))

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """Keep the producer."""
        assert streaming
        self.producer = IPushProducer(producer)
        if self.gone:
            self.producer.stopProducing()

    def unregisterProducer(self) -> None:
        """Forget it."""
        self.producer = None

    def write(self, data: bytes) -> None:
        """Take bytes, maybe pause."""
        self.body += data
        if self.pause_each and self.producer is not None:
            self.producer.pauseProducing()

    def finish(self) -> None:
        """The body is whole."""
        self.events.append(("finish",))

    def abort(self) -> None:
        """The body was cut off."""
        self.events.append(("abort",))

    def when_closed(self) -> Deferred[None]:
        """Fires when the test closes the sink."""
        return self.closed


def follow(
    sink: Sink, chunk_size: int = 4, first: int = 0, stop: int | None = None
) -> tuple[FakeDownload, Follower, Deferred[None]]:
    """
    A follower of a new download into ``sink`` (of bytes ``first`` to
    ``stop`` if given), attached.
    """
    download = FakeDownload()
    follower = Follower(download, sink, chunk_size, first, stop)
    return download, follower, follower.attach()


class FollowerTests(SynchronousTestCase):
    """
    :class:`Follower` over a fake download and sink.
    """

    def follow(
        self, sink: Sink, chunk_size: int = 4
    ) -> tuple[FakeDownload, Follower, Deferred[None]]:
        """A follower of a new download into ``sink``, attached."""
        return follow(sink, chunk_size)

    def test_sink_interface(self) -> None:
        """The fake sink is a faithful follower sink."""
        self.assertTrue(verifyObject(IFollowerSink, Sink()))

    def test_streams_and_finishes(self) -> None:
        """
        The body starts with the length, follows the writes, holds the last
        byte back until the file is complete, then finishes the sink.
        """
        sink = Sink()
        download, follower, done = self.follow(sink)
        follower.begin(len(DATA))
        self.assertEqual(sink.events, [("start", 10)])
        download.data = DATA
        follower.progress()
        self.assertEqual(sink.body, DATA[:-1])
        download.complete = True
        follower.progress()
        self.assertEqual(sink.body, DATA)
        self.assertEqual(sink.events, [("start", 10), ("finish",)])
        self.assertIsNone(self.successResultOf(done))
        self.assertEqual(download.detached, [follower])
        self.assertTrue(download.readers[0].closed)
        self.assertIsNone(sink.producer)

    def test_unknown_length_sends_everything(self) -> None:
        """Without a length, every byte is sent as soon as it is written."""
        sink = Sink()
        download, follower, _ = self.follow(sink)
        follower.begin(None)
        download.data = DATA
        follower.progress()
        self.assertEqual((sink.events, sink.body), ([("start", None)], DATA))

    def test_backpressure(self) -> None:
        """A paused sink gets one chunk per resume."""
        sink = Sink(pause_each=True)
        download, follower, _ = self.follow(sink)
        download.data = DATA
        follower.begin(None)
        self.assertEqual(sink.body, DATA[:4])
        follower.progress()
        self.assertEqual(sink.body, DATA[:4])
        follower.resumeProducing()
        self.assertEqual(sink.body, DATA[:8])

    def test_failure_after_start_aborts(self) -> None:
        """A download failing after the body started aborts the sink."""
        sink = Sink()
        download, follower, done = self.follow(sink)
        follower.begin(10)
        follower.source_failed(Failure(RuntimeError("upstream")))
        self.assertEqual(sink.events, [("start", 10), ("abort",)])
        self.assertIsNone(self.successResultOf(done))

    def test_failure_before_start(self) -> None:
        """A download failing before the body started fails the result."""
        sink = Sink()
        _, follower, done = self.follow(sink)
        follower.source_failed(Failure(RuntimeError("upstream")))
        self.failureResultOf(done, RuntimeError)
        self.assertEqual(sink.events, [])

    def test_sink_closed_detaches(self) -> None:
        """A sink that closes (the client left) detaches without aborting."""
        sink = Sink()
        download, follower, done = self.follow(sink)
        follower.begin(10)
        sink.closed.callback(None)
        self.assertIsNone(self.successResultOf(done))
        self.assertEqual(download.detached, [follower])
        self.assertEqual(sink.events, [("start", 10)])

    def test_cancel_aborts_started_body(self) -> None:
        """Cancelling after the body started aborts the sink."""
        sink = Sink()
        _, follower, done = self.follow(sink)
        follower.begin(10)
        done.cancel()
        self.failureResultOf(done, CancelledError)
        self.assertEqual(sink.events, [("start", 10), ("abort",)])

    def test_unreadable_file(self) -> None:
        """A file that cannot be opened fails the result before any start."""
        sink = Sink()
        download, follower, done = self.follow(sink)

        def broken(position: int = 0) -> Reader:
            """Fail to open."""
            raise OSError("gone")

        download.open_reader = broken  # type: ignore[method-assign]
        follower.begin(10)
        self.failureResultOf(done, OSError)
        self.assertEqual(sink.events, [])

    def test_closed_before_begin(self) -> None:
        """
        A sink closed before the body begins (the client left first) is
        detached at once: no reader is opened and nothing is written.
        """
        sink = Sink()
        sink.closed.callback(None)
        download, follower, done = self.follow(sink)
        download.data = DATA
        follower.begin(10)
        self.assertIsNone(self.successResultOf(done))
        self.assertEqual(download.detached, [follower])
        self.assertEqual(download.readers, [])
        self.assertEqual((sink.events, sink.body), ([], b""))

    def test_gone_as_registered(self) -> None:
        """
        A sink whose consumer stops the follower as it is registered (a
        connection already lost) gets no start and no bytes, and the reader
        is closed.
        """
        sink = Sink(gone=True)
        download, follower, done = self.follow(sink)
        download.data = DATA
        follower.begin(10)
        self.assertIsNone(self.successResultOf(done))
        self.assertEqual(download.detached, [follower])
        self.assertTrue(download.readers[0].closed)
        self.assertEqual((sink.events, sink.body), ([], b""))


class WindowTests(SynchronousTestCase):
    """
    A :class:`Follower` of one window of the file (a ``Range`` request).
    """

    def test_window_as_written(self) -> None:
        """
        Only the window's bytes are sent, each as soon as it is written,
        and the sink is finished once the last was sent, before the
        download is complete; the reader was opened at the window.
        """
        sink = Sink()
        download, follower, done = follow(sink, 4, 3, 7)
        follower.begin(len(DATA))
        self.assertEqual(download.positions, [3])
        download.data = DATA[:5]
        follower.progress()
        self.assertEqual(sink.body, DATA[3:5])
        self.assertNoResult(done)
        download.data = DATA
        follower.progress()
        self.assertEqual(sink.body, DATA[3:7])
        self.assertFalse(download.complete)
        self.assertEqual(sink.events, [("start", 10), ("finish",)])
        self.assertIsNone(self.successResultOf(done))
        self.assertEqual(download.detached, [follower])
        self.assertTrue(download.readers[0].closed)

    def test_last_byte_of_file(self) -> None:
        """
        A window ending at the file's end is sent whole before the download
        is complete: its last byte is not held back.
        """
        sink = Sink()
        download, follower, done = follow(sink, 4, 6, 10)
        download.data = DATA
        follower.begin(len(DATA))
        self.assertEqual(sink.body, DATA[6:])
        self.assertEqual(sink.events, [("start", 10), ("finish",)])
        self.assertIsNone(self.successResultOf(done))

    def test_file_shorter_than_window(self) -> None:
        """
        A window the complete download never reached (the file is shorter)
        aborts the sink rather than finish it.
        """
        sink = Sink()
        download, follower, done = follow(sink, 4, 6, 12)
        follower.begin(None)
        download.data = DATA
        download.complete = True
        follower.progress()
        self.assertEqual(sink.body, DATA[6:])
        self.assertEqual(sink.events, [("start", None), ("abort",)])
        self.assertIsNone(self.successResultOf(done))
