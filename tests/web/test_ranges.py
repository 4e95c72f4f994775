"""
Tests for :mod:`twisted_pypi.web.ranges`: which bytes a response to a
``Range`` request carries.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.web.ranges import Part, parse_ranges, plan_body

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
