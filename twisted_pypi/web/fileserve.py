# -*- test-case-name: tests.web.test_fileserve -*-
"""
Serving complete cached files.

Built on :class:`twisted.web.static.File`, which does ``HEAD``, ``Range``
(206, 416, multiple ranges) and ``If-Modified-Since``, configured so package
files stay opaque bytes (never a ``Content-Encoding``: ``static.File`` would
otherwise send ``gzip`` for ``.tar.gz``), plus what it lacks: a strong
``ETag`` with ``If-None-Match``, ``If-Range``, ``Cache-Control``, suffix
ranges longer than the file, and a push producer with a configurable chunk
size.  The resource layer calls::

    request.setHeader(b"x-cache", b"HIT")
    return serve_cached(request, cache, segments)

from ``render_GET`` and ``render_HEAD``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import IO, Any

from twisted.internet.interfaces import IPushProducer
from twisted.web import http, pages, static
from twisted.web.server import NOT_DONE_YET, Request
from zope.interface import implementer

from twisted_pypi.storage.filecache import FileCache

#: ``Cache-Control`` for files: their content never changes.
IMMUTABLE = b"max-age=365000000, immutable"

#: Bytes read from disk per write to the client.
DEFAULT_CHUNK_SIZE = 256 * 1024

#: Content types by suffix (checked in order; longest suffixes first).
CONTENT_TYPES = (
    (".tar.gz", "application/gzip"),
    (".tgz", "application/gzip"),
    (".whl", "application/zip"),
    (".zip", "application/zip"),
    (".metadata", "text/plain; charset=utf-8"),
)

#: The type of any other file.
DEFAULT_TYPE = "application/octet-stream"


def content_type(filename: str) -> bytes:
    """
    The ``Content-Type`` of a package file (never with an encoding).

    :param filename: The file's name.
    :return: The media type.
    """
    lowered = filename.lower()
    for suffix, kind in CONTENT_TYPES:
        if lowered.endswith(suffix):
            return kind.encode("ascii")
    return DEFAULT_TYPE.encode("ascii")


def etag_for(size: int, mtime_ns: int) -> bytes:
    """
    A strong entity tag for a file's version.

    :param size: The file's size.
    :param mtime_ns: Its modification time in nanoseconds.
    :return: The quoted tag.
    """
    return b'"%x-%x"' % (size, mtime_ns)


def _tags(header: bytes) -> list[bytes]:
    """The entity tags of an ``If-None-Match`` value, weak prefixes dropped."""
    tags = (tag.strip() for tag in header.split(b","))
    return [tag[2:] if tag.startswith(b"W/") else tag for tag in tags if tag]


def _not_modified(request: Request, etag: bytes, mtime: int) -> bool:
    """
    Whether the request's conditions say the client's copy is current.
    ``If-None-Match`` takes precedence: when present, ``If-Modified-Since``
    is removed from the request (RFC 9110 section 13.2.2).
    """
    if_none_match = request.getHeader(b"if-none-match")
    if if_none_match is not None:
        request.requestHeaders.removeHeader(b"if-modified-since")
        tags = _tags(if_none_match)
        return etag in tags or b"*" in tags
    since = request.getHeader(b"if-modified-since")
    if since is None:
        return False
    try:
        return bool(http.stringToDatetime(since.split(b";", 1)[0]) >= mtime)
    except ValueError:
        return False


@implementer(IPushProducer)
class _PartsProducer:
    """
    Writes parts of a file to a request: for each ``(prefix, offset, size)``
    the prefix, then ``size`` bytes from ``offset``.  A push producer: it
    writes chunks until the client's connection asks it to pause.
    """

    def __init__(
        self,
        request: Request,
        file: IO[bytes],
        parts: Sequence[tuple[bytes, int, int]],
        chunk_size: int,
    ) -> None:
        """
        :param request: The request to write to.
        :param file: The open file.
        :param parts: ``(prefix, offset, size)`` for each part, in order.
        :param chunk_size: The most bytes read at once.
        """
        self._request: Request | None = request
        self._file = file
        self._parts = list(parts)
        self._chunk_size = chunk_size
        self._index = 0
        self._remaining = -1
        self._paused = False
        self._pumping = False

    def start(self) -> None:
        """Register with the request and start writing."""
        assert self._request is not None
        self._request.registerProducer(self, True)
        self.resumeProducing()

    def pauseProducing(self) -> None:
        """Stop writing until resumed."""
        self._paused = True

    def resumeProducing(self) -> None:
        """Write until paused or done."""
        self._paused = False
        if self._pumping:
            return
        self._pumping = True
        try:
            self._pump()
        finally:
            self._pumping = False

    def stopProducing(self) -> None:
        """The client is gone (or the response is complete): close the file."""
        self._file.close()
        self._request = None

    def _pump(self) -> None:
        """Write parts until paused, finished, or the client is gone."""
        while self._request is not None and not self._paused:
            request = self._request
            if self._index == len(self._parts):
                request.unregisterProducer()
                request.finish()
                self.stopProducing()
                return
            prefix, offset, size = self._parts[self._index]
            if self._remaining < 0:
                self._file.seek(offset)
                self._remaining = size
                if prefix:
                    request.write(prefix)
            elif self._remaining == 0:
                self._index += 1
                self._remaining = -1
            else:
                data = self._file.read(min(self._chunk_size, self._remaining))
                if not data:
                    # The file shrank under us: the promised length is a lie.
                    request.unregisterProducer()
                    transport: Any = request.transport
                    transport.abortConnection()
                    self.stopProducing()
                    return
                self._remaining -= len(data)
                request.write(data)


class CachedFile(static.File):
    """
    A :class:`static.File` for one package file: no content encodings,
    octet-stream by default, the types of :data:`CONTENT_TYPES`, and a push
    producer reading ``chunk_size`` bytes at a time.
    """

    isLeaf = True
    contentEncodings: dict[str, str] = {}
    contentTypes = {
        ".gz": "application/gzip",
        ".tgz": "application/gzip",
        ".whl": "application/zip",
        ".zip": "application/zip",
        ".metadata": "text/plain; charset=utf-8",
    }

    def __init__(self, path: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        """
        :param path: The file.
        :param chunk_size: Bytes read per write to the client.
        """
        super().__init__(path, defaultType=DEFAULT_TYPE)
        self.chunk_size = chunk_size
        self.type = content_type(self.basename()).decode("ascii")
        self.encoding = None

    def _rangeToOffsetAndSize(self, start: int | None, end: int | None) -> Any:
        """
        As in :class:`static.File`, but a suffix range longer than the file
        means the whole file (RFC 9110 section 14.1.2).
        """
        if start is None and end is not None:
            end = min(end, self.getFileSize())
        return super()._rangeToOffsetAndSize(start, end)

    def makeProducer(self, request: Request, fileForReading: IO[bytes]) -> Any:
        """
        Set the status and content headers and make the body's producer.

        :param request: The request.
        :param fileForReading: The open file.
        :return: A producer with a ``start()`` method.
        """
        size = self.getFileSize()
        header = request.getHeader(b"range")
        parsed: list[tuple[int | None, int | None]] | None = None
        if header is not None:
            try:
                parsed = self._parseRangeHeader(header)
            except ValueError:
                parsed = None
        if parsed is None:
            self._setContentHeaders(request)
            request.setResponseCode(http.OK)
            parts = [(b"", 0, size)]
        elif len(parsed) == 1:
            offset, length = self._doSingleRangeRequest(request, parsed[0])
            self._setContentHeaders(request, length)
            parts = [(b"", offset, length)]
        else:
            info = self._doMultipleRangeRequest(request, parsed)
            parts = [] if request.code == http.REQUESTED_RANGE_NOT_SATISFIABLE else info
        if request.code == http.REQUESTED_RANGE_NOT_SATISFIABLE:
            # An error, not the file: not to be kept for a year.
            request.responseHeaders.removeHeader(b"cache-control")
        return _PartsProducer(request, fileForReading, parts, self.chunk_size)


def serve_cached(
    request: Request,
    cache: FileCache,
    segments: Sequence[str],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> bytes | int:
    """
    Answer a ``GET`` or ``HEAD`` for a complete cached file.

    Adds ``ETag`` (``If-None-Match`` → 304), ``Cache-Control: immutable`` and
    ``If-Range`` (a validator matching neither the ETag nor the
    ``Last-Modified`` date exactly → the full 200) to what
    :class:`CachedFile` does.  The file is pinned until the response is
    finished or the client goes away, and marked as used.

    :param request: The request; the caller may have set headers (``X-Cache``).
    :param cache: The cache holding the file.
    :param segments: The file's place in the cache.
    :param chunk_size: Bytes read per write to the client.
    :return: What ``render`` returns (bytes or ``NOT_DONE_YET``); a 404 page
        if the file is not in the cache.
    :raise ValueError: If a segment is unsafe.
    """
    key = tuple(segments)
    path = cache.lookup(key)
    st = None
    if path is not None:
        try:
            st = os.stat(path.path)
        except OSError:
            st = None
    if path is None or st is None:
        missing: bytes = pages.notFound().render(request)
        return missing
    cache.pin(key)
    request.notifyFinish().addBoth(lambda _: cache.unpin(key))
    cache.touch(key)
    return serve_path(request, path.path, st, chunk_size)


def serve_path(
    request: Request,
    path: str,
    st: os.stat_result,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> bytes | int:
    """
    Answer a ``GET`` or ``HEAD`` with a complete file: ``ETag``
    (``If-None-Match`` → 304), ``Cache-Control: immutable``, ``If-Range``,
    ranges, and never a ``Content-Encoding``.

    :param request: The request.
    :param path: The file.
    :param st: The file's ``os.stat`` result.
    :param chunk_size: Bytes read per write to the client.
    :return: What ``render`` returns.
    """
    etag = etag_for(st.st_size, st.st_mtime_ns)
    last_modified = http.datetimeToString(math.ceil(st.st_mtime))
    request.setHeader(b"etag", etag)
    request.setHeader(b"cache-control", IMMUTABLE)
    if _not_modified(request, etag, math.ceil(st.st_mtime)):
        # Answered here rather than by static.File, whose 304 would carry
        # "Content-Length: 0" (RFC 9110 allows only the full length there).
        request.setResponseCode(http.NOT_MODIFIED)
        request.write(b"")
        request.finish()
        return NOT_DONE_YET
    if_range = request.getHeader(b"if-range")
    if if_range is not None and if_range.strip() not in (etag, last_modified):
        request.requestHeaders.removeHeader(b"range")
    result: bytes | int = CachedFile(path, chunk_size).render(request)
    return result
