# -*- test-case-name: tests.web.test_sendaway -*-
"""
Sending a range of a local file that is not in the page cache: from a pool
thread, which waits for the disk instead of the reactor (see
:class:`~twisted_pypi.web.sendfile.ZeroCopyBody`), and then has the kernel
read on ahead, so that the next ranges are in memory when the reactor
comes to send them.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["READ_AHEAD", "SendFile", "send_then_read_ahead"]

#: ``os.sendfile``'s signature: ``(socket fd, file fd, offset, count)`` to
#: the bytes sent, raising :class:`OSError` (``BlockingIOError`` when the
#: socket takes nothing more now).
SendFile = Callable[[int, int, int, int], int]


#: Bytes past what a pool thread sent that the kernel is asked to read into
#: the page cache (``POSIX_FADV_WILLNEED``, which does not wait for them),
#: so that the next ranges are in memory and sent by the reactor.
READ_AHEAD = 8 * 1024 * 1024


def send_then_read_ahead(
    send: SendFile, sock: int, fd: int, offset: int, count: int, ahead: int
) -> Callable[[], int]:
    """
    The work of a pool thread: ``sendfile`` ``count`` bytes from ``offset``,
    then ask the kernel to read the ``ahead`` bytes after those sent.

    :param send: ``os.sendfile`` or a stand-in.
    :param sock: The socket's descriptor (a duplicate the body owns).
    :param fd: The file's descriptor.
    :return: The work, returning what ``send`` returns.
    """

    def work() -> int:
        """Send, then have the kernel read on while the reactor sends."""
        sent = send(sock, fd, offset, count)
        if sent > 0:
            _read_ahead(fd, offset + sent, ahead)
        return sent

    return work


def _read_ahead(fd: int, offset: int, length: int) -> None:
    """
    Ask the kernel to start reading a range of a file into the page cache
    (nothing where the system has no ``posix_fadvise``, or refuses).
    """
    advise = getattr(os, "posix_fadvise", None)
    if advise is None or length <= 0:
        return
    try:
        advise(fd, offset, length, os.POSIX_FADV_WILLNEED)
    except OSError:
        pass
