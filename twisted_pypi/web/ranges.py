# -*- test-case-name: tests.web.test_ranges -*-
"""
``Range`` requests (RFC 9110 section 14): which bytes of a file a response
carries, with which status and headers.

:func:`plan_body` turns a ``Range`` header and a file's size into a
:class:`BodyPlan`: a 200 with the whole file, a 206 with one range, a 206
``multipart/byteranges`` with several, or a 416.  A malformed header, or one
in another unit than bytes, is ignored (200).  Ranges that start past the
end are dropped; if none is left the answer is 416 with ``Content-Range:
bytes */<size>``.  An end past the file is clipped to it, and a suffix range
longer than the file means the whole file.
"""

from __future__ import annotations

import os

from attrs import field, frozen
from twisted.web import http

__all__ = ["BodyPlan", "Part", "parse_ranges", "plan_body"]

#: A range as the header gives it: ``(first, last)``, either (not both)
#: ``None`` (``bytes=-n`` is ``(None, n)``, ``bytes=a-`` is ``(a, None)``).
Spec = tuple[int | None, int | None]


@frozen
class Part:
    """
    One piece of a response body: ``prefix``, then ``length`` bytes of the
    file from ``offset``.

    :ivar prefix: Bytes sent before the file's (a multipart boundary and
        part headers).
    :ivar offset: The first byte of the file.
    :ivar length: How many bytes of the file.
    """

    prefix: bytes
    offset: int
    length: int


@frozen
class BodyPlan:
    """
    What a response to a ``GET`` of a file carries.

    :ivar code: 200, 206 or 416.
    :ivar headers: ``Content-Length`` and, as needed, ``Content-Range`` and
        ``Content-Type`` (the multipart type).
    :ivar parts: The pieces of the body, in order.
    :ivar trailer: Bytes sent after the last part (the closing boundary).
    """

    code: int
    headers: dict[bytes, bytes]
    parts: list[Part] = field(factory=list)
    trailer: bytes = b""


def parse_ranges(header: bytes) -> list[Spec]:
    """
    The byte ranges of a ``Range`` header.

    :param header: The header's value, such as ``bytes=0-99,-50``.
    :return: At least one ``(first, last)`` pair.
    :raise ValueError: If the header is malformed or not in bytes.
    """
    unit, sep, value = header.partition(b"=")
    if not sep or unit.strip().lower() != b"bytes":
        raise ValueError("not a byte range")
    specs: list[Spec] = []
    for item in filter(None, (piece.strip() for piece in value.split(b","))):
        first_text, dash, last_text = item.partition(b"-")
        if not dash:
            raise ValueError(f"not a range: {item!r}")
        first = _number(first_text)
        last = _number(last_text)
        if first is None and last is None:
            raise ValueError(f"empty range: {item!r}")
        if first is not None and last is not None and first > last:
            raise ValueError(f"backwards range: {item!r}")
        specs.append((first, last))
    if not specs:
        raise ValueError("no range")
    return specs


def _number(text: bytes) -> int | None:
    """A range bound, or ``None`` when omitted."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"not a number: {text!r}")
    return int(text)


def _resolve(spec: Spec, size: int) -> tuple[int, int] | None:
    """
    ``(offset, length)`` of a range in a file of ``size`` bytes, or
    ``None`` if it does not overlap the file.
    """
    first, last = spec
    if first is None:
        assert last is not None
        first, end = max(size - last, 0), size
        if last == 0:
            return None
    else:
        end = size if last is None else min(last + 1, size)
    if first >= size:
        return None
    return first, end - first


def _content_range(offset: int, length: int, size: int) -> bytes:
    """The ``Content-Range`` of one satisfiable range."""
    return b"bytes %d-%d/%d" % (offset, offset + length - 1, size)


def plan_body(
    header: bytes | None, size: int, kind: bytes, boundary: bytes | None = None
) -> BodyPlan:
    """
    What to send for a ``GET`` of a file.

    :param header: The ``Range`` header, or ``None`` (also when it must be
        ignored, as ``If-Range`` may say).
    :param size: The file's size.
    :param kind: The file's ``Content-Type`` (for the parts of a multipart
        answer).
    :param boundary: The multipart boundary; a random one by default.
    """
    whole = BodyPlan(http.OK, {b"content-length": b"%d" % size}, [Part(b"", 0, size)])
    if header is None:
        return whole
    try:
        specs = parse_ranges(header)
    except ValueError:
        return whole
    resolved = [r for r in (_resolve(spec, size) for spec in specs) if r is not None]
    if not resolved:
        unsatisfiable = {
            b"content-length": b"0",
            b"content-range": b"bytes */%d" % size,
        }
        return BodyPlan(http.REQUESTED_RANGE_NOT_SATISFIABLE, unsatisfiable)
    if len(specs) == 1:
        offset, length = resolved[0]
        headers = {
            b"content-length": b"%d" % length,
            b"content-range": _content_range(offset, length, size),
        }
        return BodyPlan(http.PARTIAL_CONTENT, headers, [Part(b"", offset, length)])
    if boundary is None:
        boundary = os.urandom(12).hex().encode("ascii")
    parts = [
        Part(
            b"\r\n--%s\r\nContent-type: %s\r\nContent-range: %s\r\n\r\n"
            % (boundary, kind, _content_range(offset, length, size)),
            offset,
            length,
        )
        for offset, length in resolved
    ]
    trailer = b"\r\n--" + boundary + b"--\r\n"
    total = sum(len(p.prefix) + p.length for p in parts) + len(trailer)
    headers = {
        b"content-length": b"%d" % total,
        b"content-type": b'multipart/byteranges; boundary="%s"' % boundary,
    }
    return BodyPlan(http.PARTIAL_CONTENT, headers, parts, trailer)
