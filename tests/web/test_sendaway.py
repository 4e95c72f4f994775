"""
Tests for :mod:`twisted_pypi.web.sendaway`: the work a pool thread does
for a range not in the page cache, and where it runs.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorThreads
from twisted.internet.task import Clock
from twisted.python.threadpool import ThreadPool
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from twisted_pypi.web import sendaway
from twisted_pypi.web.sendaway import READ_AHEAD, pool_runner, send_then_read_ahead


class _Pool(ThreadPool):
    """A thread pool that runs work at once, recording that it did."""

    def __init__(self) -> None:
        super().__init__()
        self.ran = 0

    def callInThreadWithCallback(  # type: ignore[override]
        self, on_result: Callable[[bool, Any], None], work: Callable[[], Any]
    ) -> None:
        """Run ``work`` and report its outcome, as a pool thread would."""
        self.ran += 1
        try:
            result = work()
        except BaseException as e:
            on_result(False, e)
        else:
            on_result(True, result)


@implementer(IReactorThreads)
class _ThreadedReactor(Clock):
    """A clock with a thread pool, run by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = _Pool()

    def getThreadPool(self) -> _Pool:
        """The pool."""
        return self.pool

    def callFromThread(
        self, callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> None:
        """Call ``callable`` at once (the test is the reactor)."""
        callable(*args, **kwargs)

    def callInThread(
        self, callable: Callable[..., Any], *args: object, **kwargs: object
    ) -> None:
        """Not used."""
        raise NotImplementedError

    def suggestThreadPoolSize(self, size: int) -> None:
        """Not used."""


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


class PoolRunnerTests(SynchronousTestCase):
    """
    :func:`pool_runner` runs work in the reactor's thread pool, or at once
    for a reactor without threads.
    """

    def test_in_pool(self) -> None:
        """
        With a threaded reactor the work runs in its pool, and the result
        (or the error) comes back in a Deferred.
        """
        reactor = _ThreadedReactor()
        run = pool_runner(reactor)
        self.assertEqual(self.successResultOf(run(lambda: 42)), 42)
        self.assertEqual(reactor.pool.ran, 1)

        def fail() -> int:
            raise OSError(errno.EIO, "disk")

        self.failureResultOf(run(fail), OSError)
        self.assertEqual(reactor.pool.ran, 2)

    def test_without_threads(self) -> None:
        """
        A reactor without threads (a test's clock) runs the work at once;
        an error is a failed Deferred, not raised.
        """
        run = pool_runner(Clock())
        self.assertEqual(self.successResultOf(run(lambda: 3)), 3)

        def fail() -> int:
            raise OSError(errno.EIO, "disk")

        self.failureResultOf(run(fail), OSError)
