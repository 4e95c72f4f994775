"""
Tests for :mod:`twisted_pypi.objectstore.client`: the requests of its
operations, and how it reads the answers, over a fake agent (how every
request is signed, sent and answered: ``test_sender``).
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
    StoreUnavailable,
)
from twisted_pypi.objectstore.signing import Signer

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


class ClientBase(SynchronousTestCase):
    """
    An :class:`S3Client` over a fake agent.
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


class ClientTests(ClientBase):
    """
    :class:`S3Client`'s operations over a fake agent.
    """

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
