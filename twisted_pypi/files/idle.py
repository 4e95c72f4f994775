# -*- test-case-name: tests.files.test_idle -*-
"""
The idle timer of a download in flight (see :mod:`twisted_pypi.files.flight`):
an upstream that sends nothing for a while is given up on, unless the
download paused it (for a lagging follower), when its silence is ours.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import define, field
from twisted.internet.interfaces import IDelayedCall, IReactorTime

__all__ = ["IdleTimer"]


@define(eq=False)
class IdleTimer:
    """
    Calls ``on_idle`` once the timer ran ``timeout`` seconds without being
    reset; stopped, it waits for :meth:`start`.

    :ivar timeout: The seconds of silence allowed.
    """

    _clock: IReactorTime
    timeout: float
    _on_idle: Callable[[], None]
    _call: IDelayedCall | None = field(default=None, init=False)

    def start(self) -> None:
        """Start the timer from now, unless it runs already."""
        if self._call is None:
            self._call = self._clock.callLater(self.timeout, self._ran_out)

    def reset(self) -> None:
        """Something was heard: if the timer runs, count from now again."""
        if self._call is not None:
            self._call.reset(self.timeout)

    def stop(self) -> None:
        """Stop the timer, if it runs."""
        if self._call is not None:
            self._call.cancel()
            self._call = None

    def _ran_out(self) -> None:
        """The timeout passed in silence."""
        self._call = None
        self._on_idle()
