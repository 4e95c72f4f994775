"""
Tests for :mod:`twisted_pypi.objectstore.sender`: how requests are signed,
sent, timed out and observed, and how answers become typed errors, through
:class:`~twisted_pypi.objectstore.client.S3Client` over a fake agent.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionRefusedError

from tests.objectstore.test_client import (
    AUTHORIZATION,
    SECRET,
    TOKEN,
    ClientBase,
    error,
)
from twisted_pypi.objectstore.errors import (
    AccessDenied,
    NotFound,
    PreconditionFailed,
    S3Error,
    StoreUnavailable,
)
from twisted_pypi.objectstore.signing import payload_hash


class SenderTests(ClientBase):
    """
    The requests of an :class:`S3Client`, as its sender sends them.
    """

    def test_expected_status(self) -> None:
        """
        A request answered with a status it expects gives the response;
        with another status, the typed error (a ``HEAD``'s from its status
        alone).
        """
        sending = Deferred.fromCoroutine(
            self.client.send("DELETE", "bkt", "k", expect=(200, 204))
        )
        self.last().respond(204)
        self.assertEqual(self.successResultOf(sending).code, 204)
        heading = Deferred.fromCoroutine(self.client.send("HEAD", "bkt", "k"))
        self.last().respond(403)
        self.failureResultOf(heading, AccessDenied)

    def test_signed(self) -> None:
        """
        Every request carries a well-formed SigV4 signature for the key and
        region, the payload's SHA-256, the date and the session token; the
        secret itself is sent nowhere.
        """
        done = self.client.put("bkt", "a/b.whl", b"data")
        sent = self.last()
        self.assertEqual(sent.method, b"PUT")
        self.assertEqual(sent.url, b"http://store.test:8333/bkt/a/b.whl")
        self.assertRegex(sent.header("Authorization") or "", AUTHORIZATION)
        self.assertEqual(sent.header("X-Amz-Content-SHA256"), payload_hash(b"data"))
        self.assertRegex(sent.header("X-Amz-Date") or "", r"^\d{8}T\d{6}Z$")
        self.assertEqual(sent.header("X-Amz-Security-Token"), TOKEN)
        for _, values in sent.headers.getAllRawHeaders():
            self.assertNotIn(SECRET.encode(), b"".join(values))
        self.assertEqual(sent.body_bytes(), b"data")
        sent.respond(200, headers={"ETag": '"abc"'})
        self.assertEqual(self.successResultOf(done), "abc")

    def test_observed(self) -> None:
        """
        Each request's method, status and time to its response's headers
        are told to the observer; a request that gets no answer is told
        with no status and why.
        """
        seen: list[tuple[str, int | None, float, str]] = []
        self.client.observe = lambda *args: seen.append(args)
        done = self.client.head("bkt", "k")
        self.clock.advance(0.25)
        self.last().respond(404)
        self.failureResultOf(done, NotFound)
        deleting = self.client.delete("bkt", "k")
        self.last().answer.errback(ConnectionRefusedError("refused"))
        self.failureResultOf(deleting, StoreUnavailable)
        self.assertEqual(seen[0], ("HEAD", 404, 0.25, ""))
        method, code, _, why = seen[1]
        self.assertEqual((method, code), ("DELETE", None))
        self.assertIn("refused", why)

    def test_keys_encoded(self) -> None:
        """
        Keys are percent-encoded once in the URL (slashes kept), as S3
        signs them.
        """
        self.client.head("bkt", "six/six-1.0+local é.whl")
        self.assertEqual(
            self.last().url,
            b"http://store.test:8333/bkt/six/six-1.0%2Blocal%20%C3%A9.whl",
        )

    def test_errors(self) -> None:
        """
        Error answers become typed failures: 404 :class:`NotFound`, 403
        :class:`AccessDenied`, 412 :class:`PreconditionFailed`, 5xx
        :class:`StoreUnavailable`, carrying S3's code and message.
        """
        cases = [
            (404, error("NoSuchKey", "gone"), NotFound),
            (403, error("SignatureDoesNotMatch"), AccessDenied),
            (400, error("InvalidAccessKeyId"), AccessDenied),
            (412, error("PreconditionFailed"), PreconditionFailed),
            (503, error("SlowDown"), StoreUnavailable),
            (502, b"<html>bad gateway</html>", StoreUnavailable),
            (400, error("InvalidArgument"), S3Error),
        ]
        for status, body, kind in cases:
            done = self.client.read("bkt", "k")
            self.last().respond(status, body)
            failure = self.failureResultOf(done, kind)
            self.assertIs(type(failure.value), kind)
            self.assertEqual(failure.value.status, status)
        self.assertEqual(failure.value.code, "InvalidArgument")
        reading = self.client.get("bkt", "k")
        self.last().respond(404, error("NoSuchKey", "gone"))
        self.assertIn("NoSuchKey: gone", str(self.failureResultOf(reading).value))

    def test_head_error(self) -> None:
        """
        A ``HEAD`` answer has no body: its status alone says what failed.
        """
        done = self.client.head("bkt", "k")
        self.last().respond(404)
        self.failureResultOf(done, NotFound)

    def test_unreachable(self) -> None:
        """
        A connection that fails is :class:`StoreUnavailable`.
        """
        done = self.client.head("bkt", "k")
        self.last().answer.errback(ConnectionRefusedError())
        self.failureResultOf(done, StoreUnavailable)

    def test_timeout(self) -> None:
        """
        A store that does not answer in time is :class:`StoreUnavailable`,
        and the request is cancelled.
        """
        done = self.client.head("bkt", "k")
        self.assertFalse(self.last().answer.called)
        self.clock.advance(10)
        failure = self.failureResultOf(done, StoreUnavailable)
        self.assertIn("no answer in 10 s", str(failure.value))
        self.assertTrue(self.last().answer.called)

    def test_copy_error_in_200(self) -> None:
        """
        A copy answered 200 with an ``<Error>`` document failed (S3 reports
        late copy errors that way).
        """
        done = self.client.copy("bkt", "a", "b")
        self.assertEqual(self.last().header("x-amz-copy-source"), "/bkt/a")
        self.last().respond(200, error("InternalError"))
        self.failureResultOf(done, StoreUnavailable)
