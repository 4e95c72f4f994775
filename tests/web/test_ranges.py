"""
Tests for :mod:`twisted_pypi.web.ranges`: which bytes a response to a
``Range`` request carries.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.web.ranges import (
    ContentRange,
    Part,
    parse_content_range,
    parse_ranges,
    plan_body,
    range_header,
    resolve_range,
    single_range,
)

KIND = b"application/zip"


class ParseTests(SynchronousTestCase):
    """
    :func:`parse_ranges`.
    """

    def test_forms(self) -> None:
        """Closed, open and suffix ranges, with spaces and empty items."""
        self.assertEqual(
            parse_ranges(b"bytes= 0-9, 20- ,,-5"),
            [(0, 9), (20, None), (None, 5)],
        )

    def test_unit_case_insensitive(self) -> None:
        """The unit is matched without regard to case."""
        self.assertEqual(parse_ranges(b"Bytes=1-2"), [(1, 2)])

    def test_malformed(self) -> None:
        """Malformed headers and other units are refused."""
        for header in (
            b"bytes",
            b"lines=1-2",
            b"bytes=",
            b"bytes=5",
            b"bytes=-",
            b"bytes=9-1",
            b"bytes=a-b",
            b"bytes=+1-2",
        ):
            self.assertRaises(ValueError, parse_ranges, header)


class PlanTests(SynchronousTestCase):
    """
    :func:`plan_body` for a file of ten bytes.
    """

    def test_no_range(self) -> None:
        """Without a range: 200, the whole file, its length."""
        plan = plan_body(None, 10, KIND)
        self.assertEqual(plan.code, 200)
        self.assertEqual(plan.parts, [Part(b"", 0, 10)])
        self.assertEqual(plan.headers, {b"content-length": b"10"})

    def test_malformed_ignored(self) -> None:
        """A malformed range is ignored: the whole file."""
        self.assertEqual(plan_body(b"bytes=x", 10, KIND).code, 200)

    def test_single(self) -> None:
        """One range: 206 with its Content-Range and length."""
        plan = plan_body(b"bytes=2-5", 10, KIND)
        self.assertEqual(plan.code, 206)
        self.assertEqual(plan.parts, [Part(b"", 2, 4)])
        self.assertEqual(
            plan.headers,
            {b"content-length": b"4", b"content-range": b"bytes 2-5/10"},
        )

    def test_clipping(self) -> None:
        """An end past the file is clipped; a long suffix is the whole file."""
        self.assertEqual(plan_body(b"bytes=8-100", 10, KIND).parts, [Part(b"", 8, 2)])
        self.assertEqual(plan_body(b"bytes=-50", 10, KIND).parts, [Part(b"", 0, 10)])
        self.assertEqual(plan_body(b"bytes=-3", 10, KIND).parts, [Part(b"", 7, 3)])

    def test_unsatisfiable(self) -> None:
        """
        Ranges that all start past the end, an empty suffix, or any range of
        an empty file answer 416 with ``bytes */size`` and no body.
        """
        for header, size in [
            (b"bytes=10-20", 10),
            (b"bytes=10-11,20-", 10),
            (b"bytes=-0", 10),
            (b"bytes=0-", 0),
        ]:
            plan = plan_body(header, size, KIND)
            self.assertEqual(plan.code, 416, header)
            self.assertEqual(plan.parts, [])
            self.assertEqual(
                plan.headers,
                {b"content-length": b"0", b"content-range": b"bytes */%d" % size},
            )

    def test_multiple(self) -> None:
        """
        Several ranges: a multipart/byteranges 206 whose parts each carry
        their type and range, the unsatisfiable ones dropped, and whose
        length counts every byte sent.
        """
        plan = plan_body(b"bytes=0-1,4-5,50-", 10, KIND, boundary=b"B")
        self.assertEqual(plan.code, 206)
        self.assertEqual(
            plan.parts,
            [
                Part(
                    b"\r\n--B\r\nContent-type: application/zip\r\n"
                    b"Content-range: bytes 0-1/10\r\n\r\n",
                    0,
                    2,
                ),
                Part(
                    b"\r\n--B\r\nContent-type: application/zip\r\n"
                    b"Content-range: bytes 4-5/10\r\n\r\n",
                    4,
                    2,
                ),
            ],
        )
        self.assertEqual(plan.trailer, b"\r\n--B--\r\n")
        length = sum(len(p.prefix) + p.length for p in plan.parts) + len(plan.trailer)
        self.assertEqual(
            plan.headers,
            {
                b"content-length": b"%d" % length,
                b"content-type": b'multipart/byteranges; boundary="B"',
            },
        )

    def test_random_boundaries(self) -> None:
        """Without a boundary given, each multipart answer gets a fresh one."""
        first = plan_body(b"bytes=0-1,4-5", 10, KIND).trailer
        second = plan_body(b"bytes=0-1,4-5", 10, KIND).trailer
        self.assertNotEqual(first, second)


class SingleRangeTests(SynchronousTestCase):
    """
    :func:`single_range`, :func:`range_header` and :func:`resolve_range`:
    one range of a file the proxy does not hold.
    """

    def test_one_range(self) -> None:
        """A header with one range gives it, in each of its forms."""
        self.assertEqual(single_range(b"bytes=2-5"), (2, 5))
        self.assertEqual(single_range(b"bytes=7-"), (7, None))
        self.assertEqual(single_range(b"bytes=-3"), (None, 3))

    def test_not_one_range(self) -> None:
        """No header, a malformed one, or several ranges give ``None``."""
        for header in (None, b"bytes=9-1", b"lines=1-2", b"bytes=0-1,4-5"):
            self.assertIsNone(single_range(header), header)

    def test_header(self) -> None:
        """Each form of range is written back as a request header."""
        self.assertEqual(range_header((2, 5)), b"bytes=2-5")
        self.assertEqual(range_header((7, None)), b"bytes=7-")
        self.assertEqual(range_header((None, 3)), b"bytes=-3")
        self.assertEqual(parse_ranges(range_header((0, 0))), [(0, 0)])

    def test_resolve(self) -> None:
        """
        A range resolves to ``(offset, length)`` in a file of a given size:
        the end clipped, a suffix counted from the end; ``None`` past it.
        """
        self.assertEqual(resolve_range((2, 5), 10), (2, 4))
        self.assertEqual(resolve_range((8, 100), 10), (8, 2))
        self.assertEqual(resolve_range((None, 3), 10), (7, 3))
        self.assertEqual(resolve_range((None, 50), 10), (0, 10))
        self.assertIsNone(resolve_range((10, None), 10))
        self.assertIsNone(resolve_range((None, 0), 10))


class ContentRangeTests(SynchronousTestCase):
    """
    :func:`parse_content_range` and :meth:`ContentRange.answers`: checking
    an upstream's answer to a range request.
    """

    def test_parse(self) -> None:
        """A range of a known or unknown size, or none of a known size."""
        self.assertEqual(
            parse_content_range(b"bytes 0-99/1234"), ContentRange(0, 99, 1234)
        )
        self.assertEqual(parse_content_range(b"Bytes 5-5/*"), ContentRange(5, 5, None))
        self.assertEqual(
            parse_content_range(b"bytes */1234"), ContentRange(None, None, 1234)
        )

    def test_malformed(self) -> None:
        """Anything else is ``None``."""
        for value in (
            None,
            b"",
            b"bytes",
            b"bytes 0-99",
            b"bytes */*",
            b"bytes 9-1/10",
            b"bytes -1-5/10",
            b"bytes 1-/10",
            b"lines 0-1/10",
            b"bytes 0-1/ten",
        ):
            self.assertIsNone(parse_content_range(value), value)

    def test_answers_resolved(self) -> None:
        """
        With the size given, the answer must be the range resolved in it:
        clipped at the end, a suffix from the end.
        """
        self.assertTrue(ContentRange(2, 5, 10).answers((2, 5)))
        self.assertTrue(ContentRange(8, 9, 10).answers((8, 100)))
        self.assertTrue(ContentRange(7, 9, 10).answers((None, 3)))
        self.assertTrue(ContentRange(4, 9, 10).answers((4, None)))
        self.assertFalse(ContentRange(0, 9, 10).answers((2, 5)))
        self.assertFalse(ContentRange(2, 4, 10).answers((2, 5)))
        self.assertFalse(ContentRange(6, 9, 10).answers((None, 3)))
        self.assertFalse(ContentRange(2, 10, 10).answers((2, 10)))

    def test_answers_unknown_size(self) -> None:
        """
        With the size unknown, only exactly the closed range asked for
        will do; an unsatisfiable answer never does.
        """
        self.assertTrue(ContentRange(2, 5, None).answers((2, 5)))
        self.assertFalse(ContentRange(2, 5, None).answers((2, None)))
        self.assertFalse(ContentRange(7, 9, None).answers((None, 3)))
        self.assertFalse(ContentRange(None, None, 10).answers((2, 5)))
