# -*- test-case-name: tests.storage.test_rangereader -*-
"""
Reading a local file by byte ranges into a consumer: the
:class:`~twisted_pypi.storage.interfaces.IFileReader` of the local directory
store, also used for files that live outside any store (the wheels of a
local index).

A range is sent by a push producer that reads ``chunk_size`` bytes at a time
with ``os.pread`` and writes them to its consumer until the consumer pauses
it: the reactor never reads more than one chunk in a turn, and memory stays
flat however large the file and however slow the client.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from stat import S_ISREG

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConsumer, IPushProducer
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_pypi.core.runner import Runner
from twisted_pypi.storage.interfaces import (
    FileStat,
    IFileReader,
    ILocalFile,
    ReadStopped,
    ShortRead,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "LocalFileReader",
    "file_stat",
    "open_path",
    "page_cached",
    "read_cached",
]

#: Bytes read from disk per write to a consumer.
DEFAULT_CHUNK_SIZE = 256 * 1024


def file_stat(st: os.stat_result) -> FileStat:
    """
    The :class:`FileStat` of a local file: its modification time is its
    version, so its entity tag is its size and modification time in
    nanoseconds.

    :param st: The file's ``os.stat`` result.
    """
    return FileStat(st.st_size, st.st_mtime, f"{st.st_size:x}-{st.st_mtime_ns:x}")


def read_cached(fd: int, offset: int, length: int) -> bytearray | None:
    """
    The bytes of a range of an open file if the page cache holds them all,
    read with ``RWF_NOWAIT`` (which refuses, ``EAGAIN``, rather than wait
    for the disk); ``None`` if it does not, or where the system cannot say
    (no ``preadv`` with ``RWF_NOWAIT``, or a file system without it).

    :param fd: The file's descriptor.
    :param offset: Where the range starts.
    :param length: Its length.
    """
    if length <= 0:
        return bytearray()
    nowait = getattr(os, "RWF_NOWAIT", None)
    if nowait is None:
        return None
    data = bytearray(length)
    try:
        if os.preadv(fd, [data], offset, nowait) != length:
            return None
    except OSError:
        return None
    return data


def page_cached(fd: int, offset: int, length: int) -> bool:
    """
    Whether a range of an open file is in the page cache, as far as its
    first and last bytes say (each read by :func:`read_cached`).  The kernel
    reads files ahead in order, so a range whose ends are in memory almost
    always is whole; a page evicted alone in between is read when it is
    sent.  ``False`` where the system cannot say.

    :param fd: The file's descriptor.
    :param offset: Where the range starts.
    :param length: Its length; an empty range is in memory.
    """
    if length <= 0:
        return True
    return all(
        read_cached(fd, where, 1) is not None for where in {offset, offset + length - 1}
    )


def open_path(
    path: str, chunk_size: int = DEFAULT_CHUNK_SIZE, run: Runner | None = None
) -> LocalFileReader:
    """
    Open a local file for reading by ranges.

    :param path: The file.
    :param chunk_size: Bytes read per write to a consumer.
    :param run: Reads a chunk that is not in the page cache, away from the
        reactor; ``None`` to read every chunk on the calling thread.
    :raise OSError: If it cannot be opened (or is not a regular file).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        if not S_ISREG(st.st_mode):
            raise IsADirectoryError(path)
    except BaseException:
        os.close(fd)
        raise
    return LocalFileReader(fd, file_stat(st), chunk_size, run)


@implementer(IFileReader, ILocalFile)
class LocalFileReader:
    """
    An open local file, read by ranges; its descriptor is there for the
    kernel to copy from (:class:`ILocalFile`).

    :ivar stat: The file's stat when it was opened.
    """

    def __init__(
        self, fd: int, stat: FileStat, chunk_size: int, run: Runner | None = None
    ) -> None:
        """
        :param fd: A descriptor open for reading; the reader owns it.
        :param stat: The file's stat.
        :param chunk_size: Bytes read per write to a consumer.
        :param run: Reads a chunk not in the page cache away from the
            reactor (see :func:`open_path`).
        """
        self.stat = stat
        self._fd: int | None = fd
        self._chunk_size = chunk_size
        self._run = run
        self._active: _RangeProducer | None = None

    def stream(self, consumer: IConsumer, offset: int, length: int) -> Deferred[None]:
        """
        Write ``length`` bytes from ``offset`` to ``consumer``, a chunk at a
        time while it is not paused.

        :return: See :meth:`IFileReader.stream`.
        :raise ValueError: If the reader is closed or already streaming.
        """
        if self._fd is None or self._active is not None:
            raise ValueError("reader closed or busy")
        producer = _RangeProducer(
            self._fd, consumer, offset, length, self._chunk_size, self._run
        )
        self._active = producer
        return producer.start().addBoth(self._idle)

    def fileno(self) -> int:
        """
        See :meth:`ILocalFile.fileno`.

        :raise ValueError: If the reader is closed.
        """
        if self._fd is None:
            raise ValueError("reader closed")
        return self._fd

    def in_memory(self, offset: int, length: int) -> bool:
        """
        See :meth:`ILocalFile.in_memory`: the range's first and last bytes
        are asked of the page cache (:func:`page_cached`).

        :raise ValueError: If the reader is closed.
        """
        if self._fd is None:
            raise ValueError("reader closed")
        return page_cached(self._fd, offset, length)

    def _idle(self, result: object) -> object:
        """A range ended: the reader may stream another."""
        self._active = None
        return result

    def close(self) -> None:
        """
        Stop any range being read and close the file (once a thread reading
        a chunk of it is done).
        """
        active = self._active
        if active is not None:
            active.stopProducing()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            if active is not None and active.away:
                active.when_back(lambda: os.close(fd))
            else:
                os.close(fd)


@implementer(IPushProducer)
class _RangeProducer:
    """
    Writes one range of a file to a consumer, a chunk per write, while the
    consumer does not pause it.
    """

    def __init__(
        self,
        fd: int,
        consumer: IConsumer,
        offset: int,
        length: int,
        chunk_size: int,
        run: Runner | None = None,
    ) -> None:
        """
        :param fd: The open file.
        :param consumer: Where the bytes go.
        :param offset: The first byte.
        :param length: How many bytes.
        :param chunk_size: The most bytes read at once.
        :param run: Reads a chunk not in the page cache away from the
            reactor, if given.
        """
        self._fd = fd
        self._consumer = consumer
        self._offset = offset
        self._remaining = length
        self._chunk_size = chunk_size
        self._run = run
        self.away = False
        self._back: list[Callable[[], object]] = []
        self._result: Deferred[None] = Deferred(self._cancel)
        self._paused = False
        self._pumping = False
        self._done = False

    def start(self) -> Deferred[None]:
        """
        Register with the consumer and start writing.

        :return: Fires once the range was written, see
            :meth:`IFileReader.stream`.
        """
        self._consumer.registerProducer(self, True)
        self._pump()  # unless the consumer paused at once
        return self._result

    def pauseProducing(self) -> None:
        """The consumer is full: stop writing."""
        self._paused = True

    def resumeProducing(self) -> None:
        """The consumer has room: write until paused or done."""
        self._paused = False
        self._pump()

    def _pump(self) -> None:
        """Write chunks until paused or done."""
        if self._pumping or self.away:
            return
        self._pumping = True
        try:
            while not self._done:
                if self._remaining == 0:
                    self._end(None)
                    return
                if self._paused:
                    return
                want = min(self._chunk_size, self._remaining)
                if self._run is not None and not page_cached(
                    self._fd, self._offset, want
                ):
                    self._read_away(self._run, want)
                    return
                try:
                    data = os.pread(self._fd, want, self._offset)
                except OSError as e:
                    self._end(Failure(e))
                    return
                if not self._got(data):
                    return
        finally:
            self._pumping = False

    def _got(self, data: bytes) -> bool:
        """
        Write a chunk read.

        :return: Whether to read on (``False``: the file ended early).
        """
        if not data:
            why = f"the file ended {self._remaining} bytes early"
            self._end(Failure(ShortRead(why)))
            return False
        self._offset += len(data)
        self._remaining -= len(data)
        self._consumer.write(data)
        return True

    def _read_away(self, run: Runner, want: int) -> None:
        """
        Read a chunk not in memory in a thread, which waits for the disk
        instead of the reactor; write it and read on when it is back.
        """
        fd, offset = self._fd, self._offset
        self.away = True
        read: Deferred[bytes] = run(lambda: os.pread(fd, want, offset))
        read.addCallbacks(self._read_back, self._read_failed)

    def when_back(self, call: Callable[[], object]) -> None:
        """Call ``call`` once the thread reading a chunk is done."""
        self._back.append(call)

    def _returned(self) -> None:
        """The thread is done: run what waited for it."""
        self.away = False
        back, self._back = self._back, []
        for call in back:
            call()

    def _read_back(self, data: bytes) -> None:
        """A thread read a chunk: write it and read on, unless stopped."""
        self._returned()
        if not self._done and self._got(data):
            self._pump()

    def _read_failed(self, failure: Failure) -> None:
        """A thread's read failed: the range fails, unless stopped."""
        self._returned()
        self._end(failure)

    def stopProducing(self) -> None:
        """
        The consumer is going away: stop, without unregistering (the
        consumer is tearing down).
        """
        if not self._done:
            self._done = True
            self._result.errback(ReadStopped())

    def _cancel(self, result: Deferred[None]) -> None:
        """The caller gave up: stop reading; the Deferred fails cancelled."""
        if not self._done:
            self._done = True
            self._consumer.unregisterProducer()

    def _end(self, failure: Failure | None) -> None:
        """Unregister once, then report the outcome."""
        if self._done:
            return
        self._done = True
        self._consumer.unregisterProducer()
        if failure is None:
            self._result.callback(None)
        else:
            self._result.errback(failure)
