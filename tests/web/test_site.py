"""
Tests for :mod:`twisted_pypi.web.site`: one log line per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IProtocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.web.site import ProxySite


class Leaf(Resource):
    """
    Answers at once with a fixed body, and ``X-Cache`` if given.
    """

    isLeaf = True

    def __init__(
        self, body: bytes, cache: bytes | None = None, index: bytes | None = None
    ) -> None:
        """
        :param body: The body.
        :param cache: The ``X-Cache`` value, or ``None`` for none.
        :param index: The ``X-PyPI-Index`` value, or ``None`` for none.
        """
        super().__init__()
        self.body = body
        self.cache = cache
        self.index = index

    def render_GET(self, request: Request) -> bytes:
        """
        The body.
        """
        if self.cache is not None:
            request.setHeader(b"x-cache", self.cache)
        if self.index is not None:
            request.setHeader(b"x-pypi-index", self.index)
        return self.body


class Slow(Resource):
    """
    Keeps requests open for the test to answer.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Request] = []

    def render_GET(self, request: Request) -> int:
        """
        Keep the request.
        """
        request.setHeader(b"x-cache", b"MISS")
        self.requests.append(request)
        return NOT_DONE_YET


def lines(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """
    The site's log events.
    """
    return [e for e in events if e.get("log_namespace") == "twisted_pypi.web.site"]


class SiteLogTests(SynchronousTestCase):
    """
    :class:`ProxySite` logs each request once, with what it was, how it
    ended, and how long it took.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(500)
        self.slow = Slow()
        root = Resource()
        root.putChild(b"fast", Leaf(b"hello", b"HIT"))
        root.putChild(b"plain", Leaf(b"plain body"))
        root.putChild(b"page", Leaf(b"page", b"HIT", b"corp"))
        root.putChild(b"slow", self.slow)
        self.site = ProxySite(root, self.clock, reactor=self.clock)
        self.transport = StringTransport()
        protocol = self.site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4321))
        assert protocol is not None
        self.protocol: IProtocol = protocol
        self.protocol.makeConnection(self.transport)

    def send(self, method: str, path: str) -> None:
        """
        Send a request on the connection.
        """
        self.protocol.dataReceived(
            f"{method} {path} HTTP/1.1\r\nHost: proxy.test\r\n\r\n".encode()
        )

    def test_line_fields(self) -> None:
        """
        A request is logged once with its method, path and query, status,
        ``X-Cache``, body bytes and time.
        """
        with capturedLogs() as events:
            self.send("GET", "/fast?x=1")
        [event] = lines(events)
        self.assertEqual(
            (event["method"], event["path"], event["code"], event["cache"],
             event["bytes"]),
            ("GET", "/fast?x=1", 200, "HIT", 5),
        )  # fmt: skip
        self.assertEqual(formatEvent(event), "GET /fast?x=1 200 HIT 5 B 0.0 ms")

    def test_index_named(self) -> None:
        """
        The line names the index that answered, from ``X-PyPI-Index``.
        """
        with capturedLogs() as events:
            self.send("GET", "/page")
        [event] = lines(events)
        self.assertEqual(formatEvent(event), "GET /page 200 HIT from corp 4 B 0.0 ms")

    def test_duration(self) -> None:
        """
        The time is from the request's arrival to its end, by the site's
        clock.
        """
        with capturedLogs() as events:
            self.send("GET", "/slow")
            self.clock.advance(0.25)
            self.assertEqual(lines(events), [])
            request = self.slow.requests[0]
            request.write(b"abc")
            request.finish()
        [event] = lines(events)
        self.assertEqual(formatEvent(event), "GET /slow 200 MISS 3 B 250.0 ms")

    def test_no_cache_header(self) -> None:
        """
        A response without ``X-Cache`` shows ``-``; an error shows its status.
        """
        with capturedLogs() as events:
            self.send("GET", "/plain")
            self.send("GET", "/missing")
        first, second = lines(events)
        self.assertEqual(formatEvent(first), "GET /plain 200 - 10 B 0.0 ms")
        self.assertEqual((second["code"], second["cache"]), (404, "-"))
        self.assertGreater(second["bytes"], 0)

    def test_head(self) -> None:
        """
        A ``HEAD`` is logged as such, with no body bytes.
        """
        with capturedLogs() as events:
            self.send("HEAD", "/fast")
        [event] = lines(events)
        self.assertEqual(formatEvent(event), "HEAD /fast 200 HIT 0 B 0.0 ms")

    def test_aborted(self) -> None:
        """
        A request whose client goes away before it ends is logged once, with
        ``(aborted)``.
        """
        with capturedLogs() as events:
            self.send("GET", "/slow")
            request = self.slow.requests[0]
            request.write(b"partial")
            self.clock.advance(1.5)
            self.protocol.connectionLost(Failure(ConnectionLost()))
        [event] = lines(events)
        self.assertEqual(
            formatEvent(event), "GET /slow 200 MISS 7 B 1500.0 ms (aborted)"
        )
