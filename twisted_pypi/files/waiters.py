# -*- test-case-name: tests.files.test_download -*-
"""
One event, many waiters: each waiter gets a Deferred of its own (callbacks
change a Deferred's result, so one Deferred is never shared), and cancelling
one affects neither the others nor the event.
"""

from __future__ import annotations

from typing import TypeVar

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

__all__ = ["fire", "observe"]

_T = TypeVar("_T")


def observe(waiters: list[Deferred[_T]]) -> Deferred[_T]:
    """
    A new waiter.

    :param waiters: The waiters of one event.
    :return: A new Deferred, kept in ``waiters`` until fired or cancelled.
    """
    d: Deferred[_T] = Deferred(lambda d: waiters.remove(d) if d in waiters else None)
    waiters.append(d)
    return d


def fire(waiters: list[Deferred[_T]], result: _T | Failure) -> None:
    """
    Fire and forget every waiter.

    :param waiters: The waiters of one event; emptied.
    :param result: What each waiter's Deferred fires with (a failure fails
        them).
    """
    pending = waiters[:]
    del waiters[:]
    for d in pending:
        d.errback(result) if isinstance(result, Failure) else d.callback(result)
