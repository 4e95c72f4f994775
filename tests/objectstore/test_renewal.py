"""
Tests for :mod:`twisted_pypi.objectstore.renewal`: expiring credentials
renewed in the runner before they expire.
"""

from __future__ import annotations

from typing import Any

from attrs import define
from botocore.credentials import ReadOnlyCredentials
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from tests.runnerguard import RecordingRunner
from twisted_pypi.objectstore.renewal import RENEWAL_CHECK, CredentialRenewal
from twisted_pypi.objectstore.signing import Signer


@define
class ExpiringCredentials:
    """
    Credentials that say when they need renewing, and count renewals
    (made only inside the runner).

    :ivar runner: The runner renewals must come through.
    :ivar expiring: What ``refresh_needed`` answers.
    :ivar fail: Make a renewal fail.
    :ivar generation: The number in the access key (one more per renewal).
    """

    runner: RecordingRunner
    expiring: bool = False
    fail: bool = False
    generation: int = 0
    snapshots: int = 0

    def refresh_needed(self) -> bool:
        """Whether they expire soon."""
        return self.expiring

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        """A snapshot; renewed (blocking) if they expire soon."""
        self.snapshots += 1
        if self.expiring:
            assert self.runner.inside, "renewed outside the runner"
            if self.fail:
                raise RuntimeError("the metadata service timed out")
            self.generation += 1
            self.expiring = False
        return ReadOnlyCredentials(f"AK{self.generation}", "secret", None)


class RenewalTests(SynchronousTestCase):
    """
    :class:`CredentialRenewal`.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.runner = RecordingRunner()
        self.credentials = ExpiringCredentials(self.runner)
        self.signer = Signer(self.credentials)  # type: ignore[arg-type]
        self.renewal = CredentialRenewal(self.signer, self.runner, self.clock)
        self.renewal.startService()
        self.addCleanup(self.renewal.stopService)

    def test_renewed_when_expiring(self) -> None:
        """
        Credentials that do not expire soon are left alone; once they do,
        the next check renews them in the runner, and requests are signed
        with the new ones.
        """
        self.clock.advance(3 * RENEWAL_CHECK)
        self.assertEqual(self.runner.runs, 0)
        self.assertEqual(self.signer.access_key, "AK0")
        self.credentials.expiring = True
        self.clock.advance(RENEWAL_CHECK)
        self.assertEqual(self.runner.runs, 1)
        self.assertEqual(self.signer.access_key, "AK1")
        self.clock.advance(RENEWAL_CHECK)
        self.assertEqual(self.runner.runs, 1)

    def test_failure_logged_and_retried(self) -> None:
        """
        A renewal that fails is logged without a secret, the old snapshot
        is kept, and the next check tries again.
        """
        self.credentials.expiring = True
        self.credentials.fail = True
        with capturedLogs() as events:
            self.clock.advance(RENEWAL_CHECK)
        text = " ".join(formatEvent(e) for e in events)
        self.assertIn("Cannot renew the credentials", text)
        self.assertIn("the metadata service timed out", text)
        self.assertNotIn("secret", text)
        self.assertEqual(self.signer.access_key, "AK0")
        self.credentials.fail = False
        self.clock.advance(RENEWAL_CHECK)
        self.assertEqual(self.signer.access_key, "AK1")

    def test_one_renewal_at_a_time(self) -> None:
        """
        While a renewal runs (in a thread), checks start no other.
        """
        started: list[Deferred[Any]] = []

        def slow(work: Any) -> Deferred[Any]:
            """Keep the work; never run it."""
            d: Deferred[Any] = Deferred()
            started.append(d)
            return d

        clock = Clock()
        renewal = CredentialRenewal(self.signer, slow, clock)
        self.credentials.expiring = True
        renewal.startService()
        clock.advance(5 * RENEWAL_CHECK)
        renewal.stopService()
        self.assertEqual(len(started), 1)
        self.assertFalse(clock.getDelayedCalls())
