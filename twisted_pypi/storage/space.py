# -*- test-case-name: tests.storage.test_space -*-
"""
Whether a store has room: the one place that decides what a full disk (or a
full quota) looks like, says so in the log once, and remembers it for the
status page and the metrics until a write succeeds again.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Protocol

from attrs import define, field, frozen
from twisted.internet.interfaces import IReactorFromThreads, IReactorTime
from twisted.logger import Logger

from twisted_pypi.storage.interfaces import StoreFull

__all__ = [
    "FULL_ERRNOS",
    "QUIET",
    "SpaceReport",
    "StoreSpace",
    "ThreadedSpace",
    "as_store_full",
    "is_full_error",
    "space_report",
]

#: The errors a write gets when the store has no room: the disk is full, or
#: the user's quota is.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

#: Seconds after a warning that a full disk is not warned of again, when
#: evictions made a little room in between: a nearly full disk flips between
#: full and not several times a minute, and the log should say it once.
QUIET = 60.0

_log = Logger()


def is_full_error(error: BaseException) -> bool:
    """
    :param error: Why something could not be written.
    :return: Whether it is for lack of room (see :data:`FULL_ERRNOS`).
    """
    return isinstance(error, StoreFull) or (
        isinstance(error, OSError) and error.errno in FULL_ERRNOS
    )


def as_store_full(error: OSError) -> StoreFull:
    """
    :param error: An error for which :func:`is_full_error` holds.
    :return: The same, as a :class:`StoreFull` (chained to it).
    """
    if isinstance(error, StoreFull):
        return error
    full = StoreFull(error.errno, error.strerror, error.filename)
    full.__cause__ = error
    return full


class SpaceReport(Protocol):
    """
    What a writer tells about the room it found: a :class:`StoreSpace`
    itself on the reactor thread, a :class:`ThreadedSpace` from others.
    """

    def found_full(self, where: str, error: OSError) -> None:
        """
        A write found no room.

        :param where: What was being written (a path), for the log.
        :param error: The error it got.
        """

    def wrote(self) -> None:
        """
        A write succeeded.
        """


@define
class StoreSpace:
    """
    Whether a store is full: set by a write that found no room, cleared by
    the next write that succeeded.  The transition to full is logged as one
    warning (at most one per :data:`QUIET` seconds), the way back as one
    line of information, so a full disk shows in the log once however many
    chunks fail.

    :ivar clock: Gives the time a write found the store full.
    :ivar full: Whether the last write found the store full.
    :ivar last_full: When a write last found it full, in clock seconds, or
        ``None`` if none has since startup.
    :ivar last_error: Why that write failed, for people.
    :ivar episodes: How many times the store became full since startup.
    """

    clock: IReactorTime
    full: bool = field(default=False, init=False)
    last_full: float | None = field(default=None, init=False)
    last_error: str | None = field(default=None, init=False)
    episodes: int = field(default=0, init=False)
    _warned: float | None = field(default=None, init=False)
    _announced: bool = field(default=False, init=False)

    def found_full(self, where: str, error: OSError) -> None:
        """
        A write found no room.

        :param where: What was being written (a path), for the log.
        :param error: The error it got.
        """
        now = self.last_full = self.clock.seconds()
        self.last_error = error.strerror or str(error)
        if self.full:
            return
        self.full = True
        self.episodes += 1
        if self._warned is not None and now - self._warned < QUIET:
            return
        self._warned = now
        self._announced = True
        _log.warn(
            "The disk is full ({error}, writing {where}): evicting cached files"
            " to make room; files and pages that still do not fit are served"
            " without being stored",
            error=self.last_error,
            where=where,
        )

    def wrote(self) -> None:
        """
        A write succeeded: the store has room again, if it was full.
        """
        if self.full:
            self.full = False
        if self._announced:
            self._announced = False
            _log.info("The disk has room again: files are cached again")


@frozen
class ThreadedSpace:
    """
    A :class:`StoreSpace` told from any thread: each report is handed to the
    reactor thread (``reactor.callFromThread``), where the space, its log
    line and the status page that reads it live.  Writers in the thread pool
    (page and JSON records) report through one of these.

    :ivar space: The space told.
    :ivar call: Runs a function with its arguments on the reactor thread.
    """

    space: StoreSpace
    call: Callable[..., object]

    def found_full(self, where: str, error: OSError) -> None:
        """
        A write found no room: tell the space, on the reactor thread.

        :param where: What was being written (a path), for the log.
        :param error: The error it got.
        """
        self.call(self.space.found_full, where, error)

    def wrote(self) -> None:
        """
        A write succeeded: tell the space, on the reactor thread.
        """
        self.call(self.space.wrote)


def space_report(space: StoreSpace, reactor: object) -> SpaceReport:
    """
    How writers in the thread pool (the page and JSON record stores) tell
    ``space`` of a full disk: through the reactor's hand-off to its own
    thread, or directly where there is no other thread (a test's clock).

    :param space: The file cache's space, the one the status page, the
        metrics and ``/-/health`` read.
    :param reactor: The reactor.
    """
    if IReactorFromThreads.providedBy(reactor):
        return ThreadedSpace(space, IReactorFromThreads(reactor).callFromThread)
    return space
