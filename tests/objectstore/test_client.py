"""
Tests for :mod:`twisted_pypi.objectstore.client`: the requests it signs and
sends, and how it reads the answers, over a fake agent.
"""

from __future__ import annotations

import re

from botocore.credentials import Credentials
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from tests.consumers import Consumer
from tests.objectstore.fakeagent import FakeAgent, SentRequest
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.errors import (
    AccessDenied,
    AlreadyExists,
    NotFound,
    PreconditionFailed,
    S3Error,
    StoreUnavailable,
)
from twisted_pypi.objectstore.signing import Signer, payload_hash

SECRET = "s3cr3t-KEY-never-shown/xyz"
TOKEN = "session-TOKEN-never-shown"

#: A well-formed SigV4 ``Authorization`` header for our key and region.
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=AKIDTEST/\d{8}/eu-west-1/s3/aws4_request, "
    r"SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$"
)

LISTING = b"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Name>bkt</Name><Prefix>p/</Prefix><MaxKeys>2</MaxKeys>
<IsTruncated>true</IsTruncated><NextContinuationToken>tok/2+=</NextContinuationToken>
<Contents><Key>p/a</Key><Size>3</Size><ETag>"e1"</ETag>
<LastModified>2026-01-02T03:04:05.000Z</LastModified></Contents>
<Contents><Key>p/b</Key><Size>4</Size><ETag>"e2"</ETag>
<LastModified>2026-01-02T03:04:05.000Z</LastModified></Contents>
</ListBucketResult>"""


def error(code: str, message: str = "no") -> bytes:
    """
    An S3 error document.
    """
    return (
        f"<?xml version='1.0'?><Error><Code>{code}</Code>"
        f"<Message>{message}</Message></Error>"
    ).encode()


class ClientTests(SynchronousTestCase):
    """
    :class:`S3Client` over a fake agent.
    """

    def setUp(self) -> None:
        """
        A client of a fake store, with session credentials.
        """
        self.agent = FakeAgent()
        self.clock = Clock()
        credentials = Credentials("AKIDTEST", SECRET, TOKEN)
        self.client = S3Client(
            self.agent,
            "http://store.test:8333/",
            Signer(credentials, "eu-west-1"),
            self.clock,
            timeout=10,
        )

    def last(self) -> SentRequest:
        """
        The last request sent.
        """
        return self.agent.sent[-1]

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

    def test_create_only(self) -> None:
        """
        A create-only write sends ``If-None-Match: *``; a 412 answer is
        :class:`AlreadyExists`.
        """
        done = self.client.put("bkt", "k", b"x", create_only=True)
        self.assertEqual(self.last().header("If-None-Match"), "*")
        self.last().respond(412, error("PreconditionFailed"))
        failure = self.failureResultOf(done, AlreadyExists)
        self.assertEqual(failure.value.status, 412)

    def test_streamed_unsigned(self) -> None:
        """
        A body given as a producer is sent as it is, with an unsigned
        payload unless its hash is given.
        """
        from twisted_pypi.objectstore.bodies import BytesProducer

        self.client.put("bkt", "k", BytesProducer(b"big"))
        self.assertEqual(self.last().header("X-Amz-Content-SHA256"), "UNSIGNED-PAYLOAD")
        self.client.put("bkt", "k", BytesProducer(b"big"), sha256="ab" * 32)
        self.assertEqual(self.last().header("X-Amz-Content-SHA256"), "ab" * 32)

    def test_ranged_get(self) -> None:
        """
        A ranged read asks for the bytes by ``Range`` and streams what the
        206 answer carries into a consumer; the object's size comes from
        ``Content-Range``.
        """
        done = self.client.get("bkt", "k", offset=10, length=5, if_match="e1")
        self.assertEqual(self.last().header("Range"), "bytes=10-14")
        self.assertEqual(self.last().header("If-Match"), '"e1"')
        response = self.last().respond(
            206, headers={"Content-Range": "bytes 10-14/100", "ETag": '"e1"'}
        )
        body = self.successResultOf(done)
        self.assertEqual((body.offset, body.length, body.info.size), (10, 5, 100))
        self.assertEqual(body.info.etag, "e1")
        consumer = Consumer()
        streamed = body.stream_to(consumer)
        self.assertIs(consumer.producer, response.transport)
        response.send(b"hello")
        self.assertNoResult(streamed)
        response.end()
        self.successResultOf(streamed)
        self.assertEqual(consumer.chunks, [b"hello"])
        self.assertIsNone(consumer.producer)

    def test_wrong_range(self) -> None:
        """
        An answer for other bytes than asked (a server ignoring ``Range``)
        fails rather than passing wrong bytes on.
        """
        done = self.client.get("bkt", "k", offset=10, length=5)
        self.last().respond(200, headers={"Content-Length": "100"})
        self.failureResultOf(done, StoreUnavailable)

    def test_cut_short(self) -> None:
        """
        A body that ends early fails its stream with
        :class:`StoreUnavailable`.
        """
        done = self.client.get("bkt", "k")
        response = self.last().respond(200, headers={"Content-Length": "10"})
        streamed = self.successResultOf(done).stream_to(Consumer())
        response.send(b"12345")
        response.end(Failure(ConnectionRefusedError()))
        self.failureResultOf(streamed, StoreUnavailable)

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

    def test_list_pages(self) -> None:
        """
        A listing asks for ``ListObjectsV2`` with the prefix and page size,
        and the next page with the continuation token of the last, encoded.
        """
        done = self.client.list_objects("bkt", "p/", max_keys=2)
        self.assertEqual(
            self.last().url,
            b"http://store.test:8333/bkt?list-type=2&max-keys=2&prefix=p%2F",
        )
        self.last().respond(200, LISTING)
        page = self.successResultOf(done)
        self.assertEqual([o.key for o in page.objects], ["p/a", "p/b"])
        self.assertEqual([o.etag for o in page.objects], ["e1", "e2"])
        self.assertEqual(page.next_token, "tok/2+=")
        self.client.list_objects("bkt", "p/", token=page.next_token, max_keys=2)
        self.assertIn(b"continuation-token=tok%2F2%2B%3D", self.last().url)
        self.assertRegex(self.last().header("Authorization") or "", AUTHORIZATION)

    def test_copy_error_in_200(self) -> None:
        """
        A copy answered 200 with an ``<Error>`` document failed (S3 reports
        late copy errors that way).
        """
        done = self.client.copy("bkt", "a", "b")
        self.assertEqual(self.last().header("x-amz-copy-source"), "/bkt/a")
        self.last().respond(200, error("InternalError"))
        self.failureResultOf(done, StoreUnavailable)

    def test_no_secrets(self) -> None:
        """
        Neither the client's nor the signer's repr, nor any failure, shows
        the secret key or the session token.
        """
        done = self.client.read("bkt", "k")
        self.last().respond(403, error("SignatureDoesNotMatch", "bad"))
        failure = self.failureResultOf(done, AccessDenied)
        for text in (repr(self.client), str(failure.value), repr(failure.value)):
            self.assertNotIn(SECRET, text)
            self.assertNotIn(TOKEN, text)
        self.assertIn("AKIDTEST", repr(self.client))
