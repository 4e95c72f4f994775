"""
Tests for :mod:`twisted_pypi.sources.firstseen`.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.sources.firstseen import (
    first_seen_times,
    known_times,
    utc_stamp,
    with_first_seen,
)

NOW = "2026-03-04T05:06:07Z"
BEFORE = "2026-01-01T00:00:00Z"


def dist(filename: str, upload_time: str | None = None) -> DistFile:
    """
    A file of ``demo``'s page, with an upload time or none.
    """
    return DistFile(filename, f"https://files.test/{filename}", upload_time=upload_time)


PAGE = ProjectPage(
    "demo",
    files=(
        dist("demo-1.0.tar.gz"),
        dist("demo-2.0.tar.gz"),
        dist("demo-3.0.tar.gz", upload_time="2025-05-05T05:05:05.123456Z"),
    ),
)


class UtcStampTests(SynchronousTestCase):
    """
    :func:`utc_stamp` writes times as the model does.
    """

    def test_format(self) -> None:
        """
        A clock reading is written in ISO 8601, UTC, ending in ``Z``.
        """
        self.assertEqual(utc_stamp(1772600767.9), "2026-03-04T05:06:07Z")


class FirstSeenTimesTests(SynchronousTestCase):
    """
    :func:`first_seen_times` gives each file without an upload time its time.
    """

    def test_new_files_now(self) -> None:
        """
        With no previous record, every file without an upload time is first
        seen now, and counted as new; a file with one gets none.
        """
        times, new = first_seen_times(PAGE, {}, NOW)
        self.assertEqual(times, {"demo-1.0.tar.gz": NOW, "demo-2.0.tar.gz": NOW})
        self.assertEqual(new, 2)

    def test_previous_kept(self) -> None:
        """
        A file the previous record had keeps its time; files it no longer
        lists are dropped; only the others are new.
        """
        previous = {"demo-1.0.tar.gz": BEFORE, "gone-0.1.tar.gz": BEFORE}
        times, new = first_seen_times(PAGE, previous, NOW)
        self.assertEqual(times, {"demo-1.0.tar.gz": BEFORE, "demo-2.0.tar.gz": NOW})
        self.assertEqual(new, 1)

    def test_listed_twice(self) -> None:
        """
        A filename listed twice is given one time and counted once.
        """
        page = ProjectPage("demo", files=(dist("demo-1.0.tar.gz"),) * 2)
        self.assertEqual(first_seen_times(page, {}, NOW), ({"demo-1.0.tar.gz": NOW}, 1))


class WithFirstSeenTests(SynchronousTestCase):
    """
    :func:`with_first_seen` and :func:`known_times` carry the times between
    a record and its parsed page.
    """

    def test_sets_times(self) -> None:
        """
        Each file named gets its first-seen time; a file with an upload time
        never does, even if named.
        """
        times = {"demo-1.0.tar.gz": BEFORE, "demo-3.0.tar.gz": NOW}
        page = with_first_seen(PAGE, times)
        self.assertEqual([f.first_seen for f in page.files], [BEFORE, None, None])
        self.assertEqual(known_times(page), {"demo-1.0.tar.gz": BEFORE})

    def test_no_times(self) -> None:
        """
        Without times the page is returned as it is.
        """
        self.assertIs(with_first_seen(PAGE, {}), PAGE)
        self.assertEqual(known_times(PAGE), {})

    def test_not_part_of_equality(self) -> None:
        """
        A file's first-seen time is context: the file compares equal without
        it (it is not what the index said of the file).
        """
        page = with_first_seen(PAGE, {"demo-1.0.tar.gz": BEFORE})
        self.assertEqual(page.files[0], PAGE.files[0])
        self.assertNotIn(BEFORE, repr(page.files[0]))
