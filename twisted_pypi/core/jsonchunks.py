# -*- test-case-name: tests.core.test_jsonchunks -*-
"""
JSON of many megabytes read and written in small steps.

``json.loads`` and ``json.dumps`` of a 20 MB page are single C calls that
hold the GIL for a tenth of a second or more: run in a worker thread, they
still stop the reactor thread for that long.  Here the arrays directly
under the top-level object (a page's ``files``, the list's ``projects``)
are decoded one item at a time with the standard library's own scanner
(:meth:`json.JSONDecoder.raw_decode`) and encoded a slice at a time, so the
GIL changes hands between items; the results are exactly those of
``json.loads`` and of ``json.dumps`` with compact separators.

Each item can be converted as soon as it is decoded (a file's object into
its record), so the decoded objects of a whole page never exist at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from json.encoder import encode_basestring_ascii
from typing import Any

__all__ = ["SLICE", "dumps_array", "encode_string", "join_array", "loads_object"]

#: How many array items one encoding step takes.
SLICE = 256

_DECODER = json.JSONDecoder()
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_SPACE = re.compile(r"[ \t\n\r]*")

#: A string as compact ASCII JSON (the standard library's C encoder).
encode_string: Callable[[str], str] = encode_basestring_ascii


def _skip(text: str, pos: int) -> int:
    """:return: The position of the first non-whitespace at or after ``pos``."""
    match = _SPACE.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _fail(text: str, pos: int, what: str) -> json.JSONDecodeError:
    """:return: The error ``json.loads`` would give, more or less."""
    return json.JSONDecodeError(what, text, pos)


def _array(
    text: str, pos: int, convert: Callable[[Any], Any] | None
) -> tuple[list[Any], int]:
    """
    Decode the array starting at ``text[pos]`` (a ``[``) item by item.

    :return: The items (converted) and the position after the array.
    """
    items: list[Any] = []
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        return items, pos + 1
    while True:
        value, pos = _DECODER.raw_decode(text, pos)
        items.append(value if convert is None else convert(value))
        pos = _skip(text, pos)
        if text.startswith("]", pos):
            return items, pos + 1
        if not text.startswith(",", pos):
            raise _fail(text, pos, "Expecting ',' delimiter")
        pos = _skip(text, pos + 1)


def loads_object(
    body: bytes, convert: dict[str, Callable[[Any], Any]] | None = None
) -> Any:
    """
    ``json.loads(body)``, decoding the arrays directly under a top-level
    object one item at a time.

    :param body: A JSON document (UTF-8, -16 or -32, as ``json.loads``
        reads).
    :param convert: Top-level keys whose array items are passed, one by
        one as they are decoded, through the given function; the array
        holds what it returns.
    :return: The decoded document.
    :raise ValueError: If it is not valid JSON (a
        :class:`json.JSONDecodeError`, or a ``UnicodeDecodeError``).
    """
    text = body.decode(json.detect_encoding(body), "surrogatepass")
    convert = convert or {}
    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        return json.loads(text)
    result: dict[str, Any] = {}
    pos = _skip(text, pos + 1)
    if text.startswith("}", pos):
        pos += 1
    else:
        while True:
            if not text.startswith('"', pos):
                raise _fail(text, pos, "Expecting property name")
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if not text.startswith(":", pos):
                raise _fail(text, pos, "Expecting ':' delimiter")
            pos = _skip(text, pos + 1)
            if text.startswith("[", pos):
                result[key], pos = _array(text, pos, convert.get(key))
            else:
                result[key], pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text.startswith("}", pos):
                pos += 1
                break
            if not text.startswith(",", pos):
                raise _fail(text, pos, "Expecting ',' delimiter")
            pos = _skip(text, pos + 1)
    if _skip(text, pos) != len(text):
        raise _fail(text, pos, "Extra data")
    return result


def _slices(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """:return: ``items`` in lists of ``size`` (the last may be shorter)."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def dumps_array(items: Iterable[Any], size: int = SLICE) -> str:
    """
    ``json.dumps(list(items), separators=(",", ":"))``, a slice at a time.

    :param items: JSON-serialisable values; consumed lazily, so each can be
        made just before it is encoded.
    :param size: How many items one step encodes.
    :return: The compact JSON array.
    """
    return (
        "["
        + ",".join(_ENCODER.encode(chunk)[1:-1] for chunk in _slices(items, size))
        + "]"
    )


def join_array(encoded: Iterable[str], size: int = SLICE) -> str:
    """
    A JSON array of items already encoded, joined a slice at a time.

    :param encoded: Each item's JSON.
    :param size: How many items one step joins.
    :return: The compact JSON array.
    """
    return "[" + ",".join(",".join(chunk) for chunk in _slices(encoded, size)) + "]"
