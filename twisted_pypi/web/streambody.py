# -*- test-case-name: tests.web.test_streambody,tests.web.test_fileserve -*-
"""
A file's body streamed through the reactor
(:func:`~twisted_pypi.web.fileserve.serve_file` sends it so over TLS, from
an object store, and wherever ``sendfile`` is not used): each part's
prefix, then its range of the file read by the
:class:`~twisted_pypi.storage.interfaces.IFileReader` with backpressure,
then the trailer.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IConsumer, IProducer, IPushProducer
from twisted.python.failure import Failure
from twisted.web.http import OK
from twisted.web.server import Request
from zope.interface import implementer

from twisted_pypi.storage.interfaces import FileGone, IFileReader, ReadStopped
from twisted_pypi.web.ranges import Part
from twisted_pypi.web.respond import abort

__all__ = ["StreamedBody"]


@implementer(IPushProducer, IConsumer)
class StreamedBody:
    """
    Writes the parts of a body to a request: each part's prefix, then its
    range of the file, streamed by the reader into this producer (its
    consumer), then the trailer.  Registered on the request for the whole
    response, it passes the client's pauses on to whichever range is being
    read, and stops the reading when the client goes away.
    """

    def __init__(
        self, request: Request, reader: IFileReader, parts: list[Part], trailer: bytes
    ) -> None:
        """
        :param request: The request to write to.
        :param reader: The open file; closed when the body ends.
        :param parts: The parts, in order.
        :param trailer: Bytes after the last part.
        """
        self._request = request
        self._reader = reader
        self._parts = parts
        self._trailer = trailer
        self._index = 0
        self._range: IPushProducer | None = None
        self._paused = False
        self._looping = False
        self._again = False
        self._done = False
        #: Answers instead if the file is gone before anything was sent.
        self.gone: Callable[[], object] | None = None
        #: The headers to take back then.
        self.headers: list[bytes] = []

    def start(self) -> None:
        """Register with the request and send the parts."""
        self._request.registerProducer(self, True)
        self._request.notifyFinish().addErrback(self._gone)
        self._send_parts()

    def _send_parts(self) -> None:
        """
        Send parts until one is being read asynchronously, or all are sent.
        A loop rather than callbacks calling back, so that many parts read
        at once do not nest.
        """
        self._looping = True
        try:
            while not self._done:
                if self._index == len(self._parts):
                    self._finish()
                    return
                part = self._parts[self._index]
                self._index += 1
                if part.prefix:
                    self._request.write(part.prefix)
                if part.length == 0 or self._done:
                    continue
                self._again = False
                d = self._reader.stream(self, part.offset, part.length)
                d.addCallbacks(self._part_sent, self._part_failed)
                if not self._again:
                    return  # still reading: _part_sent carries on
        finally:
            self._looping = False

    def _part_sent(self, ignored: None) -> None:
        """One range was written: the next part."""
        if self._looping:
            self._again = True
        else:
            self._send_parts()

    def _part_failed(self, reason: Failure) -> None:
        """
        A range could not be read: the promised length is a lie, so the
        connection is aborted (unless the client is gone already).
        """
        if self._done:
            return
        self._close()
        if (
            reason.check(FileGone)
            and self.gone is not None
            and not self._request.startedWriting
        ):
            self._request.unregisterProducer()
            for name in self.headers:
                self._request.responseHeaders.removeHeader(name)
            self._request.setResponseCode(OK)
            self.gone()
            return
        if not reason.check(ReadStopped):
            self._request.unregisterProducer()
            abort(self._request)

    def _finish(self) -> None:
        """Every part was written."""
        if self._trailer:
            self._request.write(self._trailer)
        self._close()
        self._request.unregisterProducer()
        self._request.finish()

    def _close(self) -> None:
        """Stop for good and close the reader."""
        self._done = True
        self._reader.close()

    def _gone(self, reason: Failure) -> None:
        """The client went away: stop reading."""
        self.stopProducing()

    # IConsumer, for the reader of the current range.

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """A range starts (a push producer): pass on a pause in force."""
        self._range = IPushProducer(producer)
        if self._paused:
            self._range.pauseProducing()

    def unregisterProducer(self) -> None:
        """A range ended."""
        self._range = None

    def write(self, data: bytes) -> None:
        """:param data: Bytes of the current range."""
        if not self._done:
            self._request.write(data)

    # IPushProducer, for the request.

    def pauseProducing(self) -> None:
        """The client's connection is full."""
        self._paused = True
        if self._range is not None:
            self._range.pauseProducing()

    def resumeProducing(self) -> None:
        """The client's connection has room again."""
        self._paused = False
        if self._range is not None:
            self._range.resumeProducing()

    def stopProducing(self) -> None:
        """The client is gone: stop reading, close the file."""
        if self._done:
            return
        current, self._range = self._range, None
        if current is not None:
            current.stopProducing()
        self._close()
