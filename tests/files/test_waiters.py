"""
Tests for :mod:`twisted_pypi.files.waiters`: one event, many waiters, each
with a Deferred of its own.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.files.waiters import fire, observe


class WaitersTests(SynchronousTestCase):
    """
    :func:`observe` and :func:`fire`.
    """

    def test_each_waiter_gets_the_result(self) -> None:
        """
        Firing gives every waiter the result in a Deferred of its own, and
        forgets them all.
        """
        waiters: list[Deferred[int]] = []
        first, second = observe(waiters), observe(waiters)
        self.assertIsNot(first, second)
        self.assertEqual(waiters, [first, second])
        fire(waiters, 7)
        self.assertEqual(self.successResultOf(first), 7)
        self.assertEqual(self.successResultOf(second), 7)
        self.assertEqual(waiters, [])

    def test_callbacks_do_not_leak(self) -> None:
        """
        A callback changing one waiter's result leaves the others' alone.
        """
        waiters: list[Deferred[int]] = []
        first, second = observe(waiters), observe(waiters)
        first.addCallback(lambda n: n + 1)
        fire(waiters, 1)
        self.assertEqual(self.successResultOf(first), 2)
        self.assertEqual(self.successResultOf(second), 1)

    def test_failure(self) -> None:
        """
        Firing with a failure fails every waiter with it.
        """
        waiters: list[Deferred[int]] = []
        first, second = observe(waiters), observe(waiters)
        fire(waiters, Failure(ValueError("gone")))
        self.failureResultOf(first, ValueError)
        self.failureResultOf(second, ValueError)

    def test_cancel_one(self) -> None:
        """
        Cancelling a waiter removes it; the others still get the result.
        """
        waiters: list[Deferred[int]] = []
        first, second = observe(waiters), observe(waiters)
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.assertEqual(waiters, [second])
        fire(waiters, 3)
        self.assertEqual(self.successResultOf(second), 3)
