# -*- test-case-name: tests.files.test_download -*-
"""
One client following a file while it is downloaded: a push producer that
reads the growing file at its own offset and writes to its request only while
the client's connection has room.
"""

from __future__ import annotations

import os
from typing import Any, Protocol

from attrs import define, field
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IPushProducer
from twisted.python.failure import Failure
from twisted.web.server import Request
from zope.interface import implementer

from twisted_pypi.web.fileserve import IMMUTABLE


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
        Whether every byte is written and the file verified.
        """

    def open_reader(self) -> int:
        """
        A new read-only descriptor on the file, for the caller to close.
        """

    def detach(self, follower: Follower) -> None:
        """
        Forget ``follower``.
        """


def _abort(request: Request) -> None:
    """Abort the connection of ``request`` unless it is gone already."""
    if getattr(request, "channel", None) is not None:
        request.unregisterProducer()
        transport: Any = request.transport
        transport.abortConnection()


@implementer(IPushProducer)
@define(eq=False)
class Follower:
    """
    One client of a file being downloaded:
    reads the file at its own offset, never past the bytes written, at most
    ``chunk_size`` at a time, and writes only while its client is not paused.
    """

    _download: FollowedFile
    _request: Request
    _chunk_size: int
    _content_type: bytes
    _result: Deferred[None] | None = field(default=None, init=False)
    _fd: int | None = field(default=None, init=False)
    _offset: int = field(default=0, init=False)
    _length: int | None = field(default=None, init=False)
    _paused: bool = field(default=False, init=False)
    _sending: bool = field(default=False, init=False)
    _ended: bool = field(default=False, init=False)
    _pumping: bool = field(default=False, init=False)

    def attach(self) -> Deferred[None]:
        """
        Watch for the client leaving.

        :return: The Deferred :meth:`Download.serve` returns.
        """
        self._result = Deferred(self._cancel)
        self._request.notifyFinish().addBoth(self._request_done)
        return self._result

    def begin(self, length: int | None) -> None:
        """
        The upstream's 200 headers arrived: send ours, start streaming.

        :param length: The body's length, if known.
        """
        if self._ended or self._sending:
            return
        try:
            self._fd = self._download.open_reader()
        except OSError as e:
            self._end(Failure(e))
            return
        request = self._request
        self._length = length
        request.setResponseCode(200)
        if length is not None:
            request.setHeader(b"content-length", b"%d" % (length,))
        request.setHeader(b"content-type", self._content_type)
        request.setHeader(b"cache-control", IMMUTABLE)
        request.responseHeaders.removeHeader(b"accept-ranges")
        request.responseHeaders.removeHeader(b"content-encoding")
        self._sending = True
        request.registerProducer(self, True)
        request.write(b"")
        self.progress()

    def progress(self) -> None:
        """
        Send what was written and not yet sent, unless paused; finish once
        the download is done and everything was sent.

        When the length was announced, the last byte is held back until the
        download is verified: a client that has every byte would otherwise
        take a body that fails the hash check for a whole one, since the
        abort that follows a failed check could arrive after it.
        """
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._fd is not None and not self._paused:
                sendable = self._download.written
                if self._length is not None and not self._download.complete:
                    sendable = min(sendable, self._length - 1)
                available = sendable - self._offset
                if available > 0:
                    data = os.pread(
                        self._fd, min(self._chunk_size, available), self._offset
                    )
                    if not data:
                        return self._end(None, abort=True)
                    self._offset += len(data)
                    self._request.write(data)
                elif self._download.complete:
                    self._request.unregisterProducer()
                    self._request.finish()
                    self._end(None)
                else:
                    return
        finally:
            self._pumping = False

    def source_failed(self, reason: Failure) -> None:
        """
        The download failed: abort the connection if headers were sent,
        else hand the failure to the caller of :meth:`begin`'s owner.

        :param reason: Why it failed.
        """
        if self._sending:
            self._end(None, abort=True)
        else:
            self._end(reason)

    def pauseProducing(self) -> None:
        """The client's connection is full: stop writing."""
        self._paused = True

    def resumeProducing(self) -> None:
        """The client's connection has room again."""
        self._paused = False
        self.progress()

    def stopProducing(self) -> None:
        """The client's connection is gone: detach."""
        self._end(None)

    def _request_done(self, result: None | Failure) -> None:
        """The response finished, or the client left (then detach)."""
        self._end(None)

    def _cancel(self, result: Deferred[None]) -> None:
        """The caller gave up: detach, aborting if headers were sent."""
        self._result = None
        self._end(None, abort=self._sending)

    def _end(self, outcome: Failure | None, abort: bool = False) -> None:
        """Detach once: close the file, maybe abort, report ``outcome``."""
        if self._ended:
            return
        self._ended = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._download.detach(self)
        if abort:
            _abort(self._request)
        result, self._result = self._result, None
        if result is not None:
            result.callback(None) if outcome is None else result.errback(outcome)
