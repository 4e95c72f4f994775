# -*- test-case-name: tests.web.test_connections -*-
"""
The proxy's open client connections, kept below the file descriptor limit.

Every client connection holds a file descriptor.  When the process runs
out of them, Twisted's listening port accepts and at once closes every
waiting connection (its ``EMFILE`` recovery), so legitimate clients are
refused along with whoever is holding the descriptors.  A
:class:`ConnectionTable` keeps the count of open connections under
:func:`connection_limit` (three quarters of the soft ``RLIMIT_NOFILE``, the
rest left for cached files and upstream connections): a connection opened
at the limit makes room by closing the connection that has waited longest
for a request's headers (an idle keep-alive connection, or a client
trickling its headers), never one whose request is being answered.

What it closes, and the connections closed for sending their headers too
slowly, are logged as one warning at most every :data:`WARN_INTERVAL`
seconds, with counts.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

__all__ = [
    "WARN_INTERVAL",
    "ConnectionTable",
    "Evictable",
    "connection_limit",
]

log = Logger()

#: Seconds between two warnings about closed connections.
WARN_INTERVAL = 60.0


class Evictable(Protocol):
    """
    A connection the table may close to make room.
    """

    def evict(self) -> None:
        """
        Close the connection, which is waiting for a request.
        """


def connection_limit() -> int | None:
    """
    The most client connections to keep open: three quarters of the soft
    limit on open files, read now (it may be raised at start), or ``None``
    if there is no limit.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    return max(1, soft * 3 // 4)


class ConnectionTable:
    """
    The open client connections of a site, and which of them wait for a
    request's headers, oldest first.
    """

    def __init__(
        self,
        clock: IReactorTime,
        limit: Callable[[], int | None] = connection_limit,
        warn_interval: float = WARN_INTERVAL,
    ) -> None:
        """
        :param clock: Time, for spacing the warnings.
        :param limit: Gives the most connections to keep open (``None``: no
            limit); asked whenever a connection opens.
        :param warn_interval: Seconds between two warnings.
        """
        self._clock = clock
        self._limit = limit
        self._warn_interval = warn_interval
        self._open: set[Evictable] = set()
        # Insertion-ordered: the first waited longest.
        self._waiting: dict[Evictable, None] = {}
        self._evicted = 0
        self._late = 0
        self._full = 0
        self._warned: float | None = None
        self._pending: IDelayedCall | None = None
        self._limit_seen: int | None = None

    @property
    def open_count(self) -> int:
        """
        How many connections are open.
        """
        return len(self._open)

    def opened(self, connection: Evictable) -> None:
        """
        A connection opened; if that is one too many, close the one that has
        waited longest for a request.

        :param connection: The new connection, which waits for a request.
        """
        self._open.add(connection)
        self.waiting(connection)
        limit = self._limit()
        if limit is None or len(self._open) <= limit:
            return
        oldest = next(iter(self._waiting))
        if oldest is connection:
            # Every other connection is being answered: keep them all.
            self._full += 1
            self._warn(limit)
            return
        self.closed(oldest)
        self._evicted += 1
        self._warn(limit)
        oldest.evict()

    def waiting(self, connection: Evictable) -> None:
        """
        A connection started waiting for a request's headers.

        :param connection: The connection.
        """
        self._waiting.pop(connection, None)
        self._waiting[connection] = None

    def busy(self, connection: Evictable) -> None:
        """
        A connection has received a request's headers.

        :param connection: The connection.
        """
        self._waiting.pop(connection, None)

    def late(self, connection: Evictable) -> None:
        """
        A connection is closed for sending a request's headers too slowly.

        :param connection: The connection.
        """
        self._late += 1
        self._warn(self._limit())

    def closed(self, connection: Evictable) -> None:
        """
        A connection closed.

        :param connection: The connection.
        """
        self._open.discard(connection)
        self._waiting.pop(connection, None)

    def _warn(self, limit: int | None) -> None:
        """
        Log what was closed, now if the last warning was long enough ago,
        else when it will be.
        """
        self._limit_seen = limit
        now = self._clock.seconds()
        if self._warned is None or now - self._warned >= self._warn_interval:
            self._flush()
        elif self._pending is None:
            delay = self._warned + self._warn_interval - now
            self._pending = self._clock.callLater(delay, self._flush)

    def _flush(self) -> None:
        """
        Log what was closed since the last warning, if anything.
        """
        self._pending = None
        if not (self._late or self._evicted or self._full):
            return
        self._warned = self._clock.seconds()
        limit = self._limit_seen
        parts = []
        if self._late:
            parts.append(
                f"closed {self._late} that were too slow to send a request's headers"
            )
        if self._evicted:
            parts.append(
                f"closed {self._evicted} waiting for a request, to stay under the"
                f" limit of {limit} open connections (3/4 of the open files limit)"
            )
        if self._full:
            parts.append(
                f"{self._full} times over the limit of {limit} open connections"
                " with every connection busy; raise the open files limit (ulimit -n)"
            )
        log.warn(
            "Client connections ({open} open): {what}",
            open=len(self._open),
            what="; ".join(parts),
        )
        self._late = self._evicted = self._full = 0
