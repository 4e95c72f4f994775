# -*- test-case-name: tests.web.test_fileserve -*-
"""
The headers of package files, whoever serves them (the cache, a download in
flight, a local index, a dummy): content types, caching, validators and the
conditional requests they answer.
"""

from __future__ import annotations

import math

from twisted.web.http import datetimeToString, stringToDatetime
from twisted.web.server import Request

from twisted_pypi.storage.interfaces import FileStat

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_TYPE",
    "IMMUTABLE",
    "content_type",
    "entity_tag",
    "if_range_holds",
    "last_modified",
    "not_modified",
]

#: ``Cache-Control`` for files: their content never changes.
IMMUTABLE = b"max-age=365000000, immutable"

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
    The ``Content-Type`` of a package file (never with an encoding: a
    ``.tar.gz`` is served as the gzip file it is).

    :param filename: The file's name.
    :return: The media type.
    """
    lowered = filename.lower()
    for suffix, kind in CONTENT_TYPES:
        if lowered.endswith(suffix):
            return kind.encode("ascii")
    return DEFAULT_TYPE.encode("ascii")


def entity_tag(stat: FileStat) -> bytes:
    """
    The strong ``ETag`` of a stored file's version.

    :param stat: The file's stat.
    :return: The quoted tag.
    """
    return b'"' + stat.etag.encode("ascii") + b'"'


def last_modified(stat: FileStat) -> int:
    """
    The ``Last-Modified`` time of a stored file, in whole seconds (rounded
    up, as HTTP dates have no fractions).

    :param stat: The file's stat.
    """
    return math.ceil(stat.modified)


def _tags(header: bytes) -> list[bytes]:
    """The entity tags of an ``If-None-Match`` value, weak prefixes dropped."""
    tags = (tag.strip() for tag in header.split(b","))
    return [tag[2:] if tag.startswith(b"W/") else tag for tag in tags if tag]


def not_modified(request: Request, etag: bytes, modified: int) -> bool:
    """
    Whether the request's conditions say the client's copy is current.
    ``If-None-Match`` takes precedence: when present, ``If-Modified-Since``
    is removed from the request (RFC 9110 section 13.2.2).

    :param request: The request.
    :param etag: The file's quoted entity tag.
    :param modified: Its ``Last-Modified`` time in seconds.
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
        return bool(stringToDatetime(since.split(b";", 1)[0]) >= modified)
    except ValueError:
        return False


def if_range_holds(request: Request, etag: bytes, modified: int) -> bool:
    """
    Whether a ``Range`` may be honoured: there is no ``If-Range``, or it
    gives exactly the current entity tag or ``Last-Modified`` date (a weak
    tag or another date means the client's copy is another version: it gets
    the whole file).

    :param request: The request.
    :param etag: The file's quoted entity tag.
    :param modified: Its ``Last-Modified`` time in seconds.
    """
    if_range = request.getHeader(b"if-range")
    if if_range is None:
        return True
    return if_range.strip() in (etag, datetimeToString(modified))
