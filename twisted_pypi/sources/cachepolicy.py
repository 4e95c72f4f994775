# -*- test-case-name: tests.sources.test_cachepolicy -*-
"""
The one policy of the proxy's caches of upstream answers, used by the page
cache (:mod:`twisted_pypi.sources.remote`) and the JSON API cache
(:mod:`twisted_pypi.pypijson.cache`):

- what is in memory is a least-recently-used set bounded in bytes (and so in
  entries: each counts for at least its share of the bytes);
- one refresh per key runs at a time, and every caller waits on a Deferred
  of its own, so a caller that goes away cancels only its own wait;
- an entry is fresh for its index's TTL; an upstream "not found" is
  remembered for that TTL, at most :data:`NEGATIVE_TTL`, for at most so many
  keys (the least recently remembered are forgotten first), so a client
  asking for random names cannot grow it without bound;
- an expired entry is refreshed while its caller waits up to ``stale_wait``
  seconds; then, or when the upstream fails, the old entry is served stale.

What a refresh does (the HTTP request, the store) is the cache's own: it
gives a :class:`Served` answer or fails with a
:class:`~twisted_pypi.core.lookup.LookupFailed`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

from attrs import frozen
from cachetools import LRUCache, TLRUCache
from twisted.internet.defer import Deferred, race
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pypi.core.lookup import CacheStatus, ProjectNotFound, UpstreamUnavailable

__all__ = [
    "NEGATIVE_TTL",
    "CachePolicy",
    "Flights",
    "NegativeCache",
    "Served",
    "memory_lru",
]

log = Logger()

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")


#: The longest time an upstream "not found" is remembered.
NEGATIVE_TTL = 60.0


@frozen
class Served(Generic[V]):
    """
    What a cache answers with.

    :ivar value: The cached value (a page, a document).
    :ivar status: How it relates to the cache.
    :ivar failure: Why it is served stale, when the upstream failed.
    """

    value: V
    status: CacheStatus
    failure: UpstreamUnavailable | None = None


class Flights(Generic[K, T]):
    """
    One running piece of work per key; every caller gets its own Deferred.
    """

    def __init__(self) -> None:
        self._waiting: dict[K, list[Deferred[T]]] = {}

    def join(self, key: K, start: Callable[[], Deferred[T]]) -> Deferred[T]:
        """
        Wait for the work running for ``key``, starting it if none is.

        :param key: What the work is for.
        :param start: Starts the work.
        :return: Fires with the work's result or failure; cancelling it
            cancels only this wait.
        """
        waiter: Deferred[T] = Deferred()
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.append(waiter)
            return waiter
        self._waiting[key] = [waiter]

        def finish(result: T | Failure) -> None:
            for d in self._waiting.pop(key):
                if d.called:
                    continue
                if isinstance(result, Failure):
                    d.errback(result)
                else:
                    d.callback(result)

        start().addBoth(finish)
        return waiter

    def __contains__(self, key: object) -> bool:
        """
        Whether work runs for ``key``.
        """
        return key in self._waiting


def memory_lru(
    max_bytes: int, max_entries: int, weigh: Callable[[V], int]
) -> LRUCache[K, V]:
    """
    A least-recently-used map bounded in bytes and in entries.

    Each entry counts for its weight, but at least ``max_bytes //
    max_entries`` (so there are never more than ``max_entries``) and at most
    ``max_bytes`` (so one entry heavier than the whole budget is still kept,
    alone).

    :param max_bytes: The budget.
    :param max_entries: The most entries.
    :param weigh: Roughly how many bytes a value takes.
    """
    least = max(1, max_bytes // max(1, max_entries))

    def size(value: V) -> int:
        return min(max(weigh(value), least), max_bytes)

    return LRUCache(maxsize=max_bytes, getsizeof=size)


def _expiry(key: object, ttl: float, now: float) -> float:
    """
    When a negative entry remembered for ``ttl`` seconds at ``now`` expires.
    """
    return now + ttl


class NegativeCache(Generic[K]):
    """
    The keys an upstream said do not exist, each for its own time, at most
    ``max_keys`` of them: past that the least recently remembered is
    forgotten.
    """

    def __init__(self, clock: IReactorTime, max_keys: int) -> None:
        """
        :param clock: The time source.
        :param max_keys: The most keys remembered.
        """
        # TLRUCache is cachetools' TTL cache with a time-to-live per entry
        # (the indexes of one cache can have different TTLs).
        self._keys: TLRUCache[K, float, float] = TLRUCache(
            max(1, max_keys), ttu=_expiry, timer=clock.seconds
        )

    def add(self, key: K, ttl: float) -> None:
        """
        Remember that ``key`` does not exist, for ``ttl`` seconds.
        """
        self._keys[key] = ttl

    def discard(self, key: K) -> bool:
        """
        Forget about ``key``.

        :return: Whether it was remembered (and had not expired).
        """
        return self._keys.pop(key, None) is not None

    def __contains__(self, key: object) -> bool:
        """
        Whether ``key`` is remembered as missing.
        """
        return key in self._keys

    def __iter__(self) -> Iterator[K]:
        """
        The keys remembered.
        """
        return iter(list(self._keys))

    def __len__(self) -> int:
        """
        How many keys are remembered.
        """
        return len(self._keys)


class CachePolicy(Generic[K, V]):
    """
    Memory, single flight, negative answers and stale-while-revalidate for
    one cache (see the module's description).

    :ivar memory: The values in memory.
    :ivar missing: The keys the upstream lacks.
    """

    def __init__(
        self,
        clock: IReactorTime,
        *,
        max_bytes: int,
        max_entries: int,
        weigh: Callable[[V], int],
        fetched_at: Callable[[V], float],
        max_missing: int,
        stale_wait: float,
    ) -> None:
        """
        :param clock: The time source for freshness, negative answers and
            the stale wait.
        :param max_bytes: Roughly how many bytes the values in memory may
            take.
        :param max_entries: How many values may be in memory.
        :param weigh: Roughly how many bytes a value takes.
        :param fetched_at: When the upstream last confirmed a value.
        :param max_missing: How many "not found" answers are remembered.
        :param stale_wait: Seconds a caller with an expired value waits for
            its refresh before the value is served stale.
        """
        self._clock = clock
        self.memory: LRUCache[K, V] = memory_lru(max_bytes, max_entries, weigh)
        self._fetched_at = fetched_at
        self.missing: NegativeCache[K] = NegativeCache(clock, max_missing)
        self._flights: Flights[K, Served[V]] = Flights()
        self._stale_wait = stale_wait

    def recall(self, key: K) -> V | None:
        """
        The value in memory for ``key`` (now the most recently used), or
        ``None``.
        """
        return self.memory.get(key)

    def remember(self, key: K, value: V) -> None:
        """
        Keep ``value`` in memory for ``key``.
        """
        self.memory[key] = value

    def forget(self, key: K) -> bool:
        """
        Drop ``key`` from memory and from the negative answers.

        :return: Whether either held it.
        """
        dropped = self.memory.pop(key, None) is not None
        return self.missing.discard(key) or dropped

    def keys(self) -> set[K]:
        """
        The keys in memory or remembered as missing.
        """
        return set(self.memory) | set(self.missing)

    async def answer(
        self,
        key: K,
        cached: V | None,
        ttl: float,
        refresh: Callable[[V | None], Deferred[Served[V]]],
    ) -> Served[V]:
        """
        Answer for ``key``: a fresh value as it is; else the outcome of a
        refresh (one at a time per key), or the cached value stale if the
        refresh fails or takes longer than the stale wait.

        :param key: What is asked for.
        :param cached: The cached value (from memory or disk), or ``None``.
        :param ttl: How long a value of this key's index stays fresh.
        :param refresh: Asks the upstream, given the cached value: gives
            the new (or revalidated) value, or fails with a
            :class:`~twisted_pypi.core.lookup.LookupFailed`.
        :raises LookupFailed: When there is nothing to serve.
        """
        now = self._clock.seconds()
        if cached is not None and now - self._fetched_at(cached) < ttl:
            return Served(cached, CacheStatus.HIT)
        missing_ttl = min(ttl, NEGATIVE_TTL)
        if cached is None and key in self.missing:
            raise ProjectNotFound(str(key))
        flight = self._flights.join(
            key, lambda: self._refresh(key, cached, refresh, missing_ttl)
        )
        if cached is None:
            return await flight
        settled: Deferred[Served[V] | _Failed | None] = flight.addCallbacks(
            lambda served: served, _Failed
        )
        wait: Deferred[Served[V] | _Failed | None] = deferLater(
            self._clock, self._stale_wait, lambda: None
        )
        _, outcome = await race([settled, wait])
        if isinstance(outcome, _Failed):
            outcome.failure.raiseException()
        if isinstance(outcome, Served):
            return outcome
        log.info("Serving {key} stale while it refreshes", key=key)
        return Served(cached, CacheStatus.STALE)

    def _refresh(
        self,
        key: K,
        old: V | None,
        refresh: Callable[[V | None], Deferred[Served[V]]],
        missing_ttl: float,
    ) -> Deferred[Served[V]]:
        """
        Run one refresh and keep what it found: the new value, or that there
        is none; an upstream failure gives the old value stale.
        """

        def found(served: Served[V]) -> Served[V]:
            self.memory[key] = served.value
            self.missing.discard(key)
            return served

        def failed(failure: Failure) -> Served[V] | Failure:
            if failure.check(ProjectNotFound):
                self.memory.pop(key, None)
                self.missing.add(key, missing_ttl)
            elif old is not None and failure.check(UpstreamUnavailable):
                assert isinstance(failure.value, UpstreamUnavailable)
                return Served(old, CacheStatus.STALE, failure.value)
            return failure

        return refresh(old).addCallbacks(found, failed)


@frozen
class _Failed:
    """
    A failure passed along as a result, so that a race sees it arrive.

    :ivar failure: The failure.
    """

    failure: Failure
