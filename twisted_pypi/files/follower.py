# -*- test-case-name: tests.files.test_follower -*-
"""
One client following a file while it is downloaded: a push producer that
reads the growing spool file at its own offset and writes to its sink only
while the sink has room.

The sink is anything that consumes bytes and can be told when the body
starts, ends, or must be cut off
(:class:`~twisted_pypi.files.interfaces.IFollowerSink`); the web layer
attaches an HTTP request that way, setting the headers when the body starts.

A follower may also take a window of the file (a ``Range`` request): it then
sends the bytes from ``first`` to ``stop`` as soon as they are written, and
finishes once it sent the last of them, without waiting for the download to
be verified (a range cannot be checked against the file's hash anyway).
"""

from __future__ import annotations

from typing import Protocol

from attrs import define, field
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_pypi.files.interfaces import IFollowerSink
from twisted_pypi.storage.interfaces import ISpoolReader

__all__ = ["FollowedFile", "Follower"]


class FollowedFile(Protocol):
    """
    What a :class:`Follower` needs of the download it follows.
    """

    @property
    def written(self) -> int:
        """
        Bytes written to the file so far, all readable.
        """

    @property
    def complete(self) -> bool:
        """
        Whether every byte is written and the file verified and committed.
        """

    def open_reader(self, position: int = 0) -> ISpoolReader:
        """
        A new reader of the file, for the caller to close, that will read
        from ``position`` on.
        """

    def detach(self, follower: Follower) -> None:
        """
        Forget ``follower``.
        """


@implementer(IPushProducer)
@define(eq=False)
class Follower:
    """
    One client of a file being downloaded: reads the file at its own offset,
    never past the bytes written, at most ``chunk_size`` at a time, and
    writes only while its sink is not paused.

    :ivar first: The first byte to send (0, unless a window was asked).
    :ivar stop: The end of the window (exclusive), or ``None``: the whole
        file from ``first``, finished once the download is complete.
    """

    _download: FollowedFile
    _sink: IFollowerSink
    _chunk_size: int
    first: int = 0
    stop: int | None = None
    _result: Deferred[None] | None = field(default=None, init=False)
    _reader: ISpoolReader | None = field(default=None, init=False)
    _offset: int = field(default=0, init=False)
    _length: int | None = field(default=None, init=False)
    _paused: bool = field(default=False, init=False)
    _sending: bool = field(default=False, init=False)
    _ended: bool = field(default=False, init=False)
    _pumping: bool = field(default=False, init=False)

    def attach(self) -> Deferred[None]:
        """
        Watch for the sink closing.

        :return: The Deferred :meth:`Download.follow` returns.
        """
        result = self._result = Deferred(self._cancel)
        self._offset = self.first
        # A sink closed already (the client left first) ends the follower
        # here, before it begins: nothing is opened or written.
        self._sink.when_closed().addBoth(self._sink_closed)
        return result

    def begin(self, length: int | None) -> None:
        """
        The upstream's 200 headers arrived: start the body, start streaming.

        :param length: The body's length, if known.
        """
        if self._ended or self._sending:
            return
        try:
            self._reader = self._download.open_reader(self.first)
        except OSError as e:
            self._end(Failure(e))
            return
        self._length = length
        self._sending = True
        self._sink.registerProducer(self, True)
        if self._has_ended():
            # A consumer already gone stops its producer as it is registered
            # (the reader is closed then): nothing may be written to it.
            return
        self._sink.start(length)
        self.progress()

    def progress(self) -> None:
        """
        Send what was written and not yet sent, unless paused; finish once
        the download is done and everything was sent.

        When the length was announced, the last byte is held back until the
        download is verified: a client that has every byte would otherwise
        take a body that fails the hash check for a whole one, since the
        abort that follows a failed check could arrive after it.  A window
        finishes as soon as its last byte was sent; one that a complete
        download never reached (the file is shorter) is aborted.
        """
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._reader is not None and not self._paused:
                sendable = self._download.written
                if self.stop is not None:
                    sendable = min(sendable, self.stop)
                elif self._length is not None and not self._download.complete:
                    sendable = min(sendable, self._length - 1)
                available = sendable - self._offset
                if available > 0:
                    want = min(self._chunk_size, available)
                    data = self._reader.read(self._offset, want)
                    if not data:
                        return self._end(None, abort=True)
                    self._offset += len(data)
                    self._sink.write(data)
                elif self._offset == self.stop or (
                    self.stop is None and self._download.complete
                ):
                    self._sink.unregisterProducer()
                    self._sink.finish()
                    self._end(None)
                elif self._download.complete:
                    return self._end(None, abort=True)
                else:
                    return
        finally:
            self._pumping = False

    def source_failed(self, reason: Failure) -> None:
        """
        The download failed: abort the sink if the body started, else hand
        the failure to whoever waits on :meth:`attach`'s Deferred.

        :param reason: Why it failed.
        """
        if self._sending:
            self._end(None, abort=True)
        else:
            self._end(reason)

    def pauseProducing(self) -> None:
        """The sink is full: stop writing."""
        self._paused = True

    def resumeProducing(self) -> None:
        """The sink has room again."""
        self._paused = False
        self.progress()

    def stopProducing(self) -> None:
        """The sink is going away: detach."""
        self._end(None)

    def _sink_closed(self, result: object) -> None:
        """The body finished, or the client left (then detach)."""
        self._end(None)

    def _cancel(self, result: Deferred[None]) -> None:
        """The caller gave up: detach, aborting if the body started."""
        self._result = None
        self._end(None, abort=self._sending)

    def _has_ended(self) -> bool:
        """Whether the follower ended (its sink may end it at any call)."""
        return self._ended

    def _end(self, outcome: Failure | None, abort: bool = False) -> None:
        """Detach once: close the reader, maybe abort, report ``outcome``."""
        if self._ended:
            return
        self._ended = True
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._download.detach(self)
        if abort:
            self._sink.abort()
        result, self._result = self._result, None
        if result is not None:
            result.callback(None) if outcome is None else result.errback(outcome)
