# -*- test-case-name: tests.core.test_runner -*-
"""
Blocking work handed away from the reactor thread: what a runner is, the
runner of a reactor's thread pool, and the runner that works at once (for
tests, and for the commands that have no reactor to keep responsive).

Every layer that parses, hashes, compresses or reads and writes files or
records of any size is given a :data:`Runner`, never a reactor of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorThreads
from twisted.internet.threads import deferToThreadPool

__all__ = ["Runner", "run_now", "thread_runner"]

T = TypeVar("T")

#: Runs blocking work away from the reactor thread; the Deferred fires, in
#: the reactor thread, with the work's result or failure.
Runner = Callable[[Callable[[], Any]], Deferred[Any]]


def run_now(work: Callable[[], T]) -> Deferred[T]:
    """
    Run ``work`` at once, on this thread: the :data:`Runner` of tests and of
    commands that have no reactor to keep responsive.

    :param work: The work.
    :return: Fired with its result or failure.
    """
    return maybeDeferred(work)


def thread_runner(reactor: Any) -> Runner:
    """
    Runs work in ``reactor``'s thread pool; at once (:func:`run_now`) for a
    reactor without threads (a test's memory reactor or clock).

    :param reactor: The reactor.
    """
    if not IReactorThreads.providedBy(reactor):
        return run_now

    def run(work: Callable[[], Any]) -> Deferred[Any]:
        """Run ``work`` in a pool thread."""
        return deferToThreadPool(reactor, reactor.getThreadPool(), work)

    return run
