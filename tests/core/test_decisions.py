"""
Tests for :mod:`twisted_pypi.core.decisions`: the policy's decisions logged
once per change, counted by rule and listed for the status page.
"""

from __future__ import annotations

from typing import cast

from twisted.internet.task import Clock
from twisted.logger import (
    ILogObserver,
    LogEvent,
    LogLevel,
    formatEvent,
    globalLogPublisher,
)
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.decisions import DRY_RUN, ENFORCED, PolicyRecord
from twisted_pypi.core.policy import SERVED, Decision, Rule

YOUNG = Decision(Rule.MIN_AGE, "uploaded 2026-12-07T10:00Z, younger than --min-age 7d")
DENIED = Decision(Rule.DENY, "denied by --deny 'demo'", enforced=False)


class RecordTests(SynchronousTestCase):
    """
    :class:`PolicyRecord`.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.record = PolicyRecord(self.clock, latest=3, remember=4)
        self.events: list[LogEvent] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def lines(self) -> list[str]:
        """The policy's log lines so far."""
        return [
            formatEvent(e) for e in self.events if "Policy:" in e.get("log_format", "")
        ]

    def test_once_per_change(self) -> None:
        """
        A page looked at again with the same decisions logs and counts
        nothing more; a file that is served again after being held back
        says so once.
        """
        page = [("pypi", "demo-2.0.whl", YOUNG), ("pypi", "demo-1.0.whl", SERVED)]
        for _ in range(3):
            self.record.decided(page)
        self.assertEqual(
            self.lines(),
            [
                "Policy: pypi demo-2.0.whl: held back: uploaded 2026-12-07T10:00Z,"
                " younger than --min-age 7d"
            ],
        )
        self.assertEqual(self.record.held, {("min-age", ENFORCED): 1})
        self.record.decided([("pypi", "demo-2.0.whl", SERVED)])
        self.record.decided([("pypi", "demo-2.0.whl", SERVED)])
        self.assertEqual(len(self.lines()), 2)
        self.assertIn("demo-2.0.whl: served (was held back:", self.lines()[1])

    def test_modes_and_downloads(self) -> None:
        """
        Dry-run decisions are counted apart; every refused download is
        counted, logged only when the decision is new.
        """
        self.record.decided([("-", "demo", DENIED)])
        self.record.download("pypi", "demo-1.0.whl", YOUNG)
        self.record.download("pypi", "demo-1.0.whl", YOUNG)
        self.record.download("pypi", "demo-0.9.whl", SERVED)
        self.assertEqual(
            self.record.held, {("deny", DRY_RUN): 1, ("min-age", ENFORCED): 1}
        )
        self.assertEqual(self.record.refused, {("min-age", ENFORCED): 2})
        self.assertEqual(len(self.lines()), 2)
        self.assertIn("would be held back: denied", self.lines()[0])

    def test_snapshots_apart(self) -> None:
        """
        A decision under a snapshot is remembered apart from the one without
        (and logged at debug level when the snapshot holds the file back).
        """
        gone = Decision(Rule.SNAPSHOT, "uploaded X, after snapshot Y")
        self.record.decided([("pypi", "a.whl", YOUNG)])
        self.record.decided([("pypi", "a.whl", gone)], snapshot=100.0)
        self.record.decided([("pypi", "a.whl", YOUNG)])
        levels = [e["log_level"] for e in self.events if "Policy:" in e["log_format"]]
        self.assertEqual(levels, [LogLevel.info, LogLevel.debug])

    def test_latest_and_bounds(self) -> None:
        """
        The latest decisions are kept, newest last, up to the limit, with
        their time; the files remembered are bounded too (the oldest
        forgotten, so it is logged again).
        """
        for n in range(6):
            self.clock.advance(1)
            self.record.decided([("pypi", f"f{n}.whl", YOUNG)])
        self.assertEqual(
            [(n.at, n.filename) for n in self.record.latest],
            [(4.0, "f3.whl"), (5.0, "f4.whl"), (6.0, "f5.whl")],
        )
        self.record.decided([("pypi", "f0.whl", YOUNG)])
        self.assertEqual(len(self.lines()), 7)
