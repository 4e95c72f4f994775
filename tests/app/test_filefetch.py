"""
Tests for :mod:`twisted_pypi.app.filefetch`: upstream file requests ask for
raw bytes, name the proxy, and carry credentials only to their index's
origin.
"""

from __future__ import annotations

from typing import cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IBodyProducer, IResponse
from zope.interface import implementer

from tests.fakes import FakeResponse, result_now
from tests.sources.test_router import basic
from twisted_pypi.app.filefetch import file_fetcher, origin_of
from twisted_pypi.upstream.client import USER_AGENT


@implementer(IAgent)
class RecordingAgent:
    """
    An agent that records each request's URL and headers and answers 200.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, bytes, Headers]] = []

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None = None,
        bodyProducer: IBodyProducer | None = None,
    ) -> Deferred[IResponse]:
        """
        Record the request and answer it at once.
        """
        self.requests.append((method, uri, headers or Headers()))
        return succeed(cast(IResponse, FakeResponse(body=b"")))

    def authorization(self, url: str) -> str | None:
        """
        The ``Authorization`` header sent with the last request for ``url``.
        """
        for _, uri, headers in reversed(self.requests):
            if uri == url.encode():
                values = headers.getRawHeaders(b"authorization")
                return values[0].decode() if values else None
        raise AssertionError(f"{url} was not requested")


class FileFetcherTests(SynchronousTestCase):
    """
    :func:`file_fetcher` sends credentials only to
    the scheme, host and port of their index.
    """

    def setUp(self) -> None:
        self.agent = RecordingAgent()
        self.fetch = file_fetcher(
            self.agent,
            Clock(),
            10.0,
            {
                "https://corp.test/simple/": ("alice", "s3cret"),
                "http://other.test:8080/simple/": ("bob", "pw"),
            },
        )

    def sent(self, url: str) -> str | None:
        """
        The ``Authorization`` a GET of ``url`` carries.
        """
        result_now(self.fetch(url))
        return self.agent.authorization(url)

    def test_same_origin(self) -> None:
        """
        A file on the index's scheme, host and port (the port given or
        implied, the host in any case) carries its credentials.
        """
        alice = basic("alice", "s3cret")
        for url in (
            "https://corp.test/packages/a-1.0.tar.gz",
            "https://corp.test:443/other/path/a-1.0.tar.gz",
            "https://CORP.test/packages/a-1.0.tar.gz",
        ):
            self.assertEqual(self.sent(url), alice, url)
        self.assertEqual(
            self.sent("http://other.test:8080/p/b-1.0.tar.gz"), basic("bob", "pw")
        )

    def test_other_origins(self) -> None:
        """
        Another host, another port, plain HTTP to the same host, a host that
        merely starts with the index's, and a URL naming the index's host
        only as query get no credentials; one naming it as userinfo gets only
        that userinfo (see :meth:`test_link_credentials`).
        """
        for url in (
            "https://cdn.test/packages/a-1.0.tar.gz",
            "https://corp.test:8443/packages/a-1.0.tar.gz",
            "http://corp.test/packages/a-1.0.tar.gz",
            "https://corp.test.evil.example/packages/a-1.0.tar.gz",
            "https://evil.example/packages/a-1.0.tar.gz?https://corp.test/",
            "http://other.test/p/b-1.0.tar.gz",
            "https://other.test:8080/p/b-1.0.tar.gz",
        ):
            self.assertIsNone(self.sent(url), url)

    def test_link_credentials(self) -> None:
        """
        A URL with credentials is requested without them, with them (decoded)
        as basic auth instead of any index's.
        """
        for url, requested, expected in (
            (
                "https://u%40x:p%3Ass@cdn.test/a-1.0.tar.gz",
                "https://cdn.test/a-1.0.tar.gz",
                basic("u@x", "p:ss"),
            ),
            (
                "https://mallory:pw@corp.test/packages/a-1.0.tar.gz",
                "https://corp.test/packages/a-1.0.tar.gz",
                basic("mallory", "pw"),
            ),
            (
                "https://corp.test@evil.example/packages/a-1.0.tar.gz",
                "https://evil.example/packages/a-1.0.tar.gz",
                basic("corp.test", ""),
            ),
        ):
            result_now(self.fetch(url))
            self.assertEqual(self.agent.authorization(requested), expected, url)

    def test_plain_headers(self) -> None:
        """
        Every request asks for the identity encoding and names the proxy,
        with or without credentials; ``HEAD`` is passed on.
        """
        for url in (
            "https://corp.test/packages/a-1.0.tar.gz",
            "https://cdn.test/packages/a-1.0.tar.gz",
        ):
            result_now(self.fetch(url, b"HEAD"))
            method, _, headers = self.agent.requests[-1]
            self.assertEqual(method, b"HEAD")
            self.assertEqual(headers.getRawHeaders(b"accept-encoding"), [b"identity"])
            self.assertEqual(
                headers.getRawHeaders(b"user-agent"), [USER_AGENT.encode()]
            )

    def test_origin(self) -> None:
        """
        A URL's origin is its scheme, lower-case host and port (given or
        implied); a URL with an invalid port, no host or a scheme other than
        HTTP(S) has none, and a request for it carries no credentials.
        """
        self.assertEqual(
            origin_of("HTTPS://Corp.Test/simple/"), ("https", "corp.test", 443)
        )
        self.assertEqual(origin_of("http://[::1]:8080/x"), ("http", "::1", 8080))
        for url in (
            "https://corp.test:99999/a-1.0.tar.gz",
            "file:///a-1.0.tar.gz",
            "ftp://corp.test/a-1.0.tar.gz",
            "/packages/a-1.0.tar.gz",
        ):
            self.assertIsNone(origin_of(url), url)
            self.assertIsNone(self.sent(url), url)

    def test_no_credentials(self) -> None:
        """
        Without credentials no request carries any.
        """
        fetch = file_fetcher(self.agent, Clock(), 10.0)
        result_now(fetch("https://corp.test/packages/a-1.0.tar.gz"))
        self.assertIsNone(
            self.agent.authorization("https://corp.test/packages/a-1.0.tar.gz")
        )


class ExtraHeaderTests(SynchronousTestCase):
    """
    :func:`file_fetcher` sends the extra headers a caller gives.
    """

    def test_range(self) -> None:
        """
        A ``Range`` given as an extra header is sent with the request, beside
        the fetcher's own headers.
        """
        agent = RecordingAgent()
        fetch = file_fetcher(agent, Clock(), 10.0)
        result_now(fetch("https://h.test/a.whl", b"GET", {b"range": b"bytes=-10"}))
        [(_, _, headers)] = agent.requests
        self.assertEqual(headers.getRawHeaders(b"range"), [b"bytes=-10"])
        self.assertEqual(headers.getRawHeaders(b"accept-encoding"), [b"identity"])
