"""
Tests for :mod:`twisted_pypi.core.runner`: where blocking work runs.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IReactorThreads
from twisted.internet.task import Clock
from twisted.python.threadpool import ThreadPool
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from twisted_pypi.core.runner import run_now, thread_runner


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


class ThreadRunnerTests(SynchronousTestCase):
    """
    :func:`thread_runner` runs work in the reactor's thread pool, or at once
    for a reactor without threads.
    """

    def test_in_pool(self) -> None:
        """
        With a threaded reactor the work runs in its pool, and the result
        (or the error) comes back in a Deferred.
        """
        reactor = _ThreadedReactor()
        run = thread_runner(reactor)
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
        run = thread_runner(Clock())
        self.assertEqual(self.successResultOf(run(lambda: 3)), 3)

        def fail() -> int:
            raise OSError(errno.EIO, "disk")

        self.failureResultOf(run(fail), OSError)


class RunNowTests(SynchronousTestCase):
    """
    :func:`run_now` runs work at once.
    """

    def test_result_and_failure(self) -> None:
        """
        The work's result fires the Deferred before ``run_now`` returns; an
        exception fails it rather than being raised.
        """
        self.assertEqual(self.successResultOf(run_now(lambda: "done")), "done")

        def fail() -> None:
            raise ValueError("bad")

        self.failureResultOf(run_now(fail), ValueError)
