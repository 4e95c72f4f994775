"""
Tests for :mod:`twisted_pypi.core.jsonchunks`.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core import jsonchunks
from twisted_pypi.core.jsonchunks import dumps_array, join_array, loads_object

DOCUMENTS = [
    b'{"meta": {"api-version": "1.1"}, "files": [{"a": 1}, {"b": [2, 3]}], "x": 1}',
    b' \n{ "files" : [ ] , "name":"n" } \r\n',
    b"{}",
    b'{"files": [1, "two", null, true, 2.5, {"k": "\\u00e9"}]}',
    b'{"a": 1, "a": 2, "files": [[1], [2]]}',
    b"[1, 2, 3]",
    '{"name": "caf\u00e9", "files": ["\u2603"]}'.encode("utf-16"),
]

INVALID = [
    b'{"files": [1 2]}',
    b'{"files": [1,]}',
    b'{"a" 1}',
    b'{"a": 1 "b": 2}',
    b'{"a": 1} x',
    b"{1: 2}",
    b'{"files": [1',
    b"",
]


class LoadsTests(SynchronousTestCase):
    """
    Reading a JSON document item by item.
    """

    def test_same_as_json_loads(self) -> None:
        """
        Every document reads as ``json.loads`` reads it.
        """
        for body in DOCUMENTS:
            self.assertEqual(loads_object(body), json.loads(body), body)

    def test_invalid(self) -> None:
        """
        What ``json.loads`` rejects is rejected with a ``ValueError``.
        """
        for body in INVALID:
            with self.assertRaises(ValueError, msg=body):
                loads_object(body)

    def test_items_decoded_one_by_one(self) -> None:
        """
        The items of a top-level array are decoded by one scanner call each
        (between which the GIL can change hands), never the array whole.
        """
        calls: list[str] = []
        real = jsonchunks._DECODER

        class Counting:
            def raw_decode(self, text: str, pos: int) -> tuple[Any, int]:
                """Record what each call decodes."""
                value, end = real.raw_decode(text, pos)
                calls.append(text[pos:end])
                return value, end

        self.patch(jsonchunks, "_DECODER", Counting())
        body = json.dumps({"files": [{"n": i} for i in range(5)]}).encode()
        self.assertEqual(loads_object(body), json.loads(body))
        self.assertEqual(calls, ['"files"'] + [f'{{"n": {i}}}' for i in range(5)])

    def test_convert(self) -> None:
        """
        The items of the named arrays are passed through their function as
        they are read; other values are left as they are.
        """
        seen: list[object] = []

        def convert(item: object) -> object:
            seen.append(item)
            return str(item)

        body = b'{"files": [1, {"a": 2}], "other": [3]}'
        self.assertEqual(
            loads_object(body, {"files": convert}),
            {"files": ["1", "{'a': 2}"], "other": [3]},
        )
        self.assertEqual(seen, [1, {"a": 2}])


class DumpsTests(SynchronousTestCase):
    """
    Writing a JSON array a slice at a time.
    """

    def test_same_as_json_dumps(self) -> None:
        """
        The array is what ``json.dumps`` with compact separators gives, for
        any number of items around the slice size.
        """
        for count in (0, 1, 2, 3, 7):
            items = [{"n": i, "s": "\u00e9\ud800"} for i in range(count)]
            expected = json.dumps(items, separators=(",", ":"))
            self.assertEqual(dumps_array(items, size=3), expected)
            self.assertEqual(
                join_array((json.dumps(i, separators=(",", ":")) for i in items), 2),
                expected,
            )

    def test_made_lazily(self) -> None:
        """
        Items are taken from the iterable one slice at a time: no more than
        a slice is made ahead of what is encoded.
        """
        made: list[int] = []
        encoded: list[int] = []
        real = jsonchunks._ENCODER

        class Counting:
            def encode(self, chunk: list[int]) -> str:
                """Record how many items were made when a slice is encoded."""
                encoded.append(len(made))
                return real.encode(chunk)

        self.patch(jsonchunks, "_ENCODER", Counting())

        def items() -> Any:
            for i in range(5):
                made.append(i)
                yield i

        self.assertEqual(dumps_array(items(), size=2), "[0,1,2,3,4]")
        self.assertEqual(encoded, [2, 4, 5])
