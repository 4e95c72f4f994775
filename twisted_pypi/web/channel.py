# -*- test-case-name: tests.web.test_channel -*-
"""
The proxy's HTTP/1.1 connection: Twisted's ``HTTPChannel`` with a deadline
for a request's headers and a clear answer to headers that are too large.

Twisted's idle timeout starts again with every byte received, so a client
sending its headers a byte at a time keeps a connection (and a file
descriptor) for ever.  :class:`ProxyChannel` gives the headers of each
request :data:`HEADER_TIMEOUT` seconds in all, from the moment the
connection waits for them (when it opens, and when the previous response
ends); a client that has not sent them all by then gets ``408 Request
Timeout`` (or, if it sent nothing, just the close of an idle connection).

The request line and headers together may have Twisted's
``totalHeadersSize`` bytes (16 KiB), as may a line not yet ended; past
that the client gets ``431 Request Header Fields Too Large`` and the
connection closes.

The channel reports to a :class:`~twisted_pypi.web.connections.ConnectionTable`
when it opens, waits for a request, receives one and closes, so that the
table can close the connection that has waited longest when there are too
many.
"""

from __future__ import annotations

from twisted.internet.abstract import FileDescriptor
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress, IDelayedCall
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel, Request

from twisted_pypi.web.connections import ConnectionTable

__all__ = ["HEADER_TIMEOUT", "ProxyChannel"]

#: Seconds a client has to send a request's line and headers.
HEADER_TIMEOUT = 20.0

_DONE = Failure(ConnectionDone())
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 44\r\n\r\n"
    b"The request's headers were not sent in time\n"
)
_TOO_LARGE_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: 37\r\n\r\n"
    b"The request's headers are too large.\n"
)


class ProxyChannel(HTTPChannel):
    """
    An ``HTTPChannel`` with a deadline for each request's headers, a 431 for
    headers that are too large, and a :class:`ConnectionTable` kept up to date.

    :ivar headerTimeout: Seconds for a request's headers, or ``None`` for no
        deadline (set by the site).
    :ivar connections: The table of the site's connections, if any (set by
        the site).
    """

    headerTimeout: float | None = HEADER_TIMEOUT
    connections: ConnectionTable | None = None

    _deadline: IDelayedCall | None = None
    _abort: IDelayedCall | None = None
    _started = False
    _host: IAddress | None = None

    def connectionMade(self) -> None:
        """
        Start the deadline for the first request's headers.
        """
        super().connectionMade()
        if self.connections is not None:
            self.connections.opened(self)
        self._await_request()

    def dataReceived(self, data: bytes) -> None:
        """
        Note that a request has begun, and receive its bytes.
        """
        if self._deadline is not None and data:
            self._started = True
        super().dataReceived(data)

    def lineReceived(self, line: bytes) -> None:
        """
        Refuse the request line or a header line that takes the headers past
        ``totalHeadersSize``; receive any other.
        """
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self._close(_TOO_LARGE_RESPONSE)
            return
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        """
        Refuse a line longer than ``MAX_LENGTH`` before it ends.
        """
        self._close(_TOO_LARGE_RESPONSE)

    def allHeadersReceived(self) -> None:
        """
        The headers are in time: stop their deadline.
        """
        self._stop_deadline()
        if self.connections is not None:
            self.connections.busy(self)
        super().allHeadersReceived()

    def getHost(self) -> IAddress:
        """
        The connection's local address, asked of the system once: every
        request asks it (a ``getsockname`` call each, in Twisted's channel).
        """
        if self._host is None:
            self._host = super().getHost()
        return self._host

    def requestDone(self, request: Request) -> None:
        """
        Start the deadline for the next request's headers, which may already
        be here.
        """
        if self.persistent:
            self._await_request()
        super().requestDone(request)
        self._send_now()

    def _send_now(self) -> None:
        """
        Hand a finished response to the system at once, not at the next turn
        of the reactor: Twisted's TCP transport only buffers what is written
        and asks the reactor to say when the socket can take it, one more
        turn (and ``epoll_wait``) per response, which nginx does not pay.
        Done only for a transport of Twisted's own file descriptors that is
        open; a failed send is left where it is, for the reactor to find at
        its next turn, as it would have.
        """
        transport: object = self.transport
        if (
            isinstance(transport, FileDescriptor)
            and transport.connected
            and not transport.disconnecting
            and (transport.dataBuffer or transport._tempDataLen)
        ):
            transport.doWrite()

    def connectionLost(self, reason: Failure = _DONE) -> None:
        """
        Forget the connection.
        """
        self._stop_deadline()
        if self._abort is not None and self._abort.active():
            self._abort.cancel()
        self._abort = None
        if self.connections is not None:
            self.connections.closed(self)
        super().connectionLost(reason)

    def evict(self) -> None:
        """
        Close the connection to make room for another (it waits for a
        request, whose headers it may have begun).
        """
        self._close(_TIMEOUT_RESPONSE if self._started else None)

    def _await_request(self) -> None:
        """
        Wait for a request's headers, until the deadline.
        """
        self._stop_deadline()
        self._started = False
        if self.connections is not None:
            self.connections.waiting(self)
        if self.headerTimeout is not None:
            self._deadline = self.callLater(self.headerTimeout, self._late)

    def _stop_deadline(self) -> None:
        """
        Cancel the deadline for the headers, if it is set.
        """
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _late(self) -> None:
        """
        The headers did not come in time: close the connection.
        """
        self._deadline = None
        if self.connections is not None:
            self.connections.late(self)
        self._close(_TIMEOUT_RESPONSE if self._started else None)

    def _close(self, response: bytes | None) -> None:
        """
        Send ``response``, if any, and close the connection; abort it if it
        is not closed ``abortTimeout`` seconds later.
        """
        self._stop_deadline()
        if self.transport is None or getattr(self.transport, "disconnecting", False):
            return
        # Closing now: the idle timeout has nothing left to do.
        self.setTimeout(None)
        if response is not None:
            self.transport.write(response)
        if self.abortTimeout is not None and self._abort is None:
            self._abort = self.callLater(self.abortTimeout, self.forceAbortClient)
        self.loseConnection()
