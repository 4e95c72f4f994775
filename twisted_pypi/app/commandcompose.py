# -*- test-case-name: tests.app.test_commandcompose -*-
"""
What the commands that work on the proxy's cache are given (``warm``,
``analyze``, ``export``), built from the parts of the composition root
(:mod:`twisted_pypi.app.compose`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred

from twisted_pypi.app.compose import (
    file_cache,
    local_indexes,
    make_downloads,
    make_page_caches,
    online_router,
)
from twisted_pypi.app.metacompose import core_metadata
from twisted_pypi.app.upstreamcompose import UpstreamClients
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.lookup import Lookup
from twisted_pypi.core.metadata import MAX_DOWNLOAD_SIZE
from twisted_pypi.core.runner import run_now, thread_runner
from twisted_pypi.files.metadata import MetadataFiles
from twisted_pypi.mirror.fetcher import CacheFiller
from twisted_pypi.resolve.metadata import CachedMetadataSource, IndexMetadataSource
from twisted_pypi.sources.dummies import Dummies
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.sources.policyview import policy_pages
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.upstream.offline import OfflineClient, offline_fetch

__all__ = ["analysis_sources", "cache_filler", "export_sources"]


def cache_filler(
    config: ProxyConfig,
    reactor: Any,
    clients: UpstreamClients,
    say: Callable[[str], object],
    concurrency: int = 4,
    snapshot: float | None = None,
) -> CacheFiller:
    """
    What ``warm`` fetches into the cache with: the proxy's page caches,
    local indexes, router and downloads, over a file cache that never
    evicts.  Its pages are those a client of the proxy sees, under the
    supply-chain policy (and ``snapshot``): what the policy holds back is
    never chosen.

    :param config: The settings.
    :param reactor: The running reactor.
    :param clients: Talk to the upstreams.
    :param say: Told about every file fetched.
    :param concurrency: How many files are downloaded at once.
    :param snapshot: The moment of the snapshot to warm, if any.
    """
    cache = file_cache(config, reactor, bounded=False)
    run = thread_runner(reactor)
    downloads = make_downloads(config, cache, clients.fetch, reactor)
    metadata = core_metadata(config, cache, clients.fetch, reactor, run, downloads)
    pages = make_page_caches(
        config, clients.pages, reactor, cache, run, advertiser=metadata.advertiser
    )
    local = local_indexes(config, run, reactor)
    indexes = online_router(config, pages, local)
    dummies = Dummies(config.dummies, indexes.get_project, config.links)
    shown = policy_pages(
        indexes.with_first(dummies), config.policy, reactor, snapshot, run
    )
    return CacheFiller(
        cache,
        pages,
        local,
        shown,
        downloads,
        run,
        say,
        concurrency,
        metadata.files,
    )


def analysis_sources(
    config: ProxyConfig,
    reactor: Any,
    clients: UpstreamClients,
    progress: Callable[[str], object],
    max_download: int = MAX_DOWNLOAD_SIZE,
) -> tuple[Callable[[str], Deferred[Lookup]], CachedMetadataSource]:
    """
    Where ``analyze`` reads pages and metadata: the first index's page cache
    (pages land in the cache directory), and the file cache's metadata,
    else the upstream's (a wheel's read by ranges through the file fetcher).

    :param config: The settings.
    :param reactor: The running reactor.
    :param clients: Talk to the upstreams.
    :param progress: Told about metadata downloads.
    :param max_download: The largest file downloaded whole for its
        metadata (where ranges cannot be read).
    """
    cache = file_cache(config, reactor, bounded=False)
    pages = make_page_caches(
        config, clients.pages, reactor, cache, thread_runner(reactor)
    )[0]
    upstream = IndexMetadataSource(
        clients.pages,
        reactor,
        config.connect_timeout,
        config.idle_timeout,
        max_download,
        progress=progress,
        fetch=clients.fetch,
        run=thread_runner(reactor),
    )
    metadata = CachedMetadataSource(
        cache, config.indexes[0].name, upstream, thread_runner(reactor)
    )
    return pages.get_project, metadata


def export_sources(
    config: ProxyConfig, reactor: Any
) -> tuple[list[PageCache], FileCache, list[LocalIndex], MetadataFiles]:
    """
    What ``export`` reads: the page caches with clients that fetch nothing,
    the file cache (never evicting), the local indexes, and the core
    metadata the proxy made (read from cached wheels that lack it).

    :param config: The settings.
    :param reactor: The running reactor.
    """
    cache = file_cache(config, reactor, bounded=False)
    run = thread_runner(reactor) if hasattr(reactor, "getThreadPool") else run_now
    metadata = core_metadata(config, cache, offline_fetch, reactor, run, probe=False)
    pages = make_page_caches(
        config, OfflineClient(), reactor, cache, advertiser=metadata.advertiser
    )
    return pages, cache, local_indexes(config), metadata.files
