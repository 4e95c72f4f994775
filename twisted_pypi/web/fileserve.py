# -*- test-case-name: tests.web.test_fileserve -*-
"""
Serving complete files over HTTP, read by ranges through the storage seam
(:class:`~twisted_pypi.storage.interfaces.IFileReader`).

``GET`` and ``HEAD``, ``Range`` (206, ``multipart/byteranges``, 416, see
:mod:`~twisted_pypi.web.ranges`), ``If-Range``, a strong ``ETag`` with
``If-None-Match`` (304), ``Last-Modified`` with ``If-Modified-Since``,
``Accept-Ranges: bytes``, ``Cache-Control: immutable``, and never a
``Content-Encoding`` (a ``.tar.gz`` is the gzip file it is).

A local file on a plain TCP connection is sent by the kernel with
``sendfile(2)`` (:mod:`twisted_pypi.web.sendfile`).  Otherwise (TLS, a file
in an object store, no ``sendfile``) the body is sent by a push producer
registered on the request for the whole response: each range is streamed
from the reader into it with backpressure.  Either way memory stays flat
however large the file, and a client that goes away stops the sending.
The resource layer calls::

    request.setHeader(b"x-cache", b"HIT")
    return serve_cached(request, store, segments)

from ``render_GET`` and ``render_HEAD``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from twisted.internet.interfaces import IConsumer, IProducer, IPushProducer
from twisted.python.failure import Failure
from twisted.web import pages
from twisted.web.http import (
    NOT_MODIFIED,
    OK,
    REQUESTED_RANGE_NOT_SATISFIABLE,
    datetimeToString,
)
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from twisted_pypi.core.runner import Runner
from twisted_pypi.storage.interfaces import (
    FileGone,
    IFileReader,
    IFileStore,
    ILocalFile,
    ReadStopped,
)
from twisted_pypi.web.fileheaders import (
    IMMUTABLE,
    content_type,
    entity_tag,
    if_range_holds,
    last_modified,
    not_modified,
)
from twisted_pypi.web.ranges import BodyPlan, Part, plan_body
from twisted_pypi.web.respond import abort
from twisted_pypi.web.sendfile import (
    DEFAULT_SEND_FILE,
    SendFile,
    ZeroCopyBody,
    plain_socket,
)

__all__ = ["SMALL_BODY", "serve_cached", "serve_file"]


#: A local file's body of at most this many bytes (a ``.metadata`` file, a
#: small wheel) is read at once and written with the headers, in the turn
#: that answers the request: one ``pread`` of a file the page cache holds
#: costs less than waiting a turn for the headers to leave before a
#: ``sendfile``, or setting up a producer.  A body not in the page cache
#: goes the usual way, whose disk reads are not the reactor's.
SMALL_BODY = 64 << 10


def serve_cached(
    request: Request,
    store: IFileStore,
    segments: Sequence[str],
    gone: Callable[[], object] | None = None,
    send_file: SendFile | None = DEFAULT_SEND_FILE,
    small_body: int = SMALL_BODY,
    run: Runner | None = None,
) -> bytes | int:
    """
    Answer a ``GET`` or ``HEAD`` for a complete stored file (see
    :func:`serve_file`).  The file is pinned until the response is finished
    or the client goes away, and marked as used.

    :param request: The request; the caller may have set headers (``X-Cache``).
    :param store: The store holding the file.
    :param segments: The file's key.
    :param gone: Answers the request instead when the file turns out to
        be gone from a shared store before any of the response was sent
        (see :func:`serve_file`).
    :param send_file: See :func:`serve_file`.
    :param small_body: See :func:`serve_file`.
    :param run: See :func:`serve_file`.
    :return: What ``render`` returns: ``NOT_DONE_YET``, or a 404 page if the
        store does not have the file.
    :raise ValueError: If a segment is unsafe.
    """
    key = tuple(segments)
    reader = store.open(key)
    if reader is None:
        missing: bytes = pages.notFound().render(request)
        return missing
    store.pin(key)
    request.notifyFinish().addBoth(lambda _: store.unpin(key))
    store.touch(key)
    serve_file(request, reader, content_type(key[-1]), gone, send_file, small_body, run)
    return NOT_DONE_YET


def serve_file(
    request: Request,
    reader: IFileReader,
    kind: bytes,
    gone: Callable[[], object] | None = None,
    send_file: SendFile | None = DEFAULT_SEND_FILE,
    small_body: int = SMALL_BODY,
    run: Runner | None = None,
) -> None:
    """
    Answer a ``GET`` or ``HEAD`` with a complete file, and close the reader
    once done.  The response is finished here (or by the body's sender).

    :param request: The request.
    :param reader: The open file.
    :param kind: Its ``Content-Type``.
    :param gone: If the file turns out to be gone (:class:`FileGone`)
        before any of the response was sent, the headers set here are
        taken back and this answers the request instead (else the
        connection is aborted, as for any failed read).
    :param send_file: ``os.sendfile`` (or a stand-in) to send a local
        file's bytes with on a plain TCP connection, or ``None`` to read
        every file through the reactor.
    :param small_body: A local file's body of at most this many bytes is
        read and written at once (see :data:`SMALL_BODY`).
    :param run: Runs a ``sendfile`` of bytes not in memory in a thread (see
        :class:`ZeroCopyBody`); by default the connection's reactor's pool.
    """
    stat = reader.stat
    etag, modified = entity_tag(stat), last_modified(stat)
    request.setHeader(b"etag", etag)
    request.setHeader(b"cache-control", IMMUTABLE)
    if not_modified(request, etag, modified):
        # No Content-Length: RFC 9110 allows only the full length there.
        reader.close()
        request.setResponseCode(NOT_MODIFIED)
        request.write(b"")
        request.finish()
        return
    range_header = request.getHeader(b"range")
    if request.method == b"HEAD" or not if_range_holds(request, etag, modified):
        range_header = None
    plan = plan_body(range_header, stat.size, kind)
    request.setResponseCode(plan.code)
    request.setHeader(b"accept-ranges", b"bytes")
    request.setHeader(b"last-modified", datetimeToString(modified))
    request.setHeader(b"content-type", kind)
    for name, value in plan.headers.items():
        request.setHeader(name, value)
    if plan.code == REQUESTED_RANGE_NOT_SATISFIABLE:
        # An error, not the file: not to be kept for a year.
        request.responseHeaders.removeHeader(b"cache-control")
    if request.method == b"HEAD" or not plan.parts:
        reader.close()
        request.write(b"")
        request.finish()
        return
    _send_body(request, reader, plan, gone, send_file, small_body, run)


def _send_body(
    request: Request,
    reader: IFileReader,
    plan: BodyPlan,
    gone: Callable[[], object] | None,
    send_file: SendFile | None,
    small_body: int,
    run: Runner | None,
) -> None:
    """
    Send the body of ``plan``: by ``sendfile`` where the file is local and
    the connection plain TCP, else (or if ``sendfile`` is refused) read
    through the reactor.
    """

    def read(parts: list[Part], trailer: bytes) -> None:
        _BodyProducer(request, reader, parts, trailer).start()

    local = ILocalFile.providedBy(reader)
    if local and _small_in_memory(ILocalFile(reader), plan, small_body):
        if _send_small(request, reader, plan):
            return
    where = plain_socket(request) if local else None
    if send_file is not None and where is not None:
        transport, sock = where
        body = ZeroCopyBody(
            request,
            transport,
            sock,
            reader,
            plan.parts,
            plan.trailer,
            send_file,
            read,
            run=run,
        )
        body.start()
        return
    producer = _BodyProducer(request, reader, plan.parts, plan.trailer)
    if gone is not None:
        producer.gone = gone
        producer.headers = [*_FILE_HEADERS, *plan.headers]
    producer.start()


def _small_in_memory(local: ILocalFile, plan: BodyPlan, small_body: int) -> bool:
    """
    Whether the body of ``plan`` is small enough to read at once and in the
    page cache, so that reading it here does not wait for the disk.
    """
    if sum(part.length for part in plan.parts) > small_body:
        return False
    return all(local.in_memory(part.offset, part.length) for part in plan.parts)


def _send_small(request: Request, reader: IFileReader, plan: BodyPlan) -> bool:
    """
    Send the small body of ``plan`` from a local file at once, and close the
    reader.

    :return: ``False`` (nothing sent, the reader still open) if the file
        could not be read whole: the caller sends it the usual way.
    """
    fd = ILocalFile(reader).fileno()
    chunks: list[bytes] = []
    try:
        for part in plan.parts:
            data = os.pread(fd, part.length, part.offset)
            if len(data) != part.length:
                return False
            chunks += [part.prefix, data]
    except OSError:
        return False
    reader.close()
    request.write(b"".join([*chunks, plan.trailer]))
    request.finish()
    return True


#: The headers :func:`serve_file` sets besides those of the body's plan.
_FILE_HEADERS = (
    b"etag",
    b"cache-control",
    b"accept-ranges",
    b"last-modified",
    b"content-type",
)


@implementer(IPushProducer, IConsumer)
class _BodyProducer:
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
