"""
Tests for :mod:`twisted_pypi.upstream.describe`: why talking to an upstream
failed, in words.
"""

from __future__ import annotations

from OpenSSL.SSL import Error as SSLError
from twisted.internet import error
from twisted.internet.defer import CancelledError, TimeoutError
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseFailed, ResponseNeverReceived
from twisted.web.http import _DataLoss

from twisted_pypi.upstream.describe import describe_error


class DescribeErrorTests(SynchronousTestCase):
    """
    :func:`describe_error`.
    """

    def test_connection_failures(self) -> None:
        """Each kind of connection failure has its phrase."""
        cases = [
            (error.ConnectionDone(), "the upstream closed the connection"),
            (error.ConnectionLost(), "the connection to the upstream was lost"),
            (error.ConnectionRefusedError(), "the upstream refused the connection"),
            (
                error.DNSLookupError("files.example"),
                "the upstream's host name could not be resolved",
            ),
            (error.TimeoutError(), "connecting to the upstream timed out"),
            (CancelledError(), "the request was cancelled"),
            (TimeoutError(), "the upstream did not answer in time"),
            (
                error.ConnectError("EHOSTDOWN"),
                "could not connect to the upstream: EHOSTDOWN",
            ),
        ]
        for exc, phrase in cases:
            self.assertEqual(describe_error(exc), phrase)
            self.assertEqual(describe_error(Failure(exc)), phrase)

    def test_own_timeouts(self) -> None:
        """A timeout that says what it waited for is given as it says."""
        exc = TimeoutError("no response headers within 10 s")
        self.assertEqual(describe_error(exc), "no response headers within 10 s")

    def test_wrapped(self) -> None:
        """
        Twisted's wrappers of failure lists are described by what they wrap,
        each cause once; the body-ended marker only when it is alone.
        """
        cut = ResponseFailed([Failure(error.ConnectionDone()), Failure(_DataLoss())])
        self.assertEqual(describe_error(cut), "the upstream closed the connection")
        never = ResponseNeverReceived(
            [Failure(error.ConnectionLost()), Failure(error.ConnectionLost())]
        )
        self.assertEqual(
            describe_error(never), "the connection to the upstream was lost"
        )
        alone = ResponseFailed([Failure(_DataLoss())])
        self.assertEqual(describe_error(alone), "the body ended before its length")
        both = ResponseFailed(
            [Failure(error.ConnectionLost()), Failure(ValueError("bad chunk"))]
        )
        self.assertEqual(
            describe_error(both), "the connection to the upstream was lost; bad chunk"
        )

    def test_tls(self) -> None:
        """A TLS failure gives OpenSSL's reasons."""
        failed = SSLError([("SSL routines", "", "certificate verify failed")])
        self.assertEqual(
            describe_error(ResponseNeverReceived([Failure(failed)])),
            "the TLS connection to the upstream failed: certificate verify failed",
        )

    def test_other(self) -> None:
        """Anything else is its message, or its class name without one."""
        self.assertEqual(describe_error(ValueError("bad")), "bad")
        self.assertEqual(describe_error(ValueError()), "ValueError")
        self.assertEqual(describe_error(None), "an unknown error")
