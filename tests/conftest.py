"""
Test-run settings shared by the whole suite: every skipped test is listed,
with its reason, in a marked block at the end of the run, so that a test
that did not run (a tool missing here, see ``scripts/test-deps``) cannot go
unnoticed.
"""

from __future__ import annotations

import pytest
from _pytest.reports import TestReport
from _pytest.terminal import TerminalReporter

__all__ = ["pytest_terminal_summary", "skip_reason"]


def skip_reason(report: TestReport) -> str:
    """
    Why a skipped test did not run.

    :param report: The test's report, a skip.
    :return: The reason given, without pytest's ``Skipped:`` prefix.
    """
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
    else:
        reason = str(longrepr)
    return reason.removeprefix("Skipped: ")


def pytest_terminal_summary(
    terminalreporter: TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """
    List every skipped test and why, in a block of its own.

    :param terminalreporter: Where the summary is written.
    :param exitstatus: The run's exit status.
    :param config: The run's configuration.
    """
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", ())
        if isinstance(report, TestReport)
    ]
    if not skipped:
        return
    terminalreporter.section(
        f"{len(skipped)} TEST(S) SKIPPED: they did not run", sep="!", yellow=True
    )
    for report in skipped:
        terminalreporter.line(
            f"SKIPPED {report.nodeid}: {skip_reason(report)}", yellow=True
        )
    terminalreporter.line(
        "(scripts/test-deps installs the tools these tests need where apt and "
        "root are available; tox runs it first)",
        yellow=True,
    )
