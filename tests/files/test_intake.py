"""
Tests for :mod:`twisted_pypi.files.intake`: the upstream side of a download
(the request, the checks of the response and of the body, the idle timer),
on its own and through the downloads that clients follow (as in
:mod:`tests.files.test_download`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectError, ConnectionLost
from twisted.internet.task import Clock
from twisted.logger import LogEvent, LogLevel, capturedLogs
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import PotentialDataLoss, ResponseFailed
from twisted.web.iweb import IResponse

from tests.fakes import HandFedResponse
from tests.files.test_download import (
    DATA,
    IDLE,
    SEGMENTS,
    SHA256,
    URL,
    FakeUpstream,
    _Base,
)
from twisted_pypi.files.download import Downloads
from twisted_pypi.files.intake import Intake
from twisted_pypi.files.spec import FileSpec, State, UpstreamTimeout
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.upstream.stream import streaming


class IntakeTests(SynchronousTestCase):
    """
    An :class:`Intake` on its own, telling what happens to a list.
    """

    def setUp(self) -> None:
        """An intake of the default file, with one follower."""
        self.clock = Clock()
        self.cache = FileCache(FilePath(self.mktemp()), None, self.clock)
        self.cache.scan()
        self.upstream = FakeUpstream()
        self.told: list[object] = []
        self.intake = Intake(
            FileSpec(URL, SEGMENTS, len(DATA), {"sha256": SHA256}),
            self.cache,
            streaming(self.upstream.fetch),
            self.clock,
            IDLE,
            followed=lambda: 1,
            began=lambda: self.told.append("began"),
            received=lambda: self.told.append(self.intake.written),
            verified=lambda: self.told.append("verified"),
            failed=self.told.append,
        )

    def test_steps(self) -> None:
        """
        The download is told when the body begins, as each chunk is
        readable, and once the whole body came and was verified; the
        reservation for the file's size lasts until then.
        """
        self.intake.start()
        self.assertEqual(self.cache.reserved, len(DATA))
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        self.assertEqual(self.intake.expected_length, len(DATA))
        response.send(DATA[:24])
        response.send(DATA[24:])
        response.end()
        self.assertEqual(self.told, ["began", 24, len(DATA), "verified"])
        self.assertEqual(self.cache.reserved, 0)
        self.assertIsNotNone(self.intake.outlet.spool)

    def test_stop(self) -> None:
        """
        Stopping the intake cancels the upstream request, releases the
        reservation and the idle timer.
        """
        self.intake.start()
        self.intake.stop()
        self.assertEqual(self.upstream.cancelled, [URL])
        self.assertEqual(self.cache.reserved, 0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stalled(self) -> None:
        """An upstream silent for the idle timeout is a timeout."""
        self.intake.start()
        self.clock.advance(IDLE)
        [failure] = self.told
        assert isinstance(failure, Failure)
        failure.trap(UpstreamTimeout)
        self.assertEqual(
            failure.getErrorMessage(), f"the upstream sent nothing for {IDLE:g} s"
        )


class FailureTests(_Base):
    """
    Upstream failures, stalls and mismatches.
    """

    def assertFailedOnce(self, events: Sequence[LogEvent], kind: str) -> None:
        """Exactly one warning was logged, mentioning ``kind``."""
        warnings = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertIn(kind, str(warnings[0]["why"]))

    def test_failure_mid_body(self) -> None:
        """
        The upstream connection failing mid-body aborts every client, leaves
        nothing in the cache, and the next request fetches afresh.
        """
        clients = [self.client(), self.client()]
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA[:10])
        with capturedLogs() as events:
            response.end(Failure(ResponseFailed([Failure(ConnectionLost())])))
        for client in clients:
            self.assertAborted(client)
            self.assertEqual(client.body(), DATA[:10])
            client.lose()
        self.assertNothingCached()
        self.assertFailedOnce(
            events, "the connection to the upstream was lost after 10 of 1,024 bytes"
        )
        again = self.client()
        self.assertEqual(len(self.upstream.urls), 2)
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        response.end()
        self.assertEqual(again.body(), DATA)

    def test_wrong_hash(self) -> None:
        """A body whose sha256 differs from the index's aborts and caches nothing."""
        self.use(FileSpec(URL, SEGMENTS, len(DATA), {"sha256": "00" * 32}))
        client = self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        with capturedLogs() as events:
            response.end()
        self.assertAborted(client)
        self.assertNothingCached()
        self.assertFailedOnce(events, "sha256 mismatch")

    def test_strongest_other_hash(self) -> None:
        """
        Without sha256 the strongest advertised algorithm hashlib always has
        is checked; unknown names are ignored.
        """
        good = {"md5": hashlib.md5(DATA).hexdigest(), "sha512": "0" * 128, "x": "1"}
        self.use(FileSpec(URL, SEGMENTS, None, good))
        client = self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        response.end()
        self.assertAborted(client)
        self.assertNothingCached()

    def test_short_body(self) -> None:
        """
        A body shorter than the index's size aborts and caches nothing, also
        when the index gave no hash.
        """
        self.use(FileSpec(URL, SEGMENTS, len(DATA), {}))
        client = self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA[:-1])
        response.end()
        self.assertAborted(client)
        self.assertNothingCached()

    def test_long_body(self) -> None:
        """
        A body longer than promised fails as soon as it passes the length,
        and the upstream connection is closed.
        """
        self.use(FileSpec(URL, SEGMENTS, None, {}))
        client = self.client()
        response = self.upstream.respond(HandFedResponse(length=5))
        response.send(b"123456")
        self.assertAborted(client)
        self.assertNothingCached()
        self.assertEqual(response.transport.producerState, "stopped")

    def test_length_disagreement(self) -> None:
        """
        An upstream length that differs from the index's size fails before
        any header is sent: the client gets a clean 502.
        """
        client = self.client()
        response = self.upstream.respond(HandFedResponse(length=len(DATA) + 1))
        self.assertTrue(client.head().startswith(b"HTTP/1.1 502 "))
        self.assertEqual(client.body(), b"upstream failed")
        self.assertFalse(client.transport.disconnected)
        self.assertEqual(response.transport.producerState, "stopped")
        self.assertNothingCached()

    def test_error_status(self) -> None:
        """An upstream error status answers 502 and caches nothing."""
        client = self.client()
        self.upstream.respond(HandFedResponse(code=404))
        self.assertTrue(client.head().startswith(b"HTTP/1.1 502 "))
        self.assertNothingCached()
        download = self.downloads.start_or_join(self.spec)
        self.assertEqual(len(self.upstream.urls), 2)
        self.assertIs(download.state, State.WAITING)

    def test_connect_failure(self) -> None:
        """A request that fails before headers answers 502."""
        client = self.client()
        self.upstream.pending[0].errback(ConnectError("refused"))
        self.assertTrue(client.head().startswith(b"HTTP/1.1 502 "))
        self.assertNothingCached()

    def test_fetch_raises(self) -> None:
        """A fetch function that raises fails the download at once."""

        def broken(url: str) -> Deferred[IResponse]:
            """Fail synchronously."""
            raise RuntimeError("no")

        self.downloads = Downloads(self.cache, streaming(broken), self.clock, IDLE)
        self.use(self.spec)
        client = self.client()
        self.assertTrue(client.head().startswith(b"HTTP/1.1 502 "))
        self.assertNothingCached()

    def test_stall_mid_body(self) -> None:
        """
        No upstream bytes for the idle timeout aborts every client, closes
        the upstream connection, and caches nothing.
        """
        client = self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA[:10])
        self.clock.advance(IDLE - 1)
        response.send(DATA[10:20])
        self.clock.advance(IDLE - 1)
        self.assertFalse(client.transport.disconnected)
        self.clock.advance(2)
        self.assertAborted(client)
        self.assertEqual(response.transport.producerState, "stopped")
        self.assertNothingCached()

    def test_stall_before_headers(self) -> None:
        """
        An upstream silent for the idle timeout before its headers answers
        504, and the upstream request is cancelled.
        """
        client = self.client()
        self.clock.advance(IDLE)
        self.assertTrue(client.head().startswith(b"HTTP/1.1 504 "))
        self.assertEqual(self.upstream.cancelled, [URL])
        self.assertNothingCached()

    def test_potential_data_loss_is_end(self) -> None:
        """A body ended with PotentialDataLoss counts as complete."""
        client = self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        response.end(Failure(PotentialDataLoss()))
        self.assertEqual(client.body(), DATA)
        self.assertIsNotNone(self.cache.lookup(SEGMENTS))

    def test_timer_stops_after_success(self) -> None:
        """After success the idle timer no longer fires."""
        client = self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        response.end()
        with capturedLogs() as events:
            self.clock.advance(IDLE * 2)
        self.assertEqual([e for e in events if "why" in e], [])
        self.assertFalse(client.transport.disconnected)
