"""
Tests for :mod:`twisted_pypi.web.errors`: the one mapping from a failed
lookup to an HTTP answer.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyRequest

from twisted_pypi.core.lookup import (
    LookupFailed,
    ProjectNotFound,
    UpstreamTimedOut,
    UpstreamUnavailable,
)
from twisted_pypi.upstream.client import UpstreamError, UpstreamTimeout
from twisted_pypi.web.errors import answer_failure, send_failure


class SendFailureTests(SynchronousTestCase):
    """
    :func:`send_failure` and :func:`answer_failure`.
    """

    def answer(self, failure: LookupFailed, **kwargs: Any) -> DummyRequest:
        """
        The request answered with ``failure``.
        """
        request = DummyRequest([b""])
        send_failure(cast(Request, request), failure, **kwargs)
        self.assertEqual(request.finished, 1)
        return request

    def body(self, request: DummyRequest) -> str:
        """
        The page sent.
        """
        return b"".join(request.written).decode()

    def test_not_found(self) -> None:
        """
        "Not found" is a 404 saying there is no such project, or what the
        caller says.
        """
        request = self.answer(ProjectNotFound("demo"))
        self.assertEqual(request.responseCode, 404)
        self.assertIn("No such project.", self.body(request))
        request = self.answer(ProjectNotFound("demo"), missing="No such file.")
        self.assertIn("No such file.", self.body(request))

    def test_unavailable(self) -> None:
        """
        An upstream that could not answer is a 502 with the reason.
        """
        request = self.answer(UpstreamUnavailable("http://up.test/ answered 500"))
        self.assertEqual(request.responseCode, 502)
        self.assertIn(
            "Upstream failed: http://up.test/ answered 500", self.body(request)
        )

    def test_timed_out(self) -> None:
        """
        An upstream that did not answer in time is a 504 saying so.
        """
        request = self.answer(UpstreamTimedOut("no answer within 10 s"))
        self.assertEqual(request.responseCode, 504)
        self.assertIn("Upstream timed out: no answer within 10 s", self.body(request))

    def test_upstream_client_errors(self) -> None:
        """
        The upstream client's errors are lookup failures of the same kinds:
        an error a 502, a timeout a 504.
        """
        self.assertEqual(self.answer(UpstreamError("refused")).responseCode, 502)
        self.assertEqual(self.answer(UpstreamTimeout("stalled")).responseCode, 504)

    def test_no_body_for_head(self) -> None:
        """
        A ``HEAD`` gets the status and headers without the page.
        """
        request = DummyRequest([b""])
        request.method = b"HEAD"
        send_failure(cast(Request, request), UpstreamUnavailable("down"))
        self.assertEqual(request.responseCode, 502)
        self.assertEqual(request.written, [])

    def test_errback(self) -> None:
        """
        As an errback, a lookup failure is answered; anything else passes
        on, the request untouched.
        """
        request = DummyRequest([b""])
        answer_failure(Failure(UpstreamTimedOut("slow")), cast(Request, request))
        self.assertEqual(request.responseCode, 504)
        other = DummyRequest([b""])
        with self.assertRaises(ZeroDivisionError):
            answer_failure(Failure(ZeroDivisionError()), cast(Request, other))
        self.assertEqual(other.finished, 0)
