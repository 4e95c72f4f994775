"""
Tests for :mod:`twisted_pypi.sources.cachepolicy`: the memory, single flight,
negative answers and stale-while-revalidate that the page cache and the JSON
API cache share.
"""

from __future__ import annotations

from cachetools import LRUCache
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.lookup import (
    CacheStatus,
    ProjectNotFound,
    UpstreamTimedOut,
    UpstreamUnavailable,
)
from twisted_pypi.sources.cachepolicy import (
    CachePolicy,
    Flights,
    NegativeCache,
    Served,
    memory_lru,
)


class FlightsTests(SynchronousTestCase):
    """
    One running piece of work per key.
    """

    def test_one_start_per_key(self) -> None:
        """
        Joining a key whose work runs does not start it again; every caller
        gets the result on its own Deferred.
        """
        flights: Flights[str, int] = Flights()
        work: Deferred[int] = Deferred()
        starts: list[str] = []

        def start() -> Deferred[int]:
            starts.append("a")
            return work

        first = flights.join("a", start)
        second = flights.join("a", start)
        self.assertIn("a", flights)
        self.assertIsNot(first, second)
        work.callback(7)
        self.assertEqual(starts, ["a"])
        self.assertEqual(
            (self.successResultOf(first), self.successResultOf(second)), (7, 7)
        )
        self.assertNotIn("a", flights)

    def test_failure_to_every_caller(self) -> None:
        """
        A failed piece of work fails every caller's Deferred.
        """
        flights: Flights[str, int] = Flights()
        work: Deferred[int] = Deferred()
        first = flights.join("a", lambda: work)
        second = flights.join("a", lambda: work)
        work.errback(ProjectNotFound("a"))
        self.failureResultOf(first, ProjectNotFound)
        self.failureResultOf(second, ProjectNotFound)

    def test_cancel_own_wait(self) -> None:
        """
        A caller that cancels its wait leaves the work and the other callers
        alone.
        """
        flights: Flights[str, int] = Flights()
        work: Deferred[int] = Deferred()
        first = flights.join("a", lambda: work)
        second = flights.join("a", lambda: work)
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.assertFalse(work.called)
        work.callback(1)
        self.assertEqual(self.successResultOf(second), 1)

    def test_done_at_once(self) -> None:
        """
        Work that is done at once answers the caller, and the next join
        starts it again.
        """
        flights: Flights[str, int] = Flights()
        self.assertEqual(self.successResultOf(flights.join("a", lambda: succeed(1))), 1)
        self.assertEqual(self.successResultOf(flights.join("a", lambda: succeed(2))), 2)


class MemoryTests(SynchronousTestCase):
    """
    The byte-bounded LRU.
    """

    def test_bytes_bound(self) -> None:
        """
        Past the byte budget the least recently used values are dropped.
        """
        memory: LRUCache[str, bytes] = memory_lru(100, 100, len)
        memory["a"] = b"x" * 40
        memory["b"] = b"x" * 40
        memory.get("a")
        memory["c"] = b"x" * 40
        self.assertEqual(sorted(memory), ["a", "c"])

    def test_entries_bound(self) -> None:
        """
        Light values count for at least their share of the budget, so there
        are never more than the most entries.
        """
        memory: LRUCache[str, bytes] = memory_lru(1000, 4, len)
        for key in "abcdef":
            memory[key] = b""
        self.assertEqual(list(memory), ["c", "d", "e", "f"])

    def test_heavy_value_kept_alone(self) -> None:
        """
        A value heavier than the whole budget is kept, alone.
        """
        memory: LRUCache[str, bytes] = memory_lru(100, 10, len)
        memory["a"] = b"x"
        memory["big"] = b"x" * 1000
        self.assertEqual(list(memory), ["big"])


class NegativeCacheTests(SynchronousTestCase):
    """
    The keys an upstream lacks.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.missing: NegativeCache[str] = NegativeCache(self.clock, 3)

    def test_expires(self) -> None:
        """
        A key is remembered for its own time, on the injected clock.
        """
        self.missing.add("short", 10)
        self.missing.add("long", 60)
        self.clock.advance(10)
        self.assertNotIn("short", self.missing)
        self.assertIn("long", self.missing)
        self.clock.advance(50)
        self.assertNotIn("long", self.missing)
        self.assertEqual(len(self.missing), 0)

    def test_no_time_no_memory(self) -> None:
        """
        A key remembered for no time is not remembered.
        """
        self.missing.add("a", 0)
        self.assertNotIn("a", self.missing)

    def test_capped(self) -> None:
        """
        However many keys are added, only the most recent ones are kept.
        """
        for n in range(1000):
            self.missing.add(f"name-{n}", 60)
        self.assertEqual(len(self.missing), 3)
        self.assertEqual(sorted(self.missing), ["name-997", "name-998", "name-999"])

    def test_discard(self) -> None:
        """
        Discarding says whether the key was remembered.
        """
        self.missing.add("a", 60)
        self.assertTrue(self.missing.discard("a"))
        self.assertFalse(self.missing.discard("a"))
        self.assertNotIn("a", self.missing)


class PolicyTests(SynchronousTestCase):
    """
    :meth:`CachePolicy.answer`.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        #: When each value was fetched; by default long ago (expired).
        self.fetched: dict[str, float] = {}
        self.policy: CachePolicy[str, str] = CachePolicy(
            self.clock,
            max_bytes=1000,
            max_entries=10,
            weigh=len,
            fetched_at=lambda value: self.fetched.get(value, 0.0),
            max_missing=10,
            stale_wait=3,
        )
        self.refreshes: list[tuple[str | None, Deferred[Served[str]]]] = []

    def refresh(self, old: str | None) -> Deferred[Served[str]]:
        """
        A refresh that waits for the test to answer it.
        """
        d: Deferred[Served[str]] = Deferred()
        self.refreshes.append((old, d))
        return d

    def answer(
        self, key: str = "k", cached: str | None = None, ttl: float = 100
    ) -> Deferred[Served[str]]:
        """
        Ask the policy for ``key``, of an index whose TTL is ``ttl``.
        """
        return Deferred.fromCoroutine(
            self.policy.answer(key, cached, ttl, self.refresh)
        )

    def test_fresh_is_a_hit(self) -> None:
        """
        A value younger than the TTL is served as it is, without a refresh;
        once the TTL passed it is refreshed.
        """
        self.fetched["v"] = self.clock.seconds()
        self.clock.advance(99)
        served = self.successResultOf(self.answer(cached="v"))
        self.assertEqual(served, Served("v", CacheStatus.HIT))
        self.assertEqual(self.refreshes, [])
        self.clock.advance(1)
        self.answer(cached="v")
        self.assertEqual(self.refreshes[0][0], "v")

    def test_miss_remembered(self) -> None:
        """
        A value the refresh found is served and kept in memory.
        """
        d = self.answer()
        self.refreshes[0][1].callback(Served("new", CacheStatus.MISS))
        self.assertEqual(self.successResultOf(d).value, "new")
        self.assertEqual(self.policy.recall("k"), "new")

    def test_single_flight(self) -> None:
        """
        Callers of one key share one refresh.
        """
        ds = [self.answer() for _ in range(3)]
        self.assertEqual(len(self.refreshes), 1)
        self.refreshes[0][1].callback(Served("new", CacheStatus.MISS))
        for d in ds:
            self.assertEqual(self.successResultOf(d).value, "new")

    def test_not_found_remembered(self) -> None:
        """
        "Not found" fails the callers, is remembered for the negative TTL
        (at most a minute; no refresh meanwhile), and drops a value in
        memory.
        """
        self.policy.remember("k", "old")
        d = self.answer(cached="old")
        self.refreshes[0][1].errback(ProjectNotFound("k"))
        self.failureResultOf(d, ProjectNotFound)
        self.assertIsNone(self.policy.recall("k"))
        self.failureResultOf(self.answer(), ProjectNotFound)
        self.assertEqual(len(self.refreshes), 1)
        self.clock.advance(60)
        self.answer()
        self.assertEqual(len(self.refreshes), 2)

    def test_not_found_for_the_index_ttl(self) -> None:
        """
        An index whose TTL is shorter than the negative TTL remembers a
        "not found" only that long; one with no TTL not at all.
        """
        self.refreshes_failing(self.answer("short", ttl=10))
        self.clock.advance(9)
        self.failureResultOf(self.answer("short", ttl=10), ProjectNotFound)
        self.clock.advance(1)
        self.refreshes_failing(self.answer("short", ttl=10))
        self.refreshes_failing(self.answer("none", ttl=0))
        self.answer("none", ttl=0)
        self.assertEqual(len(self.refreshes), 4)

    def refreshes_failing(self, d: Deferred[Served[str]]) -> None:
        """
        Fail the last refresh with "not found", which ``d`` then is.
        """
        self.refreshes[-1][1].errback(ProjectNotFound("k"))
        self.failureResultOf(d, ProjectNotFound)

    def test_forget_not_found(self) -> None:
        """
        Forgetting a key forgets that it was missing.
        """
        d = self.answer()
        self.refreshes[0][1].errback(ProjectNotFound("k"))
        self.failureResultOf(d, ProjectNotFound)
        self.assertTrue(self.policy.forget("k"))
        self.assertFalse(self.policy.forget("k"))
        self.answer()
        self.assertEqual(len(self.refreshes), 2)

    def test_failure_without_value(self) -> None:
        """
        With nothing cached, an upstream failure fails the callers.
        """
        d = self.answer()
        self.refreshes[0][1].errback(UpstreamTimedOut("slow"))
        self.failureResultOf(d, UpstreamTimedOut)

    def test_stale_on_failure(self) -> None:
        """
        With a value cached, an upstream failure serves it stale, carrying
        the failure.
        """
        d = self.answer(cached="old")
        failure = UpstreamUnavailable("down")
        self.refreshes[0][1].errback(failure)
        self.assertEqual(
            self.successResultOf(d), Served("old", CacheStatus.STALE, failure)
        )

    def test_stale_while_revalidating(self) -> None:
        """
        A refresh slower than the stale wait serves the cached value stale;
        the refresh goes on and its value is kept when it lands.
        """
        d = self.answer(cached="old")
        self.clock.advance(2.9)
        self.assertNoResult(d)
        self.clock.advance(0.1)
        self.assertEqual(self.successResultOf(d), Served("old", CacheStatus.STALE))
        self.refreshes[0][1].callback(Served("new", CacheStatus.MISS))
        self.assertEqual(self.policy.recall("k"), "new")

    def test_refresh_within_wait(self) -> None:
        """
        A refresh within the stale wait is served, and the wait is dropped.
        """
        d = self.answer(cached="old")
        self.refreshes[0][1].callback(Served("new", CacheStatus.MISS))
        self.assertEqual(self.successResultOf(d).value, "new")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_not_found_within_wait(self) -> None:
        """
        A cached project the upstream no longer has is not found at once,
        not served stale after the wait.
        """
        d = self.answer(cached="old")
        self.refreshes[0][1].errback(ProjectNotFound("k"))
        self.failureResultOf(d, ProjectNotFound)

    def test_other_errors_pass(self) -> None:
        """
        A refresh that fails with something other than a lookup failure
        fails the caller, cached value or not.
        """
        d = Deferred.fromCoroutine(
            self.policy.answer("k", "old", 100, lambda old: fail(ZeroDivisionError()))
        )
        self.failureResultOf(d, ZeroDivisionError)
