"""
The Prometheus collector: turns the service's
:class:`~twisted_pypi.core.stats.Stats` (and the live file cache and downloads)
into metric families on each scrape; with a shared store, the store's requests
and latency, and the leases the node holds or follows; what the supply-chain
policy held back.

Imported only when ``/-/metrics`` is first scraped (see
:mod:`twisted_pypi.web.metrics`): ``prometheus_client`` brings a web server of
its own and more, which a proxy nobody scrapes need not hold in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import CollectorRegistry

from twisted_pypi.core.decisions import DRY_RUN, ENFORCED, PolicyRecord
from twisted_pypi.core.policy import Rule
from twisted_pypi.core.stats import (
    METADATA_SOURCES,
    OTHER,
    RANGE_SOURCES,
    SOURCES,
    Stats,
    UpstreamHealth,
)
from twisted_pypi.files.download import Downloads
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.s3files import S3FileStore

__all__ = [
    "PREFIX",
    "StatsCollector",
    "make_registry",
]

#: The prefix of every metric name.
PREFIX = "pypiproxy_"


class StatsCollector:
    """
    A Prometheus collector reading a :class:`Stats`, a file cache and the
    downloads in flight.
    """

    def __init__(
        self,
        stats: Stats,
        cache: FileCache,
        downloads: Downloads,
        indexes: Sequence[str],
    ) -> None:
        """
        :param stats: The service's running totals.
        :param cache: The file cache (size, limit, evictions).
        :param downloads: The downloads in flight.
        :param indexes: The names of the remote indexes, so that each has its
            series from the start.
        """
        self._stats = stats
        self._cache = cache
        self._downloads = downloads
        self._indexes = tuple(indexes)

    def collect(self) -> Iterable[Metric]:
        """
        Every metric family, as of now.
        """
        yield from self._requests()
        yield from self._upstreams()
        yield from self._files()
        yield from _policy(self._stats.policy)
        if isinstance(self._cache, S3FileStore):
            yield from self._store(self._cache)

    def _requests(self) -> Iterable[Metric]:
        stats = self._stats
        requests = CounterMetricFamily(
            PREFIX + "requests",
            "Requests answered, by status code and X-Cache result.",
            labels=["code", "cache"],
        )
        for (code, cache), n in sorted(stats.requests.items()):
            requests.add_metric([str(code), cache], n)
        yield requests
        sent = CounterMetricFamily(
            PREFIX + "response_bytes",
            "Response body bytes sent, by source: cache (hit), upstream (miss), "
            "dummy, local; other for errors, redirects and these pages.",
            labels=["source"],
        )
        for source in sorted({*SOURCES.values(), OTHER}):
            sent.add_metric([source], stats.bytes_by_source.get(source, 0))
        yield sent
        ranges = CounterMetricFamily(
            PREFIX + "file_ranges",
            "Range requests for files not cached, by where they were answered"
            " from: spool (a download in flight), upstream (passed on as a range).",
            labels=["source"],
        )
        for source in RANGE_SOURCES:
            ranges.add_metric([source], stats.ranges.get(source, 0))
        yield ranges
        yield CounterMetricFamily(
            PREFIX + "dummy_files",
            "Dummy wheels served in place of real files.",
            value=stats.dummy_files,
        )
        yield CounterMetricFamily(
            PREFIX + "dummy_saved_bytes",
            "Sizes of the real files that dummy wheels replaced, where known.",
            value=stats.dummy_saved_bytes,
        )
        metadata = CounterMetricFamily(
            PREFIX + "core_metadata_served",
            "Core metadata (.metadata) files served, by source: upstream (the"
            " index's own), extracted (read from the cached wheel), ranged"
            " (read by ranges of the upstream's wheel).",
            labels=["source"],
        )
        for source in METADATA_SOURCES:
            metadata.add_metric([source], stats.metadata_served.get(source, 0))
        yield metadata

    def _upstreams(self) -> Iterable[Metric]:
        stats = self._stats
        names = list(dict.fromkeys([*self._indexes, *stats.upstreams]))
        healths = [stats.upstreams.get(n) or UpstreamHealth(n) for n in names]
        latency = HistogramMetricFamily(
            PREFIX + "upstream_latency_seconds",
            "Time from a page request to an upstream's complete response.",
            labels=["index"],
        )
        errors = CounterMetricFamily(
            PREFIX + "upstream_errors",
            "Upstream page fetches that failed.",
            labels=["index"],
        )
        last_success = GaugeMetricFamily(
            PREFIX + "upstream_last_success_timestamp_seconds",
            "When the upstream last answered a page request usefully.",
            labels=["index"],
        )
        last_error = GaugeMetricFamily(
            PREFIX + "upstream_last_error_timestamp_seconds",
            "When an upstream page fetch last failed.",
            labels=["index"],
        )
        for health in healths:
            label = [health.name]
            latency.add_metric(label, health.latency.cumulative(), health.latency.total)
            errors.add_metric(label, health.errors)
            if health.last_success is not None:
                last_success.add_metric(label, health.last_success)
            if health.last_error is not None:
                last_error.add_metric(label, health.last_error)
        yield from (latency, errors, last_success, last_error)

    def _files(self) -> Iterable[Metric]:
        cache = self._cache
        flights = self._downloads.in_flight()
        yield GaugeMetricFamily(
            PREFIX + "downloads_in_flight",
            "Upstream file downloads in progress.",
            value=len(flights),
        )
        yield GaugeMetricFamily(
            PREFIX + "download_followers",
            "Clients receiving a file from a download in progress.",
            value=sum(f.followers for f in flights),
        )
        yield GaugeMetricFamily(
            PREFIX + "cache_size_bytes",
            "Bytes of complete files in the file cache.",
            value=cache.total_size,
        )
        yield GaugeMetricFamily(
            PREFIX + "cache_reserved_bytes",
            "Bytes set aside for downloads in progress.",
            value=cache.reserved,
        )
        if cache.max_size is not None:
            yield GaugeMetricFamily(
                PREFIX + "cache_limit_bytes",
                "The file cache's size limit.",
                value=cache.max_size,
            )
        yield CounterMetricFamily(
            PREFIX + "cache_evictions",
            "Files evicted from the cache to stay within its limit, or to make"
            " room on a full disk.",
            value=cache.evictions,
        )
        yield from self._disk()

    def _disk(self) -> Iterable[Metric]:
        space = self._cache.space
        yield GaugeMetricFamily(
            PREFIX + "disk_full",
            "1 while the last write to the cache found the disk (or quota) full.",
            value=int(space.full),
        )
        yield CounterMetricFamily(
            PREFIX + "disk_full_episodes",
            "Times a write found the disk full after writes had succeeded.",
            value=space.episodes,
        )
        if space.last_full is not None:
            yield GaugeMetricFamily(
                PREFIX + "disk_full_last_timestamp_seconds",
                "When a write last found the disk full.",
                value=space.last_full,
            )
        yield CounterMetricFamily(
            PREFIX + "downloads_uncached",
            "Files sent to clients without being cached: the disk was full.",
            value=self._downloads.uncached,
        )

    def _store(self, store: S3FileStore) -> Iterable[Metric]:
        stats = self._stats
        info = GaugeMetricFamily(
            PREFIX + "store_info",
            "The shared store (--store) this node uses: 1, labelled with its"
            " bucket and prefix and its endpoint.",
            labels=["store", "endpoint"],
        )
        info.add_metric([str(store.place), store.client.endpoint], 1)
        yield info
        requests = CounterMetricFamily(
            PREFIX + "store_requests",
            "Requests to the shared store, by method and outcome (the status"
            " code, or unreachable).",
            labels=["method", "outcome"],
        )
        for (method, outcome), n in sorted(stats.store_requests.items()):
            requests.add_metric([method, outcome], n)
        yield requests
        health = stats.store
        yield HistogramMetricFamily(
            PREFIX + "store_latency_seconds",
            "Time from a request to the shared store to its response's headers.",
            buckets=health.latency.cumulative(),
            sum_value=health.latency.total,
        )
        yield CounterMetricFamily(
            PREFIX + "store_errors",
            "Requests to the shared store that failed: no answer, or 5xx.",
            value=health.errors,
        )
        if health.last_error is not None:
            yield GaugeMetricFamily(
                PREFIX + "store_last_error_timestamp_seconds",
                "When a request to the shared store last failed.",
                value=health.last_error,
            )
        yield GaugeMetricFamily(
            PREFIX + "store_files",
            "Files the node knows the shared store holds.",
            value=store.store_files,
        )
        cluster = self._downloads.cluster
        if cluster is not None:
            yield GaugeMetricFamily(
                PREFIX + "cluster_leases_held",
                "Files this node downloads for the cluster (it holds their leases).",
                value=len(cluster.holding()),
            )
            yield GaugeMetricFamily(
                PREFIX + "cluster_files_followed",
                "Files this node streams from the node downloading them.",
                value=len(cluster.followed()),
            )


def _policy(record: PolicyRecord) -> Iterable[Metric]:
    """
    What the supply-chain policy held back, by rule (``deny``, ``snapshot``,
    ``min-age``, and ``quarantined`` for the files of a project the
    upstream quarantined) and mode (``enforced``, or ``dry-run`` for
    ``--policy-dry-run``); every rule and mode has its series from the start.
    """
    held = CounterMetricFamily(
        PREFIX + "policy_held_back",
        "Files held back by the policy or an upstream's quarantine, each"
        " counted once per decision change, by rule and mode.",
        labels=["rule", "mode"],
    )
    refused = CounterMetricFamily(
        PREFIX + "policy_refused_downloads",
        "Requests for files the policy holds back or an upstream quarantined"
        " (refused with 403, or only logged in a dry run), by rule and mode.",
        labels=["rule", "mode"],
    )
    for rule in Rule:
        for mode in (ENFORCED, DRY_RUN):
            key = (rule.value, mode)
            held.add_metric([rule.value, mode], record.held.get(key, 0))
            refused.add_metric([rule.value, mode], record.refused.get(key, 0))
    yield from (held, refused)


def make_registry(
    stats: Stats, cache: FileCache, downloads: Downloads, indexes: Sequence[str]
) -> CollectorRegistry:
    """
    A registry of the service's own, holding only its :class:`StatsCollector`.

    :param stats: The service's running totals.
    :param cache: The file cache.
    :param downloads: The downloads in flight.
    :param indexes: The names of the remote indexes.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatsCollector(stats, cache, downloads, indexes))
    return registry
