"""
Tests for :mod:`twisted_pypi.storage.space`: what a full disk looks like,
and how it is reported.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from twisted_pypi.storage.interfaces import StoreFull
from twisted_pypi.storage.space import (
    QUIET,
    StoreSpace,
    ThreadedSpace,
    as_store_full,
    is_full_error,
    space_report,
)


def _full(code: int = errno.ENOSPC) -> OSError:
    """An error a write gets on a full disk (or quota)."""
    return OSError(code, "No space left on device")


class FullErrorTests(SynchronousTestCase):
    """
    :func:`is_full_error` and :func:`as_store_full`.
    """

    def test_full_errors(self) -> None:
        """A full disk and a full quota are full; other errors are not."""
        self.assertTrue(is_full_error(_full(errno.ENOSPC)))
        self.assertTrue(is_full_error(_full(errno.EDQUOT)))
        self.assertTrue(is_full_error(StoreFull("full")))
        self.assertFalse(is_full_error(OSError(errno.EIO, "I/O error")))
        self.assertFalse(is_full_error(ValueError("no")))

    def test_as_store_full(self) -> None:
        """
        A full error becomes a :class:`StoreFull` (an ``OSError``) with the
        same errno, chained to the original.
        """
        original = _full(errno.EDQUOT)
        full = as_store_full(original)
        self.assertIsInstance(full, StoreFull)
        self.assertIsInstance(full, OSError)
        self.assertEqual(full.errno, errno.EDQUOT)
        self.assertIs(full.__cause__, original)
        self.assertIs(as_store_full(full), full)


class StoreSpaceTests(SynchronousTestCase):
    """
    :class:`StoreSpace`.
    """

    def test_one_warning_per_episode(self) -> None:
        """
        However many writes find the disk full, one warning is logged (not
        a traceback); the time of the last one is kept.
        """
        clock = Clock()
        space = StoreSpace(clock)
        with capturedLogs() as events:
            for moment in (10.0, 20.0, 30.0):
                clock.advance(moment - clock.seconds())
                space.found_full("/cache/tmp/dl-1.part", _full())
        warnings = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertNotIn("log_failure", warnings[0])
        self.assertIn("disk is full", warnings[0]["log_format"])
        self.assertTrue(space.full)
        self.assertEqual(space.last_full, 30.0)
        self.assertEqual(space.last_error, "No space left on device")
        self.assertEqual(space.episodes, 1)

    def test_cleared_by_a_write(self) -> None:
        """
        A successful write clears the full state (logged once, as
        information) and keeps when it was last full; the next full disk is
        a new episode with a warning of its own.
        """
        clock = Clock()
        space = StoreSpace(clock)
        space.found_full("x", _full())
        with capturedLogs() as events:
            space.wrote()
            space.wrote()
        self.assertFalse(space.full)
        self.assertEqual(space.last_full, 0.0)
        self.assertEqual([e["log_level"] for e in events], [LogLevel.info])
        clock.advance(QUIET)
        with capturedLogs() as events:
            space.found_full("x", _full())
        self.assertEqual([e["log_level"] for e in events], [LogLevel.warn])
        self.assertEqual(space.episodes, 2)

    def test_flapping_is_quiet(self) -> None:
        """
        A disk found full again within :data:`QUIET` seconds of the last
        warning (evicting made a little room in between) is reported on the
        status (full, a new episode) but not warned of again.
        """
        clock = Clock()
        space = StoreSpace(clock)
        with capturedLogs() as events:
            space.found_full("x", _full())
            space.wrote()
            clock.advance(QUIET - 1)
            space.found_full("x", _full())
            space.wrote()
        levels = [e["log_level"] for e in events]
        self.assertEqual(levels, [LogLevel.warn, LogLevel.info])
        self.assertEqual(space.episodes, 2)
        self.assertEqual(space.last_full, QUIET - 1)

    def test_never_full(self) -> None:
        """A store no write found full says so, and writes log nothing."""
        space = StoreSpace(Clock())
        with capturedLogs() as events:
            space.wrote()
        self.assertEqual(events, [])
        self.assertEqual(
            (space.full, space.last_full, space.episodes), (False, None, 0)
        )


class ThreadedSpaceTests(SynchronousTestCase):
    """
    :class:`ThreadedSpace` and :func:`space_report`.
    """

    def test_handed_to_the_reactor_thread(self) -> None:
        """
        A report through a :class:`ThreadedSpace` reaches the space only
        when the reactor thread runs what was handed to it.
        """
        space = StoreSpace(Clock())
        handed: list[tuple[object, tuple[object, ...]]] = []
        threaded = ThreadedSpace(space, lambda f, *a: handed.append((f, a)))
        error = _full()
        threaded.found_full("/cache/pages/pypi/demo.page", error)
        self.assertFalse(space.full)
        with capturedLogs():
            for f, args in handed:
                f(*args)  # type: ignore[operator]
        self.assertTrue(space.full)
        handed.clear()
        threaded.wrote()
        with capturedLogs():
            for f, args in handed:
                f(*args)  # type: ignore[operator]
        self.assertFalse(space.full)

    def test_space_report(self) -> None:
        """
        With a reactor that has other threads, reports go through its
        ``callFromThread``; with a bare clock, straight to the space.
        """
        space = StoreSpace(Clock())
        self.assertIs(space_report(space, Clock()), space)
        reactor = ThreadsReactor()
        report = space_report(space, reactor)
        self.assertIsInstance(report, ThreadedSpace)
        report.wrote()
        self.assertEqual(reactor.calls, [space.wrote])


@implementer(IReactorFromThreads)
class ThreadsReactor:
    """
    A reactor that records what is handed to its thread.

    :ivar calls: The functions handed over, in order.
    """

    def __init__(self) -> None:
        self.calls: list[object] = []

    def callFromThread(
        self, callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> None:
        """Record ``callable``."""
        self.calls.append(callable)
