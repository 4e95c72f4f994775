# -*- test-case-name: tests.web.test_metrics,tests.web.test_status -*-
"""
What machines read: ``/-/metrics``, the proxy's figures in the Prometheus
exposition format, and ``/-/health`` for load balancers.

A collector turns the service's :class:`~twisted_pypi.core.stats.Stats` (and the
live file cache and downloads) into metric families on each scrape, so the
status page and the metrics never disagree.  Each service has a registry of
its own, never the library's global one.

Scraping happens on the reactor thread and costs a few dozen lines of text:
``prometheus_client.twisted.MetricsResource`` is not used because it imports
the global reactor when loaded and answers through a WSGI thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from twisted.web.resource import Resource
from twisted.web.server import Request

from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.space import StoreSpace

__all__ = [
    "HealthPage",
    "MetricsPage",
    "registry_factory",
]

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry


def registry_factory(
    stats: Stats, cache: FileCache, downloads: Downloads, indexes: Sequence[str]
) -> Callable[[], CollectorRegistry]:
    """
    A function that builds the service's registry when first called, so that
    ``prometheus_client`` is loaded only once someone scrapes.

    :param stats: The service's running totals.
    :param cache: The file cache.
    :param downloads: The downloads in flight.
    :param indexes: The names of the remote indexes.
    """

    def build() -> CollectorRegistry:
        from twisted_pypi.web.promcollect import make_registry

        return make_registry(stats, cache, downloads, indexes)

    return build


class MetricsPage(Resource):
    """
    ``/-/metrics``: the registry in the text format Prometheus asked for
    (OpenMetrics when its ``Accept`` prefers it).
    """

    isLeaf = True

    def __init__(self, registry: Callable[[], CollectorRegistry]) -> None:
        """
        :param registry: Builds what to expose (called on the first scrape).
        """
        super().__init__()
        self._factory = registry
        self._registry: CollectorRegistry | None = None

    def render_GET(self, request: Request) -> bytes:
        from prometheus_client.exposition import choose_encoder

        if self._registry is None:
            self._registry = self._factory()
        accept = request.getHeader(b"accept")
        encoder, content_type = choose_encoder(
            accept.decode("latin-1") if accept is not None else ""
        )
        request.setHeader(b"content-type", content_type.encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        return encoder(self._registry)


class HealthPage(Resource):
    """
    ``/-/health``: a tiny JSON body while the proxy serves; asks nothing of
    anyone.

    A full cache disk answers 200 too, with ``"status": "degraded"`` and
    ``"disk": "full"``: the proxy still answers every request correctly
    (files are streamed through without caching, pages served from memory),
    and a 503 would make a load balancer drain, or an orchestrator restart,
    a node that works, which frees no disk and, on nodes sharing a volume,
    would take them all out at once.  Monitoring alerts on the body or on
    the ``pypiproxy_disk_full`` metric instead.
    """

    isLeaf = True

    def __init__(self, stats: Stats, space: StoreSpace) -> None:
        """
        :param stats: Gives the uptime.
        :param space: Whether the cache disk is full.
        """
        super().__init__()
        self._stats = stats
        self._space = space

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        request.setHeader(b"cache-control", b"no-store")
        full = self._space.full
        body = {
            "status": "degraded" if full else "ok",
            "disk": "full" if full else "ok",
            "uptime": round(self._stats.uptime, 3),
        }
        return json.dumps(body).encode() + b"\n"
