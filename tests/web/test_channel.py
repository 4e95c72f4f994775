"""
Tests for :mod:`twisted_pypi.web.channel`: a deadline for each request's
headers, and 431 for headers that are too large.
"""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import reactor
from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import MemoryReactor, StringTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.web.channel import HEADER_TIMEOUT, ProxyChannel
from twisted_pypi.web.connections import ConnectionTable
from twisted_pypi.web.site import ProxySite


class Hello(Resource):
    """
    Answers ``hello``, or keeps the request open if asked to.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.held: list[Request] = []

    def render_GET(self, request: Request) -> bytes | int:
        """
        ``hello``; or nothing yet for ``/hold``.
        """
        if request.path == b"/hold":
            self.held.append(request)
            return NOT_DONE_YET
        return b"hello"


REQUEST = b"GET / HTTP/1.1\r\nHost: proxy.test\r\n\r\n"


class HeaderDeadlineTests(SynchronousTestCase):
    """
    A client has :data:`HEADER_TIMEOUT` seconds in all to send a request's
    headers, however it spreads them out.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.resource = Hello()
        self.site = ProxySite(
            self.resource,
            self.clock,
            reactor=self.clock,
            connections=ConnectionTable(self.clock, lambda: None),
        )

    def connect(self) -> tuple[ProxyChannel, StringTransport]:
        """
        A new connection to the site.
        """
        channel = self.site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4000))
        transport = StringTransport()
        channel.makeConnection(transport)
        return channel, transport

    def test_trickled_headers_closed(self) -> None:
        """
        A client sending one byte of its headers a second is answered 408 and
        disconnected at the deadline, although no second passes without a
        byte.
        """
        channel, transport = self.connect()
        for byte in REQUEST[:-1][: int(HEADER_TIMEOUT) - 1]:
            channel.dataReceived(bytes([byte]))
            self.clock.advance(1)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(transport.disconnecting)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 408 "))

    def test_idle_connection_closed(self) -> None:
        """
        A connection on which nothing is sent is closed at the deadline
        without an answer.
        """
        _, transport = self.connect()
        self.clock.advance(HEADER_TIMEOUT)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), b"")

    def test_headers_in_time(self) -> None:
        """
        A request whose headers arrive in time is answered, however long the
        answer then takes.
        """
        channel, transport = self.connect()
        request = REQUEST.replace(b"/ ", b"/hold ")
        channel.dataReceived(request[:10])
        self.clock.advance(HEADER_TIMEOUT - 1)
        channel.dataReceived(request[10:])
        self.clock.advance(HEADER_TIMEOUT * 2)
        self.assertFalse(transport.disconnecting)
        [held] = self.resource.held
        held.write(b"late")
        held.finish()
        self.assertIn(b"late", transport.value())

    def test_next_request_deadline(self) -> None:
        """
        After a response, the next request's headers get a new deadline.
        """
        channel, transport = self.connect()
        self.clock.advance(HEADER_TIMEOUT - 1)
        channel.dataReceived(REQUEST)
        self.assertIn(b"hello", transport.value())
        self.clock.advance(HEADER_TIMEOUT - 1)
        self.assertFalse(transport.disconnecting)
        channel.dataReceived(REQUEST)
        self.assertEqual(transport.value().count(b"hello"), 2)
        self.clock.advance(HEADER_TIMEOUT)
        self.assertTrue(transport.disconnecting)

    def test_pipelined_request(self) -> None:
        """
        A request that was already received when the previous one ended is
        answered without a deadline running.
        """
        channel, transport = self.connect()
        channel.dataReceived(REQUEST.replace(b"/ ", b"/hold ") + REQUEST)
        self.clock.advance(HEADER_TIMEOUT * 2)
        self.assertFalse(transport.disconnecting)
        self.resource.held[0].finish()
        self.assertIn(b"hello", transport.value())
        self.clock.advance(HEADER_TIMEOUT - 1)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_no_deadline(self) -> None:
        """
        With no header timeout, only Twisted's idle timeout applies.
        """
        site: Any = ProxySite(self.resource, self.clock, reactor=self.clock,
                         header_timeout=None)  # fmt: skip
        channel = site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        channel.dataReceived(b"G")
        self.clock.advance(HEADER_TIMEOUT * 2)
        self.assertFalse(transport.disconnecting)


class LocalAddressTests(SynchronousTestCase):
    """
    The channel asks its transport for the local address once per
    connection, however many requests it answers.
    """

    def test_asked_once(self) -> None:
        """
        Three requests on one connection each learn the local address, from
        one ``getHost`` of the transport.
        """
        clock = Clock()
        site = ProxySite(Hello(), clock, reactor=clock)
        channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4000))
        transport = StringTransport(hostAddress=IPv4Address("TCP", "127.0.0.1", 8080))
        asked: list[object] = []
        original = transport.getHost

        def get_host() -> Any:
            asked.append(None)
            return original()

        transport.getHost = get_host  # type: ignore[method-assign]
        channel.makeConnection(transport)
        channel.dataReceived(REQUEST * 3)
        self.assertEqual(transport.value().count(b"hello"), 3)
        self.assertEqual(channel.getHost(), IPv4Address("TCP", "127.0.0.1", 8080))
        self.assertEqual(len(asked), 1)


class _Socket(FileDescriptor):
    """
    A transport of Twisted's own kind whose socket takes everything: what it
    was given to send, and when.
    """

    connected = True

    def __init__(self, reactor: MemoryReactor) -> None:
        super().__init__(reactor)
        self.sent = b""

    def writeSomeData(self, data: bytes) -> int:
        """Take all of ``data``."""
        self.sent += bytes(data)
        return len(data)

    def getHost(self) -> IPv4Address:
        """The server's address."""
        return IPv4Address("TCP", "127.0.0.1", 8080)

    def getPeer(self) -> IPv4Address:
        """The client's address."""
        return IPv4Address("TCP", "127.0.0.1", 4000)


class SendNowTests(SynchronousTestCase):
    """
    A finished response goes to the socket in the turn that finished it,
    not a turn of the reactor later.
    """

    def connect(self) -> tuple[MemoryReactor, ProxyChannel, _Socket]:
        """A connection to a site, over a transport of Twisted's own kind."""
        reactor = MemoryReactor()
        clock = Clock()
        site = ProxySite(Hello(), clock, reactor=clock)
        channel = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4000))
        transport = _Socket(reactor)
        channel.makeConnection(transport)
        return reactor, channel, transport

    def test_sent_at_once(self) -> None:
        """
        The answer is in the socket when the request has been answered, and
        the transport no longer waits to be told the socket is writable.
        """
        reactor, channel, transport = self.connect()
        channel.dataReceived(REQUEST)
        self.assertIn(b"hello", transport.sent)
        self.assertNotIn(transport, reactor.getWriters())

    def test_closing_left_to_reactor(self) -> None:
        """
        A connection closing after its response is left to the reactor,
        which sends what is left and then closes.
        """
        reactor, channel, transport = self.connect()
        channel.dataReceived(
            REQUEST.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n")
        )
        self.assertEqual(transport.sent, b"")
        self.assertIn(transport, reactor.getWriters())


class HeaderSizeTests(SynchronousTestCase):
    """
    Headers over ``totalHeadersSize`` are refused with 431.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.site = ProxySite(Hello(), self.clock, reactor=self.clock)
        self.channel = self.site.buildProtocol(None)
        self.transport = StringTransport()
        self.channel.makeConnection(self.transport)

    def test_many_headers(self) -> None:
        """
        Many header lines adding up to more than 16 KiB get 431, and the
        connection closes.
        """
        lines = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 100) for i in range(200))
        self.channel.dataReceived(b"GET / HTTP/1.1\r\n" + lines + b"\r\n")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 431 "))
        self.assertEqual(self.transport.value().count(b"HTTP/1.1"), 1)
        self.assertTrue(self.transport.disconnecting)

    def test_long_line(self) -> None:
        """
        A header line longer than 16 KiB gets 431 before it ends.
        """
        self.channel.dataReceived(b"GET / HTTP/1.1\r\nX-Long: " + b"y" * (20 << 10))
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 431 "))
        self.assertTrue(self.transport.disconnecting)

    def test_large_enough(self) -> None:
        """
        Headers of several KiB are fine.
        """
        lines = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"y" * 100) for i in range(50))
        self.channel.dataReceived(b"GET / HTTP/1.1\r\n" + lines + b"\r\n")
        self.assertTrue(self.transport.value().startswith(b"HTTP/1.1 200 "))


class LoopbackTests(TestCase):
    """
    The deadline on a real socket.
    """

    async def test_trickling_client(self) -> None:
        """
        A real client trickling its headers is disconnected at the deadline,
        while another client is answered.
        """
        site: Any = ProxySite(Hello(), reactor, header_timeout=1.0, reactor=reactor)
        port: Any = reactor.listenTCP(0, site, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        address = ("127.0.0.1", port.getHost().port)
        slow = socket.create_connection(address)
        self.addCleanup(slow.close)
        slow.setblocking(False)
        for byte in REQUEST[:5]:
            slow.send(bytes([byte]))
            await deferLater(reactor, 0.1)
        fast = socket.create_connection(address)
        self.addCleanup(fast.close)
        fast.setblocking(False)
        fast.send(
            REQUEST.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n")
        )
        received = {slow: b"", fast: b""}
        closed: set[socket.socket] = set()
        for _ in range(50):
            for sock in (slow, fast):
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except ConnectionError:
                    data = b""
                if data:
                    received[sock] += data
                else:
                    closed.add(sock)
            if len(closed) == 2:
                break
            await deferLater(reactor, 0.1)
        self.assertEqual(closed, {slow, fast})
        self.assertTrue(received[slow].startswith(b"HTTP/1.1 408 "))
        self.assertIn(b"hello", received[fast])
        # Let the server side of both connections go.
        await deferLater(reactor, 0.1)
