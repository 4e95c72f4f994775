# -*- test-case-name: tests.core.test_stats -*-
"""
What the proxy has done since it started: requests by status and cache
result, bytes by where they came from, the health and latency of each
upstream index and of the shared store (``--store``), and what dummies
saved.

One :class:`Stats` per service is the single source of truth for the status
page (:mod:`twisted_pypi.web.status`) and the Prometheus metrics
(:mod:`twisted_pypi.web.metrics`); the places where things happen record into
it: the site (each finished request), the page caches (each upstream fetch),
the S3 client of the shared store (each request) and the dummies (each
placeholder wheel served).  Figures that already live
elsewhere (cache size, evictions, downloads in flight) are read from their
owners when shown, not copied here.
"""

from __future__ import annotations

import bisect
import math

from attrs import define, field
from twisted.internet.interfaces import IReactorTime

from twisted_pypi.core.decisions import PolicyRecord

__all__ = [
    "CACHE_RESULTS",
    "LATENCY_BUCKETS",
    "METADATA_SOURCES",
    "OTHER",
    "RANGE_SOURCES",
    "SOURCES",
    "STORE",
    "Histogram",
    "Stats",
    "UpstreamHealth",
]

#: The ``X-Cache`` values the proxy sends; anything else is counted as ``-``.
CACHE_RESULTS = ("HIT", "STALE", "MISS", "DUMMY", "LOCAL", "-")

#: Where the bytes of a successful answer came from, by ``X-Cache``.
SOURCES = {
    "HIT": "cache",
    "STALE": "cache",
    "MISS": "upstream",
    "DUMMY": "dummy",
    "LOCAL": "local",
}

#: The source of every other answer (errors, redirects, the status page).
OTHER = "other"

#: Where the ``.metadata`` files served came from: the index's own, passed
#: through; read from the cached wheel; read by ranges of the upstream's.
METADATA_SOURCES = ("upstream", "extracted", "ranged")

#: Where a ``Range`` request for a file not cached is answered from: the
#: spool of its download in flight, or the upstream (passed on as a range).
RANGE_SOURCES = ("spool", "upstream")

#: The name of the shared store's health record (:attr:`Stats.store`).
STORE = "store"

#: Upper bounds, in seconds, of the upstream latency histogram's buckets.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@define
class Histogram:
    """
    Observations counted in buckets, Prometheus-style.

    :ivar bounds: The buckets' upper bounds, ascending (``+Inf`` is implied).
    :ivar counts: Observations per bucket (not cumulative), one more than
        ``bounds`` (the last is the ``+Inf`` bucket).
    :ivar total: The sum of all observations.
    :ivar count: How many observations there were.
    """

    bounds: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field()
    total: float = 0.0
    count: int = 0

    @counts.default
    def _no_counts(self) -> list[int]:
        return [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        """
        Count one observation.

        :param value: The observed value.
        """
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """
        ``(upper bound, observations at or below it)`` for every bucket,
        ending with ``+Inf`` (the Prometheus exposition's ``le`` buckets).
        """
        result = []
        running = 0
        for bound, n in zip((*self.bounds, math.inf), self.counts, strict=True):
            running += n
            result.append(("+Inf" if bound == math.inf else repr(bound), running))
        return result

    @property
    def mean(self) -> float | None:
        """
        The mean observation, or ``None`` before the first.
        """
        return self.total / self.count if self.count else None


@define
class UpstreamHealth:
    """
    How one upstream index has been answering page requests.

    :ivar name: The index's name.
    :ivar last_success: When it last answered usefully (a page, "not
        modified" or "not found"), in clock seconds, or ``None``.
    :ivar last_error: When it last failed, or ``None``.
    :ivar last_error_message: Why it last failed.
    :ivar successes: How many fetches succeeded.
    :ivar errors: How many fetches failed.
    :ivar latency: Seconds from request to complete response, for every
        fetch the upstream answered (whatever the status).
    :ivar undated: Whether a page of the index was seen listing files
        without an upload time (their ages count from first sight).
    """

    name: str
    last_success: float | None = None
    last_error: float | None = None
    last_error_message: str | None = None
    successes: int = 0
    errors: int = 0
    latency: Histogram = field(factory=Histogram)
    undated: bool = False

    @property
    def healthy(self) -> bool | None:
        """
        ``True`` if the last fetch succeeded, ``False`` if it failed, ``None``
        if the index was not asked yet.
        """
        if self.last_error is None:
            return None if self.last_success is None else True
        return self.last_success is not None and self.last_success > self.last_error


@define
class Stats:
    """
    The proxy's running totals; see the module docstring.

    :ivar clock: The time source for timestamps.
    :ivar started: When the stats began, in clock seconds.
    :ivar requests: Finished (or aborted) requests by ``(status code, X-Cache
        value)``.
    :ivar bytes_by_source: Response body bytes sent, by source (the values
        of :data:`SOURCES`, or :data:`OTHER`).
    :ivar upstreams: Health by index name, for indexes asked at least once.
    :ivar dummy_files: How many dummy wheels were served.
    :ivar dummy_saved_bytes: The sizes of the real files those dummies
        replaced, where the upstream page gave them.
    :ivar dummy_unknown_size: How many dummy wheels replaced a file of unknown
        size (explicit versions, or no size on the upstream page).
    :ivar store: How the shared store has been answering (its latency is
        to each response's headers); untouched without one.
    :ivar store_requests: Requests to the shared store by ``(method,
        outcome)``, the outcome the status code or ``unreachable``.
    :ivar metadata_served: ``.metadata`` files served, by source (see
        :data:`METADATA_SOURCES`).
    :ivar ranges: ``Range`` requests for files not cached, by where they
        were answered from (:data:`RANGE_SOURCES`).
    :ivar policy: What the supply-chain policy held back.
    """

    clock: IReactorTime
    started: float = field(init=False)
    requests: dict[tuple[int, str], int] = field(factory=dict, init=False)
    bytes_by_source: dict[str, int] = field(factory=dict, init=False)
    upstreams: dict[str, UpstreamHealth] = field(factory=dict, init=False)
    dummy_files: int = field(default=0, init=False)
    dummy_saved_bytes: int = field(default=0, init=False)
    dummy_unknown_size: int = field(default=0, init=False)
    store: UpstreamHealth = field(factory=lambda: UpstreamHealth(STORE), init=False)
    store_requests: dict[tuple[str, str], int] = field(factory=dict, init=False)
    metadata_served: dict[str, int] = field(factory=dict, init=False)
    ranges: dict[str, int] = field(factory=dict, init=False)
    policy: PolicyRecord = field(init=False)

    def __attrs_post_init__(self) -> None:
        """Start the clock."""
        self.started = self.clock.seconds()
        self.policy = PolicyRecord(self.clock)

    @property
    def uptime(self) -> float:
        """
        Seconds since the stats began.
        """
        return self.clock.seconds() - self.started

    def request_served(self, code: int, cache: str, nbytes: int) -> None:
        """
        Count a request that ended (finished or aborted).

        :param code: Its response status.
        :param cache: Its ``X-Cache`` value, ``-`` for none.
        :param nbytes: The body bytes sent.
        """
        if cache not in CACHE_RESULTS:
            cache = "-"
        key = (code, cache)
        self.requests[key] = self.requests.get(key, 0) + 1
        source = SOURCES.get(cache, OTHER) if 200 <= code < 300 else OTHER
        self.bytes_by_source[source] = self.bytes_by_source.get(source, 0) + nbytes

    def count(self, *caches: str) -> int:
        """
        How many successful (2xx or 304) answers had one of these ``X-Cache``
        values.

        :param caches: ``X-Cache`` values.
        """
        return sum(
            n
            for (code, cache), n in self.requests.items()
            if cache in caches and (200 <= code < 300 or code == 304)
        )

    @property
    def hit_ratio(self) -> float | None:
        """
        The share of cacheable answers (``HIT``, ``STALE``, ``MISS``) that
        the cache gave, or ``None`` before the first.
        """
        hits = self.count("HIT", "STALE")
        misses = self.count("MISS")
        return hits / (hits + misses) if hits + misses else None

    @property
    def total_requests(self) -> int:
        """
        Every request counted so far.
        """
        return sum(self.requests.values())

    def upstream(self, index: str) -> UpstreamHealth:
        """
        The health record of an index, made on first use.

        :param index: The index's name.
        """
        health = self.upstreams.get(index)
        if health is None:
            health = self.upstreams[index] = UpstreamHealth(index)
        return health

    def upstream_answered(self, index: str, seconds: float) -> None:
        """
        Record how long an upstream took to answer a page request.

        :param index: The index's name.
        :param seconds: From request to complete response.
        """
        self.upstream(index).latency.observe(seconds)

    def upstream_succeeded(self, index: str) -> None:
        """
        Record a page fetch that gave a usable answer.

        :param index: The index's name.
        """
        health = self.upstream(index)
        health.successes += 1
        health.last_success = self.clock.seconds()

    def upstream_undated(self, index: str) -> None:
        """
        Record that a page of an index lists files without an upload time.

        :param index: The index's name.
        """
        self.upstream(index).undated = True

    def upstream_failed(self, index: str, message: str) -> None:
        """
        Record a page fetch that failed.

        :param index: The index's name.
        :param message: Why, for people.
        """
        health = self.upstream(index)
        health.errors += 1
        health.last_error = self.clock.seconds()
        health.last_error_message = message

    def dummy_served(self, real_size: int | None) -> None:
        """
        Record a dummy wheel sent in place of a real file.

        :param real_size: The size of the real file it replaced, if known.
        """
        self.dummy_files += 1
        if real_size is None:
            self.dummy_unknown_size += 1
        else:
            self.dummy_saved_bytes += real_size

    def metadata_from(self, source: str) -> None:
        """
        Count a ``.metadata`` served.

        :param source: Where it came from (one of :data:`METADATA_SOURCES`).
        """
        self.metadata_served[source] = self.metadata_served.get(source, 0) + 1

    def range_served(self, source: str) -> None:
        """
        Count a ``Range`` request for a file that is not cached.

        :param source: Where it was answered from, one of
            :data:`RANGE_SOURCES`.
        """
        self.ranges[source] = self.ranges.get(source, 0) + 1

    def store_answered(
        self, method: str, code: int | None, seconds: float, why: str = ""
    ) -> None:
        """
        Record a request to the shared store: a status of 500 or more, or
        no answer, is an error; any other status (a ``404`` for a file not
        stored yet, a ``412`` for a lease another node holds) is an answer.

        :param method: The request's method.
        :param code: The response's status, or ``None`` if none came (the
            store could not be reached, or did not answer in time).
        :param seconds: From the request to the response's headers (or the
            failure).
        :param why: Why no answer came, for people.
        """
        outcome = "unreachable" if code is None else str(code)
        key = (method, outcome)
        self.store_requests[key] = self.store_requests.get(key, 0) + 1
        health = self.store
        if code is not None:
            health.latency.observe(seconds)
        if code is None or code >= 500:
            health.errors += 1
            health.last_error = self.clock.seconds()
            answer = f"answered {code}" if code is not None else why or "no answer"
            health.last_error_message = f"{method}: {answer}"
        else:
            health.successes += 1
            health.last_success = self.clock.seconds()
