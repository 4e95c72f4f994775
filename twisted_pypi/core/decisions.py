# -*- test-case-name: tests.core.test_decisions -*-
"""
What the supply-chain policy decided: one log line per file each time its
decision changes, counts by rule (for the metrics), and the latest
decisions with their reasons (for the status page).

A page looked at again and again decides the same for its files: only a
change is logged and counted, so a page of a thousand files held back logs a
thousand lines once, not per request.  Refused downloads are counted each
time (they are requests), logged only on a change too.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable

from attrs import frozen
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger, LogLevel

from twisted_pypi.core.moments import format_moment
from twisted_pypi.core.policy import Decision, Rule

__all__ = [
    "DRY_RUN",
    "ENFORCED",
    "LATEST",
    "REMEMBERED",
    "Noted",
    "PolicyRecord",
]

log = Logger()

#: The mode of a decision that held a file back.
ENFORCED = "enforced"

#: The mode of a decision that only would have (``--policy-dry-run``).
DRY_RUN = "dry-run"

#: How many decisions the status page lists.
LATEST = 50

#: How many files' last decisions are remembered (to log only changes).
REMEMBERED = 100_000

#: ``(index, filename, snapshot moment or None)``.
_Key = tuple[str, str, float | None]


@frozen
class Noted:
    """
    A decision that held a file back (or would have), as the status page
    lists it.

    :ivar at: When it was taken (clock seconds).
    :ivar index: The index whose page lists the file.
    :ivar filename: The file.
    :ivar decision: What was decided and why.
    """

    at: float
    index: str
    filename: str
    decision: Decision


def _mode(decision: Decision) -> str:
    """The mode a held decision is counted under."""
    return ENFORCED if decision.enforced else DRY_RUN


class PolicyRecord:
    """
    The policy's decisions, as logged and counted.

    :ivar held: Files held back, each counted once per decision change, by
        ``(rule, mode)`` (mode :data:`ENFORCED` or :data:`DRY_RUN`).
    :ivar refused: Downloads refused (or that would have been), by ``(rule,
        mode)``.
    :ivar latest: The latest decisions that held a file back, newest last.
    """

    def __init__(
        self, clock: IReactorTime, latest: int = LATEST, remember: int = REMEMBERED
    ) -> None:
        """
        :param clock: Gives the time of each decision.
        :param latest: How many decisions :attr:`latest` keeps.
        :param remember: How many files' last decisions are remembered.
        """
        self._clock = clock
        self._remember = remember
        self._last: OrderedDict[_Key, str] = OrderedDict()
        self.held: dict[tuple[str, str], int] = {}
        self.refused: dict[tuple[str, str], int] = {}
        self.latest: deque[Noted] = deque(maxlen=latest)

    def decided(
        self,
        decisions: Iterable[tuple[str, str, Decision]],
        snapshot: float | None = None,
    ) -> None:
        """
        Note the decisions taken for the files of a page.

        :param decisions: ``(index, filename, decision)`` for each file.
        :param snapshot: The snapshot the page was looked at, if any.
        """
        for index, filename, decision in decisions:
            self._note((index, filename, snapshot), decision)

    def download(
        self,
        index: str,
        filename: str,
        decision: Decision,
        snapshot: float | None = None,
    ) -> None:
        """
        Note the decision taken for a file asked for directly.

        :param index: The index whose page lists the file.
        :param filename: The file (or its ``.metadata``) asked for.
        :param decision: What was decided.
        :param snapshot: The snapshot it was asked under, if any.
        """
        if decision.rule is not None:
            key = (decision.rule.value, _mode(decision))
            self.refused[key] = self.refused.get(key, 0) + 1
        self._note((index, filename, snapshot), decision)

    def _note(self, key: _Key, decision: Decision) -> None:
        """
        Log, count and list a decision if it differs from the last one for
        the same file.
        """
        message = decision.message
        if decision.rule is None:
            was = self._last.pop(key, None)
            if was is not None:
                log.info(
                    "Policy: {index} {filename}: served (was {was})",
                    index=key[0],
                    filename=key[1],
                    was=was,
                )
            return
        if self._last.get(key) == message:
            return
        self._last[key] = message
        if len(self._last) > self._remember:
            self._last.popitem(last=False)
        count = (decision.rule.value, _mode(decision))
        self.held[count] = self.held.get(count, 0) + 1
        self.latest.append(Noted(self._clock.seconds(), key[0], key[1], decision))
        level = LogLevel.debug if decision.rule is Rule.SNAPSHOT else LogLevel.info
        log.emit(
            level,
            "Policy: {index} {filename}: {decision}{snapshot}",
            index=key[0],
            filename=key[1],
            decision=message,
            snapshot=(
                f" (snapshot {format_moment(key[2])})"
                if key[2] is not None and decision.rule is not Rule.SNAPSHOT
                else ""
            ),
        )
