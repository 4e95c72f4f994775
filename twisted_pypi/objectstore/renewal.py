# -*- test-case-name: tests.objectstore.test_renewal -*-
"""
Keeping a :class:`~twisted_pypi.objectstore.signing.Signer`'s credentials
fresh: credentials that expire (an instance role's, an assumed role's) are
renewed before they do, in the thread pool (renewing asks a metadata
service or STS, and blocks), while requests go on being signed with the
current snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pypi.objectstore.signing import Signer

__all__ = ["RENEWAL_CHECK", "CredentialRenewal"]

_log = Logger()

#: Seconds between two checks of whether the credentials expire soon
#: (botocore says so 15 minutes before they do).
RENEWAL_CHECK = 60.0


class CredentialRenewal(Service):
    """
    While running, checks every :data:`RENEWAL_CHECK` seconds whether the
    signer's credentials expire soon, and if so renews them in the runner
    (one renewal at a time; a failure is logged and tried again at the
    next check).
    """

    def __init__(
        self,
        signer: Signer,
        run: Callable[[Callable[[], Any]], Deferred[Any]],
        clock: IReactorTime,
        interval: float = RENEWAL_CHECK,
    ) -> None:
        """
        :param signer: Whose credentials to keep fresh.
        :param run: Runs the blocking renewal away from the reactor.
        :param clock: Schedules the checks.
        :param interval: Seconds between checks.
        """
        self._signer = signer
        self._run = run
        self._interval = interval
        self._loop = LoopingCall(self.check)
        self._loop.clock = clock
        self._renewing: Deferred[Any] | None = None

    def startService(self) -> None:
        """Check now, then every interval."""
        super().startService()
        self._loop.start(self._interval, now=True)

    def stopService(self) -> None:
        """Stop checking (a renewal under way finishes in its thread)."""
        super().stopService()
        if self._loop.running:
            self._loop.stop()

    def check(self) -> None:
        """Renew the credentials in the runner if they expire soon."""
        if self._renewing is not None or not self._signer.needs_refresh():
            return
        renewing = self._run(self._signer.refresh)
        self._renewing = renewing
        renewing.addCallbacks(self._renewed, self._failed)

    def _renewed(self, ignored: object) -> None:
        """A renewal ended well."""
        self._renewing = None
        _log.info(
            "Renewed the credentials of the store ({signer!r})", signer=self._signer
        )

    def _failed(self, reason: Failure) -> None:
        """A renewal failed: say so (no secret is in the message)."""
        self._renewing = None
        _log.warn(
            "Cannot renew the credentials of the store: {error}; trying again"
            " in {interval:g} s",
            error=reason.getErrorMessage(),
            interval=self._interval,
        )
