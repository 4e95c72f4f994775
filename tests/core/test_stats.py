"""
Tests for :mod:`twisted_pypi.core.stats`: the running totals behind the status
page and the metrics.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.stats import Histogram, Stats, UpstreamHealth


class HistogramTests(SynchronousTestCase):
    """
    :class:`Histogram` counts observations in Prometheus-style buckets.
    """

    def test_buckets_are_inclusive_and_cumulative(self) -> None:
        """
        An observation equal to a bound counts in that bound's bucket; the
        cumulative buckets end with ``+Inf`` holding every observation.
        """
        histogram = Histogram(bounds=(0.1, 1.0))
        for value in (0.05, 0.1, 0.5, 7.0):
            histogram.observe(value)
        self.assertEqual(histogram.cumulative(), [("0.1", 2), ("1.0", 3), ("+Inf", 4)])
        self.assertEqual(histogram.count, 4)
        self.assertAlmostEqual(histogram.total, 7.65)

    def test_mean(self) -> None:
        """
        The mean is ``None`` before the first observation, then the average.
        """
        histogram = Histogram()
        self.assertIsNone(histogram.mean)
        histogram.observe(1.0)
        histogram.observe(3.0)
        self.assertEqual(histogram.mean, 2.0)


class UpstreamHealthTests(SynchronousTestCase):
    """
    :attr:`UpstreamHealth.healthy` follows the most recent outcome.
    """

    def test_states(self) -> None:
        """
        An index not asked yet is neither healthy nor failing; then the later
        of the last success and the last error decides.
        """
        health = UpstreamHealth("pypi")
        self.assertIsNone(health.healthy)
        health.last_success = 10.0
        self.assertIs(health.healthy, True)
        health.last_error = 11.0
        self.assertIs(health.healthy, False)
        health.last_success = 12.0
        self.assertIs(health.healthy, True)

    def test_only_errors(self) -> None:
        """
        An index that only ever failed is failing.
        """
        self.assertIs(UpstreamHealth("pypi", last_error=3.0).healthy, False)


class StatsTests(SynchronousTestCase):
    """
    :class:`Stats` counts requests, bytes, upstream fetches and dummies.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(100)
        self.stats = Stats(self.clock)

    def test_requests_by_code_and_cache(self) -> None:
        """
        Requests are counted by status and ``X-Cache``; a value the proxy
        never sends counts as ``-``.
        """
        self.stats.request_served(200, "HIT", 10)
        self.stats.request_served(200, "HIT", 5)
        self.stats.request_served(404, "-", 3)
        self.stats.request_served(200, "BOGUS", 1)
        self.assertEqual(
            self.stats.requests, {(200, "HIT"): 2, (404, "-"): 1, (200, "-"): 1}
        )
        self.assertEqual(self.stats.total_requests, 4)

    def test_bytes_by_source(self) -> None:
        """
        The bytes of successful answers count for their source (stale pages
        come from the cache); every other answer's bytes count as "other".
        """
        self.stats.request_served(200, "HIT", 10)
        self.stats.request_served(200, "STALE", 1)
        self.stats.request_served(200, "MISS", 20)
        self.stats.request_served(200, "DUMMY", 30)
        self.stats.request_served(200, "LOCAL", 40)
        self.stats.request_served(502, "MISS", 7)
        self.stats.request_served(200, "-", 2)
        self.assertEqual(
            self.stats.bytes_by_source,
            {"cache": 11, "upstream": 20, "dummy": 30, "local": 40, "other": 9},
        )

    def test_hit_ratio(self) -> None:
        """
        The hit ratio is ``None`` before any cacheable answer, then the share
        of successful ``HIT``/``STALE`` answers (``304`` included) among those
        and ``MISS``; errors, dummies and local answers do not count.
        """
        self.assertIsNone(self.stats.hit_ratio)
        self.stats.request_served(200, "HIT", 1)
        self.stats.request_served(304, "STALE", 0)
        self.stats.request_served(200, "MISS", 1)
        self.stats.request_served(502, "MISS", 1)
        self.stats.request_served(200, "DUMMY", 1)
        self.stats.request_served(200, "LOCAL", 1)
        self.assertAlmostEqual(self.stats.hit_ratio or 0, 2 / 3)

    def test_upstream_outcomes(self) -> None:
        """
        Successes and failures are counted per index with the clock's time,
        the last error with its message; latencies go to the index's
        histogram.
        """
        self.stats.upstream_answered("pypi", 0.2)
        self.stats.upstream_succeeded("pypi")
        self.clock.advance(5)
        self.stats.upstream_failed("pypi", "pypi answered 503")
        health = self.stats.upstreams["pypi"]
        self.assertEqual(
            (health.successes, health.errors, health.last_success, health.last_error),
            (1, 1, 100.0, 105.0),
        )
        self.assertEqual(health.last_error_message, "pypi answered 503")
        self.assertEqual(health.latency.count, 1)
        self.assertEqual(list(self.stats.upstreams), ["pypi"])

    def test_dummy_savings(self) -> None:
        """
        Each dummy wheel served counts; a known real size adds to the bytes
        saved, an unknown one is counted apart.
        """
        self.stats.dummy_served(1000)
        self.stats.dummy_served(None)
        self.stats.dummy_served(24)
        self.assertEqual(
            (
                self.stats.dummy_files,
                self.stats.dummy_saved_bytes,
                self.stats.dummy_unknown_size,
            ),
            (3, 1024, 1),
        )

    def test_metadata_served(self) -> None:
        """
        ``.metadata`` files served are counted by source.
        """
        for source in ("ranged", "upstream", "ranged"):
            self.stats.metadata_from(source)
        self.assertEqual(self.stats.metadata_served, {"ranged": 2, "upstream": 1})

    def test_uptime(self) -> None:
        """
        The uptime runs from the stats' creation, on the injected clock.
        """
        self.clock.advance(42)
        self.assertEqual(self.stats.uptime, 42)


class StoreStatsTests(SynchronousTestCase):
    """
    :meth:`Stats.store_answered`: the shared store's requests.
    """

    def test_outcomes(self) -> None:
        """
        Requests are counted by method and outcome; answers below 500 (a
        404 for a file not stored yet, a 412 for another node's lease) are
        successes with their latency, a 5xx or no answer an error with why.
        """
        clock = Clock()
        stats = Stats(clock)
        self.assertIsNone(stats.store.healthy)
        stats.store_answered("HEAD", 404, 0.01)
        stats.store_answered("PUT", 412, 0.02)
        self.assertTrue(stats.store.healthy)
        clock.advance(5)
        stats.store_answered("GET", None, 10.0, "connection refused")
        stats.store_answered("GET", 503, 0.5)
        self.assertEqual(
            stats.store_requests,
            {("HEAD", "404"): 1, ("PUT", "412"): 1, ("GET", "unreachable"): 1,
             ("GET", "503"): 1},
        )  # fmt: skip
        health = stats.store
        self.assertEqual((health.successes, health.errors), (2, 2))
        self.assertEqual(health.latency.count, 3)
        self.assertEqual(health.last_error, 5)
        self.assertEqual(health.last_error_message, "GET: answered 503")
        self.assertFalse(health.healthy)
