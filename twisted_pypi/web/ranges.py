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

For files the proxy does not hold (see :mod:`~twisted_pypi.web.rangedfiles`)
there are also :func:`single_range` (the one range of a header),
:func:`resolve_range`, :func:`range_header` (a range as a request header)
and :func:`parse_content_range` (an upstream's answer to it).
"""

from __future__ import annotations

import os

from attrs import field, frozen
from twisted.web.http import OK, PARTIAL_CONTENT, REQUESTED_RANGE_NOT_SATISFIABLE

__all__ = [
    "BodyPlan",
    "ContentRange",
    "Part",
    "Spec",
    "parse_content_range",
    "parse_ranges",
    "plan_body",
    "range_header",
    "resolve_range",
    "single_range",
]

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


def resolve_range(spec: Spec, size: int) -> tuple[int, int] | None:
    """
    ``(offset, length)`` of a range in a file of ``size`` bytes, or
    ``None`` if it does not overlap the file.

    :param spec: The range, as the header gives it.
    :param size: The file's size.
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
    whole = BodyPlan(OK, {b"content-length": b"%d" % size}, [Part(b"", 0, size)])
    if header is None:
        return whole
    try:
        specs = parse_ranges(header)
    except ValueError:
        return whole
    resolved = [
        r for r in (resolve_range(spec, size) for spec in specs) if r is not None
    ]
    if not resolved:
        unsatisfiable = {
            b"content-length": b"0",
            b"content-range": b"bytes */%d" % size,
        }
        return BodyPlan(REQUESTED_RANGE_NOT_SATISFIABLE, unsatisfiable)
    if len(specs) == 1:
        offset, length = resolved[0]
        headers = {
            b"content-length": b"%d" % length,
            b"content-range": _content_range(offset, length, size),
        }
        return BodyPlan(PARTIAL_CONTENT, headers, [Part(b"", offset, length)])
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
    return BodyPlan(PARTIAL_CONTENT, headers, parts, trailer)


def single_range(header: bytes | None) -> Spec | None:
    """
    The range of a ``Range`` header that asks for exactly one.

    :param header: The header's value, or ``None``.
    :return: The range, or ``None`` when there is no header, it is
        malformed (to be ignored), or it asks for several ranges.
    """
    if header is None:
        return None
    try:
        specs = parse_ranges(header)
    except ValueError:
        return None
    return specs[0] if len(specs) == 1 else None


def range_header(spec: Spec) -> bytes:
    """
    A ``Range`` header asking for one range.

    :param spec: The range: ``(first, last)``, ``(first, None)`` or
        ``(None, suffix length)``.
    :return: Such as ``bytes=0-99``, ``bytes=100-`` or ``bytes=-50``.
    """
    first, last = spec
    return b"bytes=%s-%s" % (
        b"" if first is None else b"%d" % first,
        b"" if last is None else b"%d" % last,
    )


@frozen
class ContentRange:
    """
    A ``Content-Range`` header in bytes.

    :ivar first: The first byte sent, or ``None`` (``bytes */size``, with
        a 416).
    :ivar last: The last byte sent (inclusive), or ``None``.
    :ivar size: The whole file's size, or ``None`` (``*``: unknown).
    """

    first: int | None
    last: int | None
    size: int | None

    def answers(self, spec: Spec) -> bool:
        """
        Whether this is exactly the range ``spec`` asks for: that range
        resolved in :attr:`size` (clipped at the end, a suffix counted from
        it), or, the size unknown, ``first-last`` as asked.

        :param spec: The range asked for.
        """
        if self.first is None or self.last is None:
            return False
        if self.size is None:
            return spec == (self.first, self.last)
        if self.last >= self.size:
            return False
        resolved = resolve_range(spec, self.size)
        return resolved == (self.first, self.last - self.first + 1)


def parse_content_range(value: bytes | None) -> ContentRange | None:
    """
    Read a ``Content-Range`` header.

    :param value: Such as ``bytes 0-99/1234``, ``bytes 0-99/*`` or
        ``bytes */1234``; or ``None``.
    :return: It, or ``None`` if missing, malformed or in another unit.
    """
    if value is None:
        return None
    unit, _, rest = value.strip().partition(b" ")
    sent, slash, size_text = rest.strip().partition(b"/")
    if unit.lower() != b"bytes" or not slash:
        return None
    try:
        size = None if size_text == b"*" else _count(size_text)
        if sent == b"*":
            return None if size is None else ContentRange(None, None, size)
        first_text, _, last_text = sent.partition(b"-")
        first, last = _count(first_text), _count(last_text)
    except ValueError:
        return None
    if first > last:
        return None
    return ContentRange(first, last, size)


def _count(text: bytes) -> int:
    """
    A non-negative decimal number.

    :raise ValueError: If ``text`` is not one.
    """
    if not text.isdigit():
        raise ValueError(f"not a number: {text!r}")
    return int(text)
