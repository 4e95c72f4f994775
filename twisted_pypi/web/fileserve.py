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

from collections.abc import Callable, Sequence

from twisted.web import pages
from twisted.web.http import (
    NOT_MODIFIED,
    REQUESTED_RANGE_NOT_SATISFIABLE,
    datetimeToString,
)
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.core.runner import Runner
from twisted_pypi.storage.interfaces import (
    IFileReader,
    IFileStore,
    ILocalFile,
)
from twisted_pypi.storage.rangereader import read_cached
from twisted_pypi.web.fileheaders import (
    IMMUTABLE,
    content_type,
    entity_tag,
    if_range_holds,
    last_modified,
    not_modified,
)
from twisted_pypi.web.ranges import BodyPlan, Part, plan_body
from twisted_pypi.web.sendfile import (
    DEFAULT_SEND_FILE,
    SendFile,
    ZeroCopyBody,
    plain_socket,
)
from twisted_pypi.web.streambody import StreamedBody

__all__ = ["SMALL_BODY", "serve_cached", "serve_file"]


#: A local file's body of at most this many bytes (a ``.metadata`` file, a
#: small wheel) is read at once and written with the headers, in the turn
#: that answers the request: one ``pread`` of a file the page cache holds
#: costs less than waiting a turn for the headers to leave before a
#: ``sendfile``, or setting up a producer.  A body not all in the page
#: cache goes the usual way, whose disk reads are not the reactor's.
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
        StreamedBody(request, reader, parts, trailer).start()

    local = ILocalFile.providedBy(reader)
    if local and sum(part.length for part in plan.parts) <= small_body:
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
    producer = StreamedBody(request, reader, plan.parts, plan.trailer)
    if gone is not None:
        producer.gone = gone
        producer.headers = [*_FILE_HEADERS, *plan.headers]
    producer.start()


def _send_small(request: Request, reader: IFileReader, plan: BodyPlan) -> bool:
    """
    Send the small body of ``plan`` from a local file at once, and close the
    reader, if the page cache holds all of it (read without waiting for the
    disk, :func:`~twisted_pypi.storage.rangereader.read_cached`).

    :return: ``False`` (nothing sent, the reader still open) if some of it
        is not in memory, or could not be read: the caller sends it the
        usual way, whose disk reads are not the reactor's.
    """
    fd = ILocalFile(reader).fileno()
    chunks: list[bytes | bytearray] = []
    for part in plan.parts:
        data = read_cached(fd, part.offset, part.length)
        if data is None:
            return False
        chunks += [part.prefix, data]
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
