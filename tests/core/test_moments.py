"""
Tests for :mod:`twisted_pypi.core.moments`: durations, upload times and
snapshot timestamps, read and written.
"""

from __future__ import annotations

import calendar

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.moments import (
    format_duration,
    format_moment,
    parse_duration,
    parse_moment,
    parse_snapshot,
    snapshot_text,
)

#: 2025-06-01T00:00:00Z.
JUNE = calendar.timegm((2025, 6, 1, 0, 0, 0))


class DurationTests(SynchronousTestCase):
    """
    ``--min-age`` durations.
    """

    def test_units(self) -> None:
        """
        Seconds, minutes, hours, days and weeks, in any case, with
        fractions; ``0`` alone needs no unit.
        """
        self.assertEqual(parse_duration("45s"), 45)
        self.assertEqual(parse_duration("90m"), 5400)
        self.assertEqual(parse_duration("36h"), 36 * 3600)
        self.assertEqual(parse_duration("7d"), 7 * 86400)
        self.assertEqual(parse_duration("7D"), 7 * 86400)
        self.assertEqual(parse_duration("2w"), 14 * 86400)
        self.assertEqual(parse_duration("1.5d"), 36 * 3600)
        self.assertEqual(parse_duration("0"), 0)
        self.assertEqual(parse_duration(" 0d "), 0)

    def test_refused(self) -> None:
        """
        A number without its unit (other than 0), an unknown unit, a
        negative or empty value is refused, saying how to write one.
        """
        for text in ("7", "7x", "-1d", "", "d", "1d2h"):
            with self.assertRaises(ValueError) as caught:
                parse_duration(text)
            self.assertIn("for example 7d, 36h or 90m", str(caught.exception))

    def test_format(self) -> None:
        """
        A duration is written in the largest unit that writes it whole, and
        reads back as itself.
        """
        for text, seconds in [
            ("7d", 7 * 86400),
            ("36h", 36 * 3600),
            ("90m", 5400),
            ("45s", 45),
        ]:
            self.assertEqual(format_duration(seconds), text)
            self.assertEqual(parse_duration(text), seconds)
        self.assertEqual(format_duration(1.5), "1.5s")


class MomentTests(SynchronousTestCase):
    """
    Upload times as indexes give them.
    """

    def test_pep700(self) -> None:
        """
        PyPI's ``upload-time`` (microseconds, ``Z``) is read to the
        microsecond; without fraction, seconds or offset too.
        """
        self.assertEqual(parse_moment("2025-06-01T00:00:01.250000Z"), JUNE + 1.25)
        self.assertEqual(parse_moment("2025-06-01T00:00:00Z"), JUNE)
        self.assertEqual(parse_moment("2025-06-01T00:00"), JUNE)
        self.assertEqual(parse_moment("2025-06-01 02:00:00+02:00"), JUNE)
        self.assertEqual(parse_moment("2025-06-01"), JUNE)

    def test_not_a_moment(self) -> None:
        """
        ``None``, text that is not a timestamp and a date that does not
        exist name no moment.
        """
        for text in (None, "", "yesterday", "2025-02-30T00:00:00Z", "2025-13-01"):
            self.assertIsNone(parse_moment(text))

    def test_format(self) -> None:
        """
        A moment is written in UTC to the minute, to the second when it has
        seconds.
        """
        self.assertEqual(format_moment(JUNE + 36000), "2025-06-01T10:00Z")
        self.assertEqual(format_moment(JUNE + 36005), "2025-06-01T10:00:05Z")


class SnapshotTests(SynchronousTestCase):
    """
    Snapshot timestamps (RFC 3339, UTC).
    """

    def test_forms(self) -> None:
        """
        A date is its first moment; a date-time takes ``Z`` or an offset,
        seconds and fractions optional.
        """
        self.assertEqual(parse_snapshot("2025-06-01"), JUNE)
        self.assertEqual(parse_snapshot("2025-06-01T12:00:00Z"), JUNE + 43200)
        self.assertEqual(parse_snapshot("2025-06-01T12:00Z"), JUNE + 43200)
        self.assertEqual(parse_snapshot("2025-06-01T14:00:00+02:00"), JUNE + 43200)
        self.assertEqual(parse_snapshot("2025-06-01T12:00:00.5Z"), JUNE + 43200.5)

    def test_refused(self) -> None:
        """
        Anything else is refused with a sentence saying what to write; a
        date-time without a zone is told to add ``Z``; an impossible date
        is named as such.
        """
        with self.assertRaises(ValueError) as caught:
            parse_snapshot("June")
        self.assertIn("2025-06-01T12:00:00Z", str(caught.exception))
        with self.assertRaises(ValueError) as caught:
            parse_snapshot("2025-06-01T12:00:00")
        self.assertIn("add Z", str(caught.exception))
        with self.assertRaises(ValueError) as caught:
            parse_snapshot("2025-02-30")
        self.assertIn("not a date that exists", str(caught.exception))

    def test_text(self) -> None:
        """
        :func:`snapshot_text` writes a moment in full, and it reads back as
        the same moment, fractions included.
        """
        self.assertEqual(snapshot_text(JUNE), "2025-06-01T00:00:00Z")
        self.assertEqual(snapshot_text(JUNE + 0.25), "2025-06-01T00:00:00.25Z")
        for moment in (JUNE, JUNE + 0.25, JUNE + 43261):
            self.assertEqual(parse_snapshot(snapshot_text(moment)), moment)
