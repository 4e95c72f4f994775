"""
Tests for ``tests/conftest.py``: the block that lists skipped tests.
"""

from __future__ import annotations

from typing import Any, cast

from _pytest.reports import TestReport
from _pytest.terminal import TerminalReporter
from twisted.trial.unittest import SynchronousTestCase

from tests.conftest import pytest_terminal_summary, skip_reason


def skipped(nodeid: str, reason: str) -> TestReport:
    """
    The report of a test skipped for ``reason``, as pytest makes it.
    """
    return TestReport(
        nodeid, ("tests/x.py", 3, "X.test"), {}, "skipped",
        ("tests/x.py", 3, f"Skipped: {reason}"), "call",
    )  # fmt: skip


class Reporter:
    """
    What the hook uses of pytest's terminal reporter: the results so far,
    and the lines written.
    """

    def __init__(self, stats: dict[str, list[Any]]) -> None:
        """:param stats: The results, by outcome."""
        self.stats = stats
        self.written: list[str] = []

    def section(self, title: str, sep: str = "=", **markup: bool) -> None:
        """Write a section title."""
        self.written.append(f"{sep * 3} {title} {sep * 3}")

    def line(self, text: str, **markup: bool) -> None:
        """Write a line."""
        self.written.append(text)


def summary(stats: dict[str, list[Any]]) -> list[str]:
    """
    The lines the hook writes for ``stats``.
    """
    reporter = Reporter(stats)
    pytest_terminal_summary(cast(TerminalReporter, reporter), 0, cast(Any, None))
    return reporter.written


class SkipSummaryTests(SynchronousTestCase):
    """
    The skipped tests' block.
    """

    def test_reason(self) -> None:
        """
        A skip's reason is the one given, without pytest's prefix.
        """
        self.assertEqual(
            skip_reason(skipped("a", "nginx is not installed")),
            "nginx is not installed",
        )

    def test_every_skip_listed(self) -> None:
        """
        Each skipped test is named with its reason under a title that counts
        them.
        """
        written = summary(
            {
                "skipped": [
                    skipped("tests/a.py::A::test_one", "nginx is not installed"),
                    skipped("tests/b.py::B::test_two", "uv is not installed"),
                ],
                "passed": [],
            }
        )
        self.assertIn("2 TEST(S) SKIPPED", written[0])
        self.assertEqual(
            written[1:3],
            [
                "SKIPPED tests/a.py::A::test_one: nginx is not installed",
                "SKIPPED tests/b.py::B::test_two: uv is not installed",
            ],
        )

    def test_nothing_skipped(self) -> None:
        """
        A run that skipped nothing gets no block.
        """
        self.assertEqual(summary({"passed": []}), [])
