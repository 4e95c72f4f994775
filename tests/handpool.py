"""
A thread pool run by hand, as a :data:`~twisted_pypi.core.runner.Runner`:
each piece of work waits until the test runs it, as a pool thread would
later, so a test sees what happens while the work is away.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred

__all__ = ["HandPool"]


class HandPool:
    """
    Takes work and runs it when told.

    :ivar waiting: The work not run yet, with the Deferred of each.
    """

    def __init__(self) -> None:
        self.waiting: list[tuple[Callable[[], Any], Deferred[Any]]] = []

    def __call__(self, work: Callable[[], Any]) -> Deferred[Any]:
        """Take ``work``, to be run later."""
        done: Deferred[Any] = Deferred()
        self.waiting.append((work, done))
        return done

    def run_one(self) -> None:
        """Run the oldest waiting work, and fire its Deferred with the outcome."""
        work, done = self.waiting.pop(0)
        try:
            result = work()
        except BaseException as e:
            done.errback(e)
        else:
            done.callback(result)
