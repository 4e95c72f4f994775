"""
Tests for :mod:`twisted_pypi.upstream.peer`: GETting a file in flight on
another node, signed.  The whole path between two real nodes is in
:mod:`tests.files.test_cluster_loopback`.
"""

from __future__ import annotations

from twisted.internet.defer import TimeoutError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.objectstore.fakeagent import FakeAgent
from twisted_pypi.core.cluster import verify
from twisted_pypi.upstream.peer import peer_fetcher

SECRET = b"a-cluster-secret-for-tests"
SEGMENTS = ("pypi", "https", "files.example", "packages", "a b-1.0.tar.gz")


class PeerFetchTests(SynchronousTestCase):
    """
    :func:`peer_fetcher`.
    """

    def setUp(self) -> None:
        """A fake agent, a clock at a wall-clock time."""
        self.agent = FakeAgent()
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.fetch = peer_fetcher(self.agent, self.clock, SECRET, 10.0)

    def test_signed_request(self) -> None:
        """
        The request GETs the node's ``/-/inflight/`` URL of the file, raw
        bytes, with a signature of that path the node can verify.
        """
        self.fetch("http://10.0.0.5:8080/", SEGMENTS)
        [sent] = self.agent.sent
        path = b"/-/inflight/pypi/https/files.example/packages/a%20b-1.0.tar.gz"
        self.assertEqual(
            (sent.method, sent.url), (b"GET", b"http://10.0.0.5:8080" + path)
        )
        self.assertEqual(sent.header("accept-encoding"), "identity")
        signature = sent.header("x-pypiproxy-node-auth")
        assert signature is not None
        now = self.clock.seconds()
        self.assertTrue(verify(SECRET, b"GET", path, signature.encode(), now))

    def test_node_under_a_path(self) -> None:
        """A node URL with a path signs the full path it requests."""
        self.fetch("http://lb.internal/node1", SEGMENTS)
        [sent] = self.agent.sent
        self.assertTrue(
            sent.url.startswith(b"http://lb.internal/node1/-/inflight/pypi/")
        )
        signature = sent.header("x-pypiproxy-node-auth")
        assert signature is not None
        path = sent.url[len(b"http://lb.internal") :]
        self.assertTrue(
            verify(SECRET, b"GET", path, signature.encode(), self.clock.seconds())
        )

    def test_response(self) -> None:
        """The answer is a streaming response with its status and length."""
        d = self.fetch("http://10.0.0.5:8080", SEGMENTS)
        self.agent.sent[0].respond(200, b"x" * 7)
        response = self.successResultOf(d)
        self.assertEqual((response.code, response.length), (200, 7))

    def test_timeout(self) -> None:
        """No response headers in time fails with a TimeoutError."""
        d = self.fetch("http://10.0.0.5:8080", SEGMENTS)
        self.clock.advance(10.0)
        self.failureResultOf(d, TimeoutError)
