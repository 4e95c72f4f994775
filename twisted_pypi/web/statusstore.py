# -*- test-case-name: tests.web.test_statusstore -*-
"""
The status page's section on the shared store (``--store``): which bucket
and endpoint the node uses (never its credentials), how the store has been
answering (requests, errors, latency), and, on a node of a cluster, the
files it downloads for the cluster (it holds their leases) and those it
streams from other nodes.
"""

from __future__ import annotations

from twisted.web.template import Flattenable, Tag, tags

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.web.statushtml import group, kv, plural, when

__all__ = ["store_section"]

#: The store's state: its badge's class and text, by health.
_BADGES = {
    True: ("ok", "ok"),
    False: ("bad", "failing"),
    None: ("idle", "not asked yet"),
}


def store_section(
    config: ProxyConfig, stats: Stats, cache: FileCache, downloads: Downloads
) -> Flattenable:
    """
    The section, or nothing when the cache directory is the store.

    :param config: The settings (the store's region, the node's URL).
    :param stats: The running totals (the store's requests).
    :param cache: The file store.
    :param downloads: The downloads in flight (their cluster).
    """
    if not isinstance(cache, S3FileStore) or config.store is None:
        return ""
    health = stats.store
    now = stats.clock.seconds()
    kind, state = _BADGES[health.healthy]
    rows: list[tuple[str, Flattenable]] = [
        ("Bucket", tags.span(str(cache.place), class_="url")),
        ("Endpoint", tags.span(cache.client.endpoint, class_="url")),
        ("Region", config.store.region),
        ("Files", f"{cache.store_files} known in the store"),
        ("Last success", when(health.last_success, now)),
    ]
    if health.last_error is not None:
        rows.append(("Last error", when(health.last_error, now)))
        message = health.last_error_message or ""
        rows.append(("Error", tags.span(message, class_="error")))
    requests = sum(stats.store_requests.values())
    rows.append(("Requests", f"{requests} ({plural(health.errors, 'error')})"))
    mean = health.latency.mean
    if mean is not None:
        rows.append(
            ("Latency", f"{mean * 1000:.0f} ms mean over {health.latency.count}")
        )
    return tags.section(
        tags.h2("Shared store ", tags.span(state, class_=f"badge {kind}")),
        kv(rows),
        _cluster(config, downloads),
    )


def _cluster(config: ProxyConfig, downloads: Downloads) -> Flattenable:
    """
    This node's URL, the files it holds the leases of and those it follows,
    on a node of a cluster.
    """
    cluster = downloads.cluster
    if config.cluster is None or cluster is None:
        return tags.p(
            "Not part of a cluster: files are fetched by this node alone"
            " (--node-url and --cluster-secret turn on cross-node streaming).",
            class_="muted",
        )
    holding: list[tuple[str, Flattenable]] = [
        (_name(key), tags.span(key, class_="url")) for key in cluster.holding()
    ]
    followed: list[tuple[str, Flattenable]] = [
        (_name(key), tags.span(f"from {node}", class_="url"))
        for key, node in sorted(cluster.followed().items())
    ]
    node: Tag = tags.p("This node: ", tags.span(config.cluster.node_url, class_="url"))
    return [
        node,
        group("Downloading for the cluster", holding),
        group("Streaming from other nodes", followed),
    ]


def _name(key: str) -> str:
    """A file's name, from its key."""
    return key.rsplit("/", 1)[-1]
