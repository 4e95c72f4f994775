"""
Tests for :mod:`twisted_pypi.web.respond`.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from tests.fakes import parse_raw
from twisted_pypi.web.respond import SLICE, accepts_gzip, send_body


class _Body(Resource):
    """
    Answers every GET with a fixed body through :func:`send_body`.
    """

    isLeaf = True

    def __init__(self, body: bytes, paused: bool = False) -> None:
        """
        :param body: The body of every response.
        :param paused: Pause the body's producer as soon as it registers,
            as a connection that is already full would.
        """
        super().__init__()
        self.body = body
        self.paused = paused
        self.producers: list[Any] = []

    def render_GET(self, request: Request) -> int:
        register = request.registerProducer

        def register_paused(producer: Any, streaming: bool) -> None:
            register(producer, streaming)
            self.producers.append(producer)
            if self.paused:
                producer.pauseProducing()

        request.registerProducer = register_paused  # type: ignore[method-assign]
        request.setHeader(b"content-length", str(len(self.body)).encode())
        send_body(request, self.body)
        return NOT_DONE_YET


def connect(body: bytes) -> StringTransport:
    """
    Send a GET to a site answering with ``body``; return the connection.
    """
    site = Site(_Body(body), reactor=Clock())
    protocol = site.buildProtocol(None)
    transport = StringTransport()
    assert protocol is not None
    protocol.makeConnection(transport)
    protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    return transport


class SendBodyTests(SynchronousTestCase):
    """
    Writing response bodies.
    """

    def test_small_body(self) -> None:
        """
        A small body is sent whole and the response finished.
        """
        transport = connect(b"hello")
        code, headers, body = parse_raw(transport.value())
        self.assertEqual((code, body), (200, b"hello"))
        self.assertEqual(headers[b"content-length"], b"5")

    def test_large_body_in_slices(self) -> None:
        """
        A large body is written in slices while the connection is not
        paused; a paused connection receives nothing more until it resumes,
        and then the whole body arrives and the producer is unregistered.
        """
        body = bytes(range(256)) * (SLICE * 3 // 256 + 7)
        resource = _Body(body, paused=True)
        site = Site(resource, reactor=Clock())
        protocol = site.buildProtocol(None)
        assert protocol is not None
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        producers = resource.producers
        self.assertEqual(len(producers), 1)
        self.assertEqual(transport.value(), b"")
        producers[0].resumeProducing()
        code, headers, received = parse_raw(transport.value())
        self.assertEqual(code, 200)
        self.assertEqual(received, body)
        self.assertEqual(headers[b"content-length"], str(len(body)).encode())

    def test_pause_mid_body(self) -> None:
        """
        A connection that fills up after the first slice gets no more until
        it has room again.
        """
        body = b"x" * (SLICE * 3)
        resource = _Body(body)
        site = Site(resource, reactor=Clock())
        protocol = site.buildProtocol(None)
        assert protocol is not None
        transport = StringTransport()
        protocol.makeConnection(transport)
        original = transport.write

        def write_then_fill(data: bytes) -> None:
            original(data)
            if resource.producers:
                resource.producers[0].pauseProducing()

        transport.write = write_then_fill  # type: ignore[method-assign]
        protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        _, _, first = parse_raw(transport.value())
        self.assertEqual(first, body[:SLICE])
        transport.write = original  # type: ignore[method-assign]
        resource.producers[0].resumeProducing()
        _, _, received = parse_raw(transport.value())
        self.assertEqual(received, body)


class AcceptsGzipTests(SynchronousTestCase):
    """
    Reading ``Accept-Encoding``.
    """

    def test_values(self) -> None:
        """
        gzip (or ``*``) with a positive q is accepted; q=0 or its absence is
        not.
        """
        from twisted.web.test.requesthelper import DummyRequest

        cases = {
            b"gzip, deflate": True,
            b"deflate, gzip;q=0.5": True,
            b"*": True,
            b"gzip;q=0": False,
            b"identity": False,
            b"br, zstd": False,
        }
        for header, expected in cases.items():
            request = DummyRequest([b""])
            request.requestHeaders.setRawHeaders(b"accept-encoding", [header])
            self.assertEqual(accepts_gzip(request), expected, header)  # type: ignore[arg-type]
