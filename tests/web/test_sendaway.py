"""
Tests for :mod:`twisted_pypi.web.sendaway`: the work a pool thread does
for a range not in the page cache.
"""

from __future__ import annotations

import errno
import os

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.web import sendaway
from twisted_pypi.web.sendaway import READ_AHEAD, send_then_read_ahead


class SendThenReadAheadTests(SynchronousTestCase):
    """
    The thread's work sends, then asks the kernel to read on from where the
    send ended.
    """

    def setUp(self) -> None:
        """Record the kernel's read-ahead requests."""
        self.advised: list[tuple[int, int, int, int]] = []
        self.patch(
            sendaway.os,
            "posix_fadvise",
            lambda *args: self.advised.append(args),
        )

    def test_reads_ahead_after_sent(self) -> None:
        """
        After sending 100 bytes from offset 1000, the kernel is asked to
        read the ``ahead`` bytes from 1100.
        """
        calls = []

        def send(sock: int, fd: int, offset: int, count: int) -> int:
            calls.append((sock, fd, offset, count))
            return 100

        work = send_then_read_ahead(send, 7, 8, 1000, 500, READ_AHEAD)
        self.assertEqual(work(), 100)
        self.assertEqual(calls, [(7, 8, 1000, 500)])
        self.assertEqual(self.advised, [(8, 1100, READ_AHEAD, os.POSIX_FADV_WILLNEED)])

    def test_nothing_sent(self) -> None:
        """
        A send that sent nothing (the file ended) asks nothing of the
        kernel, and says so; a failed send raises its error.
        """
        self.assertEqual(send_then_read_ahead(lambda *a: 0, 7, 8, 0, 10, 10)(), 0)

        def refuse(sock: int, fd: int, offset: int, count: int) -> int:
            raise BlockingIOError(errno.EAGAIN, "full")

        work = send_then_read_ahead(refuse, 7, 8, 0, 10, 10)
        self.assertRaises(BlockingIOError, work)
        self.assertEqual(self.advised, [])

    def test_advice_refused(self) -> None:
        """
        A kernel that refuses the advice does not fail the send.
        """

        def refuse(*args: object) -> None:
            raise OSError(errno.EINVAL, "no")

        self.patch(sendaway.os, "posix_fadvise", refuse)
        self.assertEqual(send_then_read_ahead(lambda *a: 5, 7, 8, 0, 10, 10)(), 5)
