"""
Tests for :mod:`twisted_pypi.files.idle`: the idle timer of a download.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.files.idle import IdleTimer

#: The seconds of silence the timer allows.
TIMEOUT = 30.0


class IdleTimerTests(SynchronousTestCase):
    """
    :class:`IdleTimer` on a :class:`Clock`.
    """

    def setUp(self) -> None:
        """A timer that counts how often it ran out."""
        self.clock = Clock()
        self.ran_out = 0
        self.timer = IdleTimer(self.clock, TIMEOUT, self.idle)

    def idle(self) -> None:
        """The timer ran out."""
        self.ran_out += 1

    def test_runs_out_once(self) -> None:
        """A started timer runs out after the timeout, once."""
        self.timer.start()
        self.clock.advance(TIMEOUT - 1)
        self.assertEqual(self.ran_out, 0)
        self.clock.advance(1)
        self.assertEqual(self.ran_out, 1)
        self.clock.advance(TIMEOUT * 2)
        self.assertEqual(self.ran_out, 1)

    def test_reset(self) -> None:
        """A reset counts the timeout from then."""
        self.timer.start()
        self.clock.advance(TIMEOUT - 1)
        self.timer.reset()
        self.clock.advance(TIMEOUT - 1)
        self.assertEqual(self.ran_out, 0)
        self.clock.advance(1)
        self.assertEqual(self.ran_out, 1)

    def test_reset_when_stopped(self) -> None:
        """A reset does not start a stopped timer."""
        self.timer.reset()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop(self) -> None:
        """A stopped timer never runs out, until started again."""
        self.timer.start()
        self.timer.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.clock.advance(TIMEOUT * 2)
        self.assertEqual(self.ran_out, 0)
        self.timer.start()
        self.clock.advance(TIMEOUT)
        self.assertEqual(self.ran_out, 1)

    def test_start_when_running(self) -> None:
        """Starting a running timer does not count from then."""
        self.timer.start()
        self.clock.advance(TIMEOUT - 1)
        self.timer.start()
        self.clock.advance(1)
        self.assertEqual(self.ran_out, 1)

    def test_start_after_running_out(self) -> None:
        """A timer that ran out can be started again."""
        self.timer.start()
        self.clock.advance(TIMEOUT)
        self.timer.start()
        self.clock.advance(TIMEOUT)
        self.assertEqual(self.ran_out, 2)
