# -*- test-case-name: tests.web.test_sendfile -*-
"""
Sending a local file's bytes with ``sendfile(2)``: the kernel copies them
from the page cache to the client's socket, never through Python.

Only for a response on a plain TCP connection (no TLS, no HTTP/2) from a
reader of a local file (:class:`~twisted_pypi.storage.interfaces.ILocalFile`);
:func:`plain_socket` says whether a request's connection is one.  Everything
else, and any system where ``sendfile`` turns out not to work, is served by
reading the file through the reactor (:mod:`twisted_pypi.web.fileserve`).

How it fits Twisted's TCP transport
(:class:`twisted.internet.abstract.FileDescriptor`): the transport keeps
its own buffer of bytes written to it (the response headers, multipart
boundaries) and sends them when the socket is writable.  The file's bytes
must follow those, so ``sendfile`` is called only while that buffer is
empty.  :class:`ZeroCopyBody` registers with the request as a streaming
producer (so the HTTP channel passes it the transport's pauses and a
disconnect's ``stopProducing``) and, to wait, marks the transport's producer
(the channel) paused and asks the transport to watch for writability: once
the transport has flushed its buffer into a writable socket it resumes the
channel, which resumes this body.  There is one reactor registration per
socket (the transport's), and no byte of the file is ever held in memory:
a slow client makes the socket refuse more (``EAGAIN``) and the body waits,
so the proxy's memory does not grow.  Each turn of the reactor sends at most
``turn_bytes``, so a fast client does not starve the other connections.

``sendfile`` reads the file as it copies: from memory when the range is in
the page cache, else from the disk, which the reactor must not wait for.
So each range is first asked of the page cache
(:meth:`~twisted_pypi.storage.interfaces.ILocalFile.in_memory`), and one
that is not there is sent by a pool thread (on its own duplicate of the
socket's descriptor, so that the number stays this connection's while the
thread holds it), the body waiting for the thread's answer.

This reads and sets attributes of ``FileDescriptor`` that no interface
names (``dataBuffer``, ``offset``, ``_tempDataLen``, ``producerPaused``), so
:func:`plain_socket` accepts only transports that are ``FileDescriptor``
instances; the loopback tests run it against Twisted's real TCP transport.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Callable, Sequence

from twisted.internet.abstract import FileDescriptor
from twisted.internet.interfaces import IPushProducer, ISSLTransport
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.server import Request
from zope.interface import implementer

from twisted_pypi.core.runner import Runner, thread_runner
from twisted_pypi.storage.interfaces import IFileReader, ILocalFile
from twisted_pypi.web.ranges import Part
from twisted_pypi.web.respond import abort
from twisted_pypi.web.sendaway import (
    READ_AHEAD,
    SendFile,
    send_then_read_ahead,
)

__all__ = [
    "DEFAULT_SEND_FILE",
    "TURN_BYTES",
    "Fallback",
    "SendFile",
    "ZeroCopyBody",
    "plain_socket",
]

log = Logger()

#: Serves the rest of a body by reading the file instead: the parts left
#: (the first one's prefix already sent) and the trailer.
Fallback = Callable[[list[Part], bytes], None]

#: ``sendfile`` where it is known to copy a file to a socket (Linux), else
#: ``None``: elsewhere files are read through the reactor.
DEFAULT_SEND_FILE: SendFile | None = (
    os.sendfile
    if sys.platform.startswith("linux") and hasattr(os, "sendfile")
    else None
)

#: The most bytes sent to one client in one turn of the reactor.
TURN_BYTES = 4 * 1024 * 1024

#: ``sendfile`` cannot copy between these two descriptors: read instead.
_UNSUPPORTED = frozenset(
    {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOTSOCK}
)

#: The client is gone.
_GONE = frozenset(
    {
        errno.EPIPE,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ENOTCONN,
        errno.ESHUTDOWN,
    }
)


def plain_socket(request: Request) -> tuple[FileDescriptor, int] | None:
    """
    The transport and socket of a request on a plain TCP connection of
    Twisted's own, whose producer is the request's HTTP/1 channel: what
    :class:`ZeroCopyBody` needs.

    :param request: The request.
    :return: ``(transport, socket descriptor)``, or ``None`` for anything
        else (TLS, HTTP/2, a test's string transport, a closed connection).
    """
    channel = request.channel
    transport = getattr(channel, "transport", None)
    if not isinstance(transport, FileDescriptor) or not transport.connected:
        return None
    if ISSLTransport.providedBy(transport) or getattr(transport, "TLS", False):
        return None
    producer: object = transport.producer
    if producer is not channel or not transport.streamingProducer:
        return None
    handle = getattr(transport, "getHandle", lambda: None)()
    if not isinstance(handle, socket.socket) or handle.fileno() < 0:
        return None
    return transport, handle.fileno()


def _buffered(transport: FileDescriptor) -> int:
    """
    Bytes written to ``transport`` that it has not sent yet: its two
    buffers (see :meth:`FileDescriptor.doWrite`).
    """
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


@implementer(IPushProducer)
class ZeroCopyBody:
    """
    Sends the parts of a body with ``sendfile``: each part's prefix written
    through the request, then its range of the file copied by the kernel
    once the transport has sent what it holds; then the trailer, and the
    request is finished.  Registered on the request for the whole body.
    """

    def __init__(
        self,
        request: Request,
        transport: FileDescriptor,
        sock: int,
        reader: IFileReader,
        parts: Sequence[Part],
        trailer: bytes,
        send: SendFile,
        fallback: Fallback,
        turn_bytes: int = TURN_BYTES,
        run: Runner | None = None,
    ) -> None:
        """
        :param request: The request, headers set, nothing written yet.
        :param transport: Its TCP transport (see :func:`plain_socket`).
        :param sock: Its socket's descriptor.
        :param reader: The open file, an :class:`ILocalFile`; closed when
            the body ends (or handed to ``fallback``).
        :param parts: The parts, in order.
        :param trailer: Bytes after the last part.
        :param send: ``os.sendfile`` or a stand-in.
        :param fallback: Serves the rest if ``sendfile`` is refused.
        :param turn_bytes: The most bytes sent in one turn of the reactor.
        :param run: Runs a ``sendfile`` of a range not in memory in a
            thread; by default in the thread pool of the transport's
            reactor.
        """
        self._request = request
        self._transport = transport
        self._sock = sock
        self._reader = reader
        self._fd = ILocalFile(reader).fileno()
        self._parts = list(parts)
        self._trailer = trailer
        self._send = send
        self._fallback = fallback
        self._turn_bytes = turn_bytes
        self._run = run
        self._local = ILocalFile(reader)
        self._spare: int | None = None
        self._away = False
        self._close_reader = False
        self._index = 0
        self._offset = 0
        self._remaining = 0
        self._paused = False
        self._pumping = False
        self._done = False

    def start(self) -> None:
        """Write the headers, register with the request and send."""
        self._request.write(b"")
        self._request.registerProducer(self, True)
        self._request.notifyFinish().addErrback(lambda _: self.stopProducing())
        self._pump()

    # IPushProducer, for the request (the channel, for the transport).

    def pauseProducing(self) -> None:
        """The transport's buffer is full: send nothing until resumed."""
        self._paused = True

    def resumeProducing(self) -> None:
        """The transport has sent what it held: send on."""
        self._paused = False
        self._pump()

    def stopProducing(self) -> None:
        """The client is gone: stop and close the file."""
        self._close()

    # Sending.

    def _pump(self) -> None:
        """Send until the socket is full, the turn is over, or all is sent."""
        if self._pumping or self._done or self._away:
            return
        self._pumping = True
        try:
            self._send_parts()
        finally:
            self._pumping = False

    def _send_parts(self) -> None:
        """The loop of :meth:`_pump`."""
        sent = 0
        while not self._done and not self._paused:
            if self._remaining == 0:
                if self._index == len(self._parts):
                    self._finish()
                    return
                part = self._parts[self._index]
                self._index += 1
                self._offset, self._remaining = part.offset, part.length
                if part.prefix:
                    self._request.write(part.prefix)
                continue
            if _buffered(self._transport) or sent >= self._turn_bytes:
                self._wait()
                return
            count = min(self._remaining, self._turn_bytes - sent)
            if not self._local.in_memory(self._offset, count):
                self._send_away(count)
                return
            try:
                n = self._send(self._sock, self._fd, self._offset, count)
            except BlockingIOError:
                self._wait()
                return
            except OSError as e:
                self._failed(e)
                return
            if not self._sent(n):
                return
            sent += n

    def _sent(self, n: int) -> bool:
        """
        ``sendfile`` sent ``n`` bytes: count them.

        :return: Whether to send on (``False``: the file ended early, and
            the connection is aborted).
        """
        if n == 0:
            log.warn(
                "A cached file ended {missing} bytes early: connection aborted",
                missing=self._remaining,
            )
            self._abort()
            return False
        self._offset += n
        self._remaining -= n
        self._request.sentLength += n
        return True

    def _send_away(self, count: int) -> None:
        """
        Send ``count`` bytes not in memory from a pool thread, which waits
        for the disk instead of the reactor; go on when it is done.
        """
        if self._spare is None:
            self._spare = os.dup(self._sock)
        send, sock, fd, offset = self._send, self._spare, self._fd, self._offset
        ahead = min(self._remaining, READ_AHEAD)
        away = send_then_read_ahead(send, sock, fd, offset, count, ahead)
        run = self._run or thread_runner(self._transport.reactor)
        self._away = True
        work = run(away)
        work.addCallbacks(self._back, self._back_failed)

    def _back(self, n: int) -> None:
        """The thread sent ``n`` bytes: send on, unless the body ended."""
        self._away = False
        if self._done:
            self._tidy()
        elif self._sent(n):
            self._pump()

    def _back_failed(self, failure: Failure) -> None:
        """The thread's ``sendfile`` failed: as if it had been this one's."""
        self._away = False
        error = failure.value
        if self._done:
            self._tidy()
        elif isinstance(error, BlockingIOError):
            self._wait()
        elif isinstance(error, OSError):
            self._failed(error)
        else:
            log.failure("Cannot send a cached file", failure)
            self._abort()

    def _wait(self) -> None:
        """
        Be resumed once the transport has sent what it holds and the socket
        takes more: its producer (the channel) counts as paused, so the
        transport resumes it when its buffer runs empty.
        """
        self._transport.producerPaused = True
        self._transport.startWriting()

    def _failed(self, error: OSError) -> None:
        """``sendfile`` failed: read instead, or give up on the client."""
        if error.errno in _UNSUPPORTED:
            log.debug("sendfile refused ({error}): reading the file", error=error)
            self._done = True  # the reader is the fallback's now
            self._tidy()
            self._request.unregisterProducer()
            rest = [Part(b"", self._offset, self._remaining)]
            self._fallback(rest + self._parts[self._index :], self._trailer)
            return
        if error.errno not in _GONE:
            log.warn("Cannot send a cached file: {error}", error=error)
        self._abort()

    def _abort(self) -> None:
        """The promised length cannot be kept: abort the connection."""
        self._close()
        self._request.unregisterProducer()
        abort(self._request)

    def _finish(self) -> None:
        """Every part was sent."""
        if self._trailer:
            self._request.write(self._trailer)
        self._close()
        self._request.unregisterProducer()
        self._request.finish()

    def _close(self) -> None:
        """Stop for good and close the file (unless done already)."""
        if not self._done:
            self._done = True
            self._close_reader = True
        self._tidy()

    def _tidy(self) -> None:
        """
        Once the body is over and no thread holds them, close the file (if
        it is still this body's) and the socket's duplicate.
        """
        if not self._done or self._away:
            return
        if self._close_reader:
            self._close_reader = False
            self._reader.close()
        if self._spare is not None:
            os.close(self._spare)
            self._spare = None
