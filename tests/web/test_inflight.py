"""
Tests for :mod:`twisted_pypi.web.inflight`: a node's downloads in flight,
served to its peers.  Peers are real :class:`Site` connections over
:class:`StringTransport`; downloads are real, fed by a hand-fed upstream
(:class:`~tests.fakes.HandFedResponse`).
"""

from __future__ import annotations

from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.web.resource import Resource
from twisted.web.server import Site

from tests.fakes import HandFedResponse
from tests.files.test_download import DATA, SEGMENTS, Client, _Base
from twisted_pypi.core.cluster import AUTH_HEADER, VALIDITY, inflight_path, sign
from twisted_pypi.web.inflight import INFLIGHT_CHILD, InflightResource

SECRET = b"s3cret-s3cret-s3cret"
PATH = inflight_path(SEGMENTS).encode("ascii")


class Peer(Client):
    """A peer's connection to the node."""

    def ask(
        self,
        path: bytes = PATH,
        signature: bytes | None = None,
        method: bytes = b"GET",
    ) -> Peer:
        """Send a request for ``path`` with the given signature header."""
        extra = b"" if signature is None else AUTH_HEADER + b": " + signature + b"\r\n"
        self.protocol.dataReceived(
            method + b" " + path + b" HTTP/1.1\r\nHost: node\r\n" + extra + b"\r\n"
        )
        return self

    def status(self) -> int:
        """The response's status code."""
        return int(self.head().split(b" ")[1])


class InflightTests(_Base):
    """
    :class:`InflightResource` in front of real downloads.
    """

    def setUp(self) -> None:
        """The node's tree: ``/-/inflight/``."""
        super().setUp()
        self.clock.advance(1_700_000_000)
        dash = Resource()
        dash.putChild(
            INFLIGHT_CHILD, InflightResource(self.downloads, SECRET, self.clock)
        )
        root = Resource()
        root.putChild(b"-", dash)
        self.node = Site(root, reactor=self.clock)

    def peer(self, transport: StringTransport | None = None) -> Peer:
        """A new connection from a peer."""
        return Peer(self.node, transport)

    def signed(self, path: bytes = PATH, skew: float = 0.0) -> bytes:
        """A signature of a GET of ``path``, made ``skew`` seconds off."""
        return sign(SECRET, b"GET", path, self.clock.seconds() + skew)

    def test_streams_download(self) -> None:
        """
        A signed request for a file being downloaded follows the download:
        it gets the bytes from byte 0 as they arrive, the last one once the
        file is verified, then the response ends cleanly.
        """
        self.downloads.start_or_join(self.spec)
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        response.send(DATA[:300])
        peer = self.peer().ask(signature=self.signed())
        self.assertEqual(peer.status(), 200)
        self.assertEqual(peer.headers()[b"content-length"], b"%d" % len(DATA))
        self.assertEqual(peer.headers()[b"x-cache"], b"INFLIGHT")
        self.assertEqual(peer.body(), DATA[:300])
        response.send(DATA[300:])
        self.assertEqual(peer.body(), DATA[:-1])
        response.end()
        self.assertEqual(peer.body(), DATA)
        self.assertFalse(peer.transport.disconnecting)
        self.assertEqual(self.upstream.urls, [self.spec.url])

    def test_backpressure(self) -> None:
        """
        A peer that stops reading pauses only its own follower; it gets the
        rest when it reads again.
        """
        self.downloads.start_or_join(self.spec)
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        peer = self.peer().ask(signature=self.signed())
        peer.pause()
        response.send(DATA)
        response.end()
        self.assertEqual(peer.body(), b"")
        peer.resume()
        self.assertEqual(peer.body(), DATA)

    def test_aborted_when_download_fails(self) -> None:
        """
        A peer following a download that fails after its body started is
        aborted, never given a clean short response.
        """
        self.downloads.start_or_join(self.spec)
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        response.send(DATA[:100])
        peer = self.peer().ask(signature=self.signed())
        with capturedLogs():
            response.send(b"x" * (len(DATA) - 100))
            response.end()
        self.assertTrue(peer.transport.disconnected)
        self.assertNotEqual(peer.body(), DATA)

    def test_failed_before_body(self) -> None:
        """A download that fails before its body started answers the peer 502."""
        self.downloads.start_or_join(self.spec)
        peer = self.peer().ask(signature=self.signed())
        with capturedLogs():
            self.upstream.respond(HandFedResponse(code=500))
        self.assertEqual(peer.status(), 502)

    def test_nothing_in_flight(self) -> None:
        """
        A signed request for a file nobody downloads on this node is 404:
        no download is started, nothing is served from the cache.
        """
        peer = self.peer().ask(signature=self.signed())
        self.assertEqual(peer.status(), 404)
        self.assertEqual(self.upstream.urls, [])
        for path in (b"/-/inflight/", b"/-/inflight/pypi/%2e%2e/x", b"/-/inflight/%ff"):
            peer = self.peer().ask(path, self.signed(path))
            self.assertEqual(peer.status(), 404, path)

    def test_refused(self) -> None:
        """
        A request without a signature, with one of another path, another
        secret or a stale or future time, or a garbled one, is 403, and
        leaves the download alone.
        """
        self.downloads.start_or_join(self.spec)
        response = self.upstream.respond(HandFedResponse(length=len(DATA)))
        response.send(DATA[:10])
        other = sign(b"another-secret-entirely", b"GET", PATH, self.clock.seconds())
        stamp, _, mac = self.signed().partition(b".")
        bad = [
            None,
            b"",
            self.signed(b"/-/inflight/pypi/other"),
            other,
            self.signed(skew=-VALIDITY - 2),
            self.signed(skew=VALIDITY + 2),
            mac,
            stamp + b"." + mac[:-1],
            b"x" + stamp + b"." + mac,
        ]
        with capturedLogs() as events:
            for signature in bad:
                peer = self.peer().ask(signature=signature)
                self.assertEqual(peer.status(), 403, signature)
        self.assertEqual(self.downloads.in_flight()[0].followers, 0)
        self.assertNotIn(SECRET.decode(), str(events))

    def test_within_validity(self) -> None:
        """A signature made a little before or after now is accepted."""
        self.downloads.start_or_join(self.spec)
        self.upstream.respond(HandFedResponse(length=len(DATA)))
        for skew in (-VALIDITY + 1, VALIDITY - 1):
            peer = self.peer().ask(signature=self.signed(skew=skew))
            self.assertEqual(peer.status(), 200)

    def test_head_not_allowed(self) -> None:
        """Only GET is served: HEAD is 405 and starts nothing."""
        signature = sign(SECRET, b"HEAD", PATH, self.clock.seconds())
        peer = self.peer().ask(signature=signature, method=b"HEAD")
        self.assertEqual(peer.status(), 405)
        self.assertEqual(self.upstream.urls, [])
