"""
Tests for the log line :mod:`twisted_pypi.files.flight` writes when a
download fails: one readable line naming the file, the upstream host (never
credentials) and the cause in words, without a traceback or the ``repr`` of
Twisted's failure objects.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed, ResponseNeverReceived
from twisted.web.http import _DataLoss

from tests.fakes import HandFedResponse
from tests.files.test_download import DATA, IDLE, SEGMENTS, URL, _Base
from twisted_pypi.files.spec import FileSpec

#: Where the test file comes from: the host of :data:`URL`.
HOST = "files.example"


class FailureLogTests(_Base):
    """
    One warning per failed download, in words.
    """

    def failed_line(self, act: object) -> str:
        """
        The one warning logged while ``act`` runs, formatted as the log
        shows it; it is a single line, without a traceback or a ``repr``.

        :param act: Makes the download fail.
        """
        with capturedLogs() as events:
            act()  # type: ignore[operator]
        [warning] = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertNotIn("log_failure", warning)
        line = formatEvent(warning)
        self.assertNotIn("\n", line)
        self.assertNotIn("<", line)
        self.assertNotIn("Failure", line)
        return line

    def test_truncated(self) -> None:
        """
        An upstream that closes the connection part way through the body
        is said to have done so, with how far the body got.
        """
        self.client()
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        response.send(DATA[:500])
        cut = ResponseFailed([Failure(ConnectionDone()), Failure(_DataLoss())])
        line = self.failed_line(lambda: response.end(Failure(cut)))
        self.assertEqual(
            line,
            f"Download of demo-1.0.tar.gz from {HOST} failed: the upstream"
            " closed the connection after 500 of 1,024 bytes",
        )

    def test_refused(self) -> None:
        """
        An upstream that refuses the connection is said to, without any
        byte count.
        """
        self.client()
        refused = ResponseNeverReceived([Failure(ConnectionRefusedError())])
        line = self.failed_line(lambda: self.upstream.pending[-1].errback(refused))
        self.assertEqual(
            line,
            f"Download of demo-1.0.tar.gz from {HOST} failed: the upstream"
            " refused the connection",
        )

    def test_stalled(self) -> None:
        """
        A body that stops arriving is said to have, after how many bytes.
        """
        self.client()
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        response.send(DATA[:100])
        line = self.failed_line(lambda: self.clock.advance(IDLE))
        self.assertEqual(
            line,
            f"Download of demo-1.0.tar.gz from {HOST} failed: the upstream"
            f" sent nothing for {IDLE:g} s after 100 of 1,024 bytes",
        )

    def test_error_status(self) -> None:
        """An error status is given with its reason phrase."""
        self.client()
        line = self.failed_line(
            lambda: self.upstream.respond(HandFedResponse(code=404))
        )
        self.assertEqual(
            line,
            f"Download of demo-1.0.tar.gz from {HOST} failed: the upstream"
            " answered 404 Not Found",
        )

    def test_wrong_hash(self) -> None:
        """A body with the wrong hash says so, with no byte count added."""
        self.use(FileSpec(URL, SEGMENTS, len(DATA), {"sha256": "00" * 32}))
        self.client()
        response = self.upstream.respond(HandFedResponse())
        response.send(DATA)
        line = self.failed_line(response.end)
        self.assertEqual(
            line,
            f"Download of demo-1.0.tar.gz from {HOST} failed: sha256 mismatch:"
            " the body is not the file the index lists",
        )

    def test_no_credentials(self) -> None:
        """
        A file fetched with the index link's credentials names its host and
        port, never the credentials, in the line or in the event's fields.
        """
        url = "https://files.example:8443/packages/demo%2B1.0.tar.gz"
        self.use(FileSpec(url, SEGMENTS, None, {}, ("user", "s3cret")))
        self.client()
        self.assertIn("s3cret", self.upstream.urls[-1])
        refused = ResponseNeverReceived([Failure(ConnectionRefusedError())])
        with capturedLogs() as events:
            self.upstream.pending[-1].errback(refused)
        [warning] = [e for e in events if e["log_level"] == LogLevel.warn]
        line = formatEvent(warning)
        self.assertTrue(
            line.startswith(
                "Download of demo+1.0.tar.gz from files.example:8443 failed:"
            ),
            line,
        )
        self.assertNotIn("s3cret", repr(warning))
