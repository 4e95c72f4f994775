"""
Tests for :mod:`twisted_pypi.web.promcollect`: the collector reading the
service's stats, file cache and downloads directly. Scraping ``/-/metrics``
of a serving proxy is tested in ``tests/web/test_metrics.py``.
"""

from __future__ import annotations

import errno

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.iweb import IResponse

from twisted_pypi.core.policy import Decision, Rule
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.upstream.stream import streaming
from twisted_pypi.web.promcollect import PREFIX, make_registry


def _never(url: str) -> Deferred[IResponse]:
    """An upstream that never answers."""
    return Deferred()


class RegistryTests(SynchronousTestCase):
    """
    :func:`make_registry` and the collector it holds.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.stats = Stats(self.clock)
        self.cache = cache = FileCache(FilePath(self.mktemp()), 1000, self.clock)
        cache.scan()
        downloads = Downloads(cache, streaming(_never), self.clock)
        self.registry = make_registry(self.stats, cache, downloads, ["pypi", "extra"])

    def test_prefixed(self) -> None:
        """
        Every family is named with :data:`PREFIX`.
        """
        names = [family.name for family in self.registry.collect()]
        self.assertIn(PREFIX + "requests", names)
        self.assertIn(PREFIX + "cache_limit_bytes", names)
        self.assertTrue(all(name.startswith(PREFIX) for name in names))

    def test_indexes_from_the_start(self) -> None:
        """
        Each configured index has its upstream error series before it was
        ever asked.
        """
        value = self.registry.get_sample_value(
            PREFIX + "upstream_errors_total", {"index": "extra"}
        )
        self.assertEqual(value, 0)

    def test_requests_counted(self) -> None:
        """
        Requests recorded in the stats show at the next collection, by code
        and cache result; the cache's limit is a gauge.
        """
        self.stats.requests[(200, "HIT")] = 3
        value = self.registry.get_sample_value(
            PREFIX + "requests_total", {"code": "200", "cache": "HIT"}
        )
        self.assertEqual(value, 3)
        self.assertEqual(
            self.registry.get_sample_value(PREFIX + "cache_limit_bytes"), 1000
        )

    def test_disk_full(self) -> None:
        """
        A full disk is a gauge (1 while full), with the number of episodes,
        when it last happened, and the files sent without being cached.
        """
        sample = self.registry.get_sample_value
        self.assertEqual(sample(PREFIX + "disk_full"), 0)
        self.assertIsNone(sample(PREFIX + "disk_full_last_timestamp_seconds"))
        self.clock.advance(42)
        with capturedLogs():
            self.cache.space.found_full("x", OSError(errno.ENOSPC, "full"))
        self.assertEqual(sample(PREFIX + "disk_full"), 1)
        self.assertEqual(sample(PREFIX + "disk_full_episodes_total"), 1)
        self.assertEqual(sample(PREFIX + "disk_full_last_timestamp_seconds"), 42)
        self.assertEqual(sample(PREFIX + "downloads_uncached_total"), 0)

    def test_policy(self) -> None:
        """
        What the policy held back is counted by rule and mode, every rule
        with its series from the start; refused downloads likewise.
        """
        sample = self.registry.get_sample_value
        held = PREFIX + "policy_held_back_total"
        refused = PREFIX + "policy_refused_downloads_total"
        self.assertEqual(sample(held, {"rule": "deny", "mode": "enforced"}), 0)
        self.stats.policy.decided(
            [("pypi", "a.whl", Decision(Rule.SNAPSHOT, "after"))], 1.0
        )
        self.stats.policy.download(
            "pypi", "b.whl", Decision(Rule.MIN_AGE, "young", enforced=False)
        )
        self.assertEqual(sample(held, {"rule": "snapshot", "mode": "enforced"}), 1)
        self.assertEqual(sample(held, {"rule": "min-age", "mode": "dry-run"}), 1)
        self.assertEqual(sample(refused, {"rule": "min-age", "mode": "dry-run"}), 1)
        self.assertEqual(sample(refused, {"rule": "snapshot", "mode": "enforced"}), 0)


class StoreMetricsTests(SynchronousTestCase):
    """
    The shared store's and the cluster's families.
    """

    def test_store(self) -> None:
        """
        With a shared store: which one (bucket and prefix, endpoint), its
        requests by method and outcome, errors, latency, and the leases the
        node holds and follows.
        """
        from tests.web.test_statusstore import store_node

        clock = Clock()
        stats = Stats(clock)
        store, downloads = store_node(self, clock)
        stats.store_answered("HEAD", 404, 0.02)
        stats.store_answered("PUT", None, 1.0, "refused")
        registry = make_registry(stats, store, downloads, ["pypi"])
        value = registry.get_sample_value
        labels = {"store": "s3://fleet-cache/team/", "endpoint": "http://10.0.0.9:8333"}
        self.assertEqual(value(PREFIX + "store_info", labels), 1)
        self.assertEqual(
            value(
                PREFIX + "store_requests_total", {"method": "HEAD", "outcome": "404"}
            ),
            1,
        )
        self.assertEqual(
            value(
                PREFIX + "store_requests_total",
                {"method": "PUT", "outcome": "unreachable"},
            ),
            1,
        )
        self.assertEqual(value(PREFIX + "store_errors_total"), 1)
        self.assertEqual(value(PREFIX + "store_latency_seconds_count"), 1)
        self.assertEqual(value(PREFIX + "cluster_leases_held"), 1)
        self.assertEqual(value(PREFIX + "cluster_files_followed"), 1)

    def test_local(self) -> None:
        """Without a shared store there are no store families."""
        clock = Clock()
        cache = FileCache(FilePath(self.mktemp()), None, clock)
        downloads = Downloads(cache, streaming(_never), clock)
        registry = make_registry(Stats(clock), cache, downloads, ["pypi"])
        names = [family.name for family in registry.collect()]
        self.assertFalse([n for n in names if "store" in n or "cluster" in n])
