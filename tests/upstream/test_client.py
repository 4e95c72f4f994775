"""
Tests for :mod:`twisted_pypi.upstream.client`.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseFailed

from tests.fakes import FakeClient, FakeResponse, page_response
from twisted_pypi.upstream.client import (
    PAGE_ACCEPT,
    PageResponse,
    UpstreamError,
    UpstreamTimeout,
    fetch_page,
)


class FetchPageTests(SynchronousTestCase):
    """
    Fetching one index page.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.client = FakeClient()

    def fetch(
        self, etag: str | None = None, limit: int = 1000
    ) -> Deferred[PageResponse]:
        """
        Start fetching the demo page.
        """
        return Deferred.fromCoroutine(
            fetch_page(
                self.client,
                self.clock,
                "http://upstream.test/simple/demo/",
                etag=etag,
                limit=limit,
                connect_timeout=10,
                idle_timeout=5,
            )
        )

    def test_asks_for_json_first(self) -> None:
        """
        The request prefers JSON, accepts HTML, sends the cached ETag as
        ``If-None-Match``, and returns body, type and ETag of a 200.
        """
        d = self.fetch(etag='"abc"')
        url, kwargs, _ = self.client.calls[0]
        self.assertEqual(kwargs["headers"]["Accept"], PAGE_ACCEPT)
        self.assertEqual(kwargs["headers"]["If-None-Match"], '"abc"')
        self.assertTrue(kwargs["unbuffered"])
        self.client.answer(
            0, page_response(b"{}", etag='"new"', url="http://mirror.test/simple/demo/")
        )
        result = self.successResultOf(d)
        self.assertEqual(
            result,
            PageResponse(
                200,
                "http://mirror.test/simple/demo/",
                b"{}",
                "application/vnd.pypi.simple.v1+json",
                '"new"',
            ),
        )

    def test_other_status_returned(self) -> None:
        """
        A 304 or 404 is returned as a status, with no body read.
        """
        d = self.fetch()
        self.client.answer(0, page_response(b"gone", code=404))
        result = self.successResultOf(d)
        self.assertEqual((result.status, result.body), (404, b""))

    def test_no_answer_times_out(self) -> None:
        """
        No response headers within the connect timeout is an
        ``UpstreamTimeout``.
        """
        d = self.fetch()
        self.clock.advance(9)
        self.assertNoResult(d)
        self.clock.advance(1)
        self.failureResultOf(d, UpstreamTimeout)

    def test_body_stall_times_out(self) -> None:
        """
        A body that stays silent for the idle timeout is abandoned: the
        transport is stopped and the fetch fails with ``UpstreamTimeout``.
        """
        d = self.fetch()
        response = FakeResponse(url="http://upstream.test/simple/demo/")
        self.client.answer(0, response)
        response.write(b"{")
        self.clock.advance(4)
        response.write(b'"a"')
        self.clock.advance(4)
        self.assertNoResult(d)
        self.clock.advance(1)
        self.assertTrue(response.transport.stopped)
        response.finish(Failure(ResponseFailed([Failure(Exception("closed"))])))
        self.failureResultOf(d, UpstreamTimeout)

    def test_too_large(self) -> None:
        """
        A body over the size limit stops the transfer and is an
        ``UpstreamError`` that says so.
        """
        d = self.fetch(limit=10)
        response = FakeResponse(url="http://upstream.test/simple/demo/")
        self.client.answer(0, response)
        response.write(b"x" * 8)
        response.write(b"x" * 8)
        self.assertTrue(response.transport.stopped)
        response.finish(Failure(ResponseFailed([Failure(Exception("closed"))])))
        failure = self.failureResultOf(d, UpstreamError)
        self.assertIn("larger than 10 bytes", failure.getErrorMessage())

    def test_cut_short(self) -> None:
        """
        A body that ends with a connection error is an ``UpstreamError``.
        """
        d = self.fetch()
        response = FakeResponse(url="http://upstream.test/simple/demo/")
        self.client.answer(0, response)
        response.write(b"{")
        response.finish(Failure(ResponseFailed([Failure(Exception("reset"))])))
        self.failureResultOf(d, UpstreamError)

    def test_connection_refused(self) -> None:
        """
        A connection failure is an ``UpstreamError`` naming the URL.
        """
        d = self.fetch()
        self.client.calls[0][2].errback(ConnectionRefusedError("refused"))
        failure = self.failureResultOf(d, UpstreamError)
        self.assertIn("http://upstream.test/simple/demo/", failure.getErrorMessage())

    def test_credentials_not_in_errors(self) -> None:
        """
        The error for a URL with credentials names it without them, however
        the fetch fails.
        """
        url = "http://user:s3cret@upstream.test/simple/demo/"
        for fail in (
            lambda d: d.errback(ConnectionRefusedError(f"refused {url}")),
            lambda d: self.clock.advance(11),
        ):
            d = Deferred.fromCoroutine(
                fetch_page(
                    self.client, self.clock, url,
                    limit=10, connect_timeout=10, idle_timeout=5,
                )
            )  # fmt: skip
            fail(self.client.calls[-1][2])
            message = self.failureResultOf(d, UpstreamError).getErrorMessage()
            self.assertIn("upstream.test/simple/demo/", message)
            self.assertNotIn("s3cret", message)
