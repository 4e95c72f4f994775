"""
A server connection over a real loopback TCP socket, driven by hand: the
transport is a :class:`twisted.internet.abstract.FileDescriptor` (the base of
Twisted's TCP transport, with its write buffer and producer handling), and a
test turns the "reactor" itself: the client end reads when told to, the
transport writes when its socket is writable.  So ``sendfile`` meets a real
kernel socket buffer, ``EAGAIN`` included, in a synchronous test.
"""

from __future__ import annotations

import errno
import os
import select
import socket
from collections.abc import Callable

from twisted.internet import main
from twisted.internet.abstract import FileDescriptor
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionAborted
from twisted.internet.protocol import Protocol
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

__all__ = ["HandConnection", "SocketTransport", "SpySend", "tcp_pair"]

#: Kernel socket buffer sizes asked for (the kernel doubles them), so that a
#: file of a few hundred KiB fills them many times over.
SMALL_BUFFER = 8192


def tcp_pair(small: bool = True) -> tuple[socket.socket, socket.socket]:
    """
    A connected ``(server, client)`` pair on 127.0.0.1, the server end
    non-blocking, both with small kernel buffers unless ``small`` is false.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if small:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
    if small:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    server.setblocking(False)
    client.setblocking(False)
    return server, client


class SocketTransport(FileDescriptor):
    """
    The server end of a connection: a ``FileDescriptor`` over a real socket.

    :ivar buffered_in: Bytes handed to :meth:`write` and
        :meth:`writeSequence` (through the transport's own buffer).
    :ivar aborted: Whether :meth:`abortConnection` was called.
    :ivar lost: Why the connection was lost, once it was.
    """

    def __init__(self, sock: socket.socket, reactor: MemoryReactorClock) -> None:
        """
        :param sock: The connected, non-blocking server socket.
        :param reactor: Records the transport as a writer.
        """
        super().__init__(reactor)
        self.socket = sock
        self.connected = 1
        self.buffered_in = 0
        self.aborted = False
        self.lost: Failure | None = None
        self.protocol: Protocol | None = None

    def fileno(self) -> int:
        """The socket's descriptor (-1 once closed)."""
        return self.socket.fileno()

    def getHandle(self) -> socket.socket:
        """The socket, as Twisted's TCP transport gives it."""
        return self.socket

    def getPeer(self) -> IPv4Address:
        """The client's address."""
        return IPv4Address("TCP", "127.0.0.1", 40000)

    def getHost(self) -> IPv4Address:
        """The server's address."""
        return IPv4Address("TCP", "127.0.0.1", 8080)

    def write(self, data: bytes) -> None:
        """Buffer ``data``, counting it."""
        self.buffered_in += len(data)
        super().write(data)

    def writeSequence(self, iovec: object) -> None:
        """Buffer each piece, counting them."""
        for data in iovec:  # type: ignore[attr-defined]
            self.write(data)

    def writeSomeData(self, data: bytes) -> int | BaseException:
        """Send what the socket takes now."""
        try:
            return self.socket.send(data)
        except BlockingIOError:
            return 0
        except OSError:
            return main.CONNECTION_LOST

    def abortConnection(self) -> None:
        """Drop the connection at once."""
        self.aborted = True
        self.connectionLost(Failure(ConnectionAborted()))

    def connectionLost(self, reason: Failure) -> None:
        """Close the socket and tell the protocol, once."""
        if self.lost is not None:
            return
        self.lost = reason
        super().connectionLost(reason)
        self.socket.close()
        if self.protocol is not None:
            self.protocol.connectionLost(reason)


class HandConnection:
    """
    A protocol served over a :class:`SocketTransport`, and its client end.

    :ivar received: What the client has read.
    """

    def __init__(self, protocol: Protocol, small: bool = True) -> None:
        """
        :param protocol: The server's protocol (an HTTP channel), connected
            here.
        :param small: Small kernel buffers (see :func:`tcp_pair`).
        """
        self.reactor = MemoryReactorClock()
        server, self.client = tcp_pair(small)
        self.transport = SocketTransport(server, self.reactor)
        self.transport.protocol = protocol
        self.protocol = protocol
        self.received = bytearray()
        protocol.makeConnection(self.transport)

    def close(self) -> None:
        """Close both ends."""
        self.client.close()
        if self.transport.lost is None:
            self.transport.socket.close()

    def send(self, data: bytes) -> None:
        """The client sends a request (handed straight to the protocol)."""
        self.protocol.dataReceived(data)

    def read(self) -> int:
        """The client reads what has arrived; :return: how many bytes."""
        got = 0
        while True:
            try:
                data = self.client.recv(1 << 20)
            except BlockingIOError:
                return got
            if not data:
                return got
            self.received += data
            got += len(data)

    def _writable(self) -> bool:
        """Whether the reactor would call the transport's ``doWrite`` now."""
        if self.transport not in self.reactor.getWriters():
            return False
        sock = self.transport.socket
        return sock.fileno() >= 0 and bool(select.select([], [sock], [], 0)[1])

    def run(self, read: bool = True, turns: int = 100_000) -> int:
        """
        Turn the reactor until nothing more happens: the client reads (if
        ``read``), the transport writes when its socket is writable.

        :return: How many times the transport was called to write.
        """
        writes = 0
        for _ in range(turns):
            moved = self.read() if read else 0
            if self._writable():
                writes += 1
                why = self.transport.doWrite()
                if why is not None:
                    self.transport.connectionLost(Failure(why))
                moved = 1
            if not moved:
                return writes
        raise AssertionError("the connection did not settle")


class SpySend:
    """
    ``os.sendfile`` with a record: each call's arguments and outcome, and
    whether the transport still held bytes when it was called (which would
    put the file's bytes before them).

    :ivar calls: ``(offset, count, sent or errno)`` of each call.
    :ivar early: Calls made while the transport's buffer was not empty.
    :ivar fds: The file descriptors sent from.
    """

    def __init__(
        self,
        transport: Callable[[], FileDescriptor | None] = lambda: None,
        fail: Callable[[int], int | None] = lambda n: None,
    ) -> None:
        """
        :param transport: The transport to check for buffered bytes.
        :param fail: Given the call's number (from 0), an errno to fail
            with instead, or ``None``.
        """
        self.transport = transport
        self.fail = fail
        self.calls: list[tuple[int, int, int]] = []
        self.early = 0
        self.fds: set[int] = set()

    @property
    def sent(self) -> int:
        """The bytes sent in all."""
        return sum(max(outcome, 0) for _, _, outcome in self.calls)

    @property
    def blocked(self) -> int:
        """How many calls met a full socket."""
        return sum(1 for *_, outcome in self.calls if outcome == -errno.EAGAIN)

    def __call__(self, out_fd: int, in_fd: int, offset: int, count: int) -> int:
        """Check, record and send."""
        transport = self.transport()
        if transport is not None:
            pending = len(transport.dataBuffer) - transport.offset
            if pending + transport._tempDataLen:
                self.early += 1
        self.fds.add(in_fd)
        failure = self.fail(len(self.calls))
        if failure is not None:
            self.calls.append((offset, count, -failure))
            raise OSError(failure, os.strerror(failure))
        try:
            sent = os.sendfile(out_fd, in_fd, offset, count)
        except OSError as e:
            self.calls.append((offset, count, -(e.errno or 0)))
            raise
        self.calls.append((offset, count, sent))
        return sent
