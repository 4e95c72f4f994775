# -*- test-case-name: tests.app.test_compose -*-
"""
The composition root: every component of the proxy built from a
:class:`~twisted_pypi.core.config.ProxyConfig`, in one place, for the
service (:mod:`twisted_pypi.app.service`); what the commands that work on
its cache are given is built from these parts in
:mod:`twisted_pypi.app.commandcompose`.

The library code below takes these components as parameters; only this
module decides which client, cache, runner, router and page caches go
together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.filepath import FilePath
from twisted.web.iweb import IResponse
from twisted.web.resource import Resource

from twisted_pypi.app.storecompose import (
    StoreObserver,
    bucket_index_place,
    record_store,
    s3_file_store,
)
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.lookup import Lookup
from twisted_pypi.core.runner import Runner, run_now, thread_runner
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.cluster import ClusterFetch
from twisted_pypi.files.download import Downloads
from twisted_pypi.files.metadata import MetadataFiles
from twisted_pypi.pypijson.cache import JsonCache
from twisted_pypi.sources.dummies import Dummies
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.sources.metaadvert import MetadataAdvertiser
from twisted_pypi.sources.offline import offline_routers
from twisted_pypi.sources.remote import PageCache, PageStore
from twisted_pypi.sources.router import Router
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.jsonstore import JSON_AREA, JsonStore
from twisted_pypi.storage.pagestore import PAGES_AREA
from twisted_pypi.storage.space import space_report
from twisted_pypi.upstream.client import PageClient
from twisted_pypi.upstream.stream import streaming
from twisted_pypi.web.root import make_root

__all__ = [
    "file_cache",
    "local_indexes",
    "make_downloads",
    "make_page_caches",
    "online_router",
    "page_routers",
    "proxy_root",
]


#: Bytes read from an upstream file at a time.
_CHUNK_SIZE = 256 * 1024


def file_cache(config: ProxyConfig, reactor: Any, *, bounded: bool = True) -> FileCache:
    """
    The file cache in ``config.cache_dir``; with ``--store``, the shared
    store, ``config.cache_dir`` being its spools and read cache.

    :param config: The settings.
    :param reactor: The clock.
    :param bounded: Whether ``config.cache_size`` applies; the commands fill
        or read the cache without evicting anything.
    """
    size = config.cache_size if bounded else None
    if config.store is not None:
        return s3_file_store(config, config.store, reactor, size)
    return FileCache(
        FilePath(config.cache_dir), size, reactor, run=thread_runner(reactor)
    )


def make_downloads(
    config: ProxyConfig,
    cache: FileCache,
    fetch: Callable[..., Deferred[IResponse]],
    reactor: Any,
    cluster: ClusterFetch | None = None,
) -> Downloads:
    """
    The downloads of upstream files into ``cache``, one per file.

    :param config: The settings (the idle timeout).
    :param cache: Where the files go.
    :param fetch: Issues upstream file requests.
    :param reactor: The clock.
    :param cluster: Where the bodies come from on a node of a cluster (see
        :func:`~twisted_pypi.app.clustercompose.cluster_fetch`), or
        ``None``: from ``fetch``.
    """
    return Downloads(
        cache,
        streaming(fetch),
        reactor,
        idle_timeout=config.idle_timeout,
        chunk_size=_CHUNK_SIZE,
        cluster=cluster,
    )


def make_page_caches(
    config: ProxyConfig,
    client: Any,
    reactor: Any,
    cache: FileCache,
    run: Runner | None = None,
    stats: Stats | None = None,
    advertiser: MetadataAdvertiser | None = None,
) -> list[PageCache]:
    """
    The page cache of each remote index, highest priority first, all storing
    pages in ``<cache-dir>/pages``.

    :param config: The settings.
    :param client: The page client.
    :param reactor: The clock.
    :param cache: The file cache (the files of a quarantined project are
        dropped from it).
    :param run: Runs page parsing, see :func:`thread_runner`.
    :param stats: Where upstream fetches are recorded, if anywhere.
    :param advertiser: Advertises the core metadata the proxy makes, if it
        does (see :func:`~twisted_pypi.app.metacompose.core_metadata`).
    """
    store = PageStore(
        record_store(
            config,
            PAGES_AREA,
            ".page",
            space=space_report(cache.space, reactor),
            observe=_store_observer(stats, reactor),
        ),
        # Pages too big for memory are served from their renderings here,
        # on the node's own disk whatever the store.
        FilePath(config.cache_dir).child(PAGES_AREA),
    )
    return [
        PageCache(
            index,
            config,
            client,
            reactor,
            store,
            run=run,
            forget_file=cache.remove,
            stats=stats,
            advertiser=advertiser,
        )
        for index in config.indexes
    ]


def local_indexes(
    config: ProxyConfig, run: Runner | None = None, reactor: Any = None
) -> list[LocalIndex]:
    """
    The local indexes, highest priority first.

    :param config: The settings.
    :param run: Runs hashing and archive reading; by default at once.
    :param reactor: Connects to the store and keeps time (needed for an
        index in a bucket).
    :raise NoCredentials: If an index is in a bucket and no AWS credentials
        are found.
    """
    indexes = []
    for local in config.locals:
        if local.bucket is None:
            indexes.append(LocalIndex(local, config.links, run=run))
            continue
        if reactor is None:
            raise ValueError(
                f"the local index {local.name} in a bucket needs a reactor"
            )
        place = bucket_index_place(config, local, reactor, run)
        indexes.append(LocalIndex(local, config.links, place=place, clock=reactor))
    return indexes


def online_router(
    config: ProxyConfig, pages: Sequence[PageCache], local: Sequence[LocalIndex]
) -> Router:
    """
    What answers for projects with an upstream: the local indexes, then the
    remote ones, by ``config``'s routes and merges.

    :param config: The settings.
    :param pages: The remote indexes' page caches, highest priority first.
    :param local: The local indexes, highest priority first.
    """
    return Router([*local, *pages], config.routes, config.merge, config.links)


def page_routers(
    config: ProxyConfig,
    pages: Sequence[PageCache],
    cache: FileCache,
    local: Sequence[LocalIndex],
) -> tuple[Router, Callable[[str], Deferred[Lookup]]]:
    """
    What answers for projects (online, or from the cache alone with
    ``config.offline``) and what gives the real pages "auto" dummies mirror.

    :param config: The settings.
    :param pages: The remote indexes' page caches, highest priority first.
    :param cache: The file cache.
    :param local: The local indexes, highest priority first.
    """
    if config.offline:
        return offline_routers(config, pages, cache, local)
    router = online_router(config, pages, local)
    return router, router.get_project


def proxy_root(
    config: ProxyConfig,
    pages: Sequence[PageCache],
    cache: FileCache,
    downloads: Downloads,
    fetch: Callable[..., Deferred[IResponse]],
    local: Sequence[LocalIndex] = (),
    stats: Stats | None = None,
    *,
    json_client: PageClient | None = None,
    run: Runner | None = None,
    metadata: MetadataFiles | None = None,
) -> Resource:
    """
    The proxy's resource tree over these components: the router, the
    dummies and the JSON document cache are built here, the tree is mounted
    by :func:`~twisted_pypi.web.root.make_root`.

    :param config: The settings.
    :param pages: The page caches of the remote indexes, highest priority
        first.
    :param cache: The file cache.
    :param downloads: The downloads in flight.
    :param fetch: Issues upstream file requests.
    :param local: The local indexes, highest priority first; they rank above
        the remote ones.
    :param stats: Where requests, upstream fetches and dummies are counted
        (the page caches and the site record into it too); by default, new
        ones on the file cache's clock.
    :param json_client: The HTTP client for the upstreams' JSON API; without
        one there is no ``/pypi/``.
    :param run: Runs password checks and uploads (needed with upload users).
    :param metadata: Makes the ``.metadata`` of wheels whose index offers
        none.
    """
    if stats is None:
        stats = Stats(cache.clock)
    router, real_pages = page_routers(config, pages, cache, local)
    ttl = min((p.index.ttl for p in pages), default=600.0)
    dummies = Dummies(config.dummies, real_pages, config.links, ttl, stats)
    router = router.with_first(dummies)
    documents = None
    if json_client is not None:
        store = JsonStore(
            record_store(
                config,
                JSON_AREA,
                ".json",
                cache.root,
                space=space_report(cache.space, cache.clock),
                observe=_store_observer(stats, cache.clock),
            )
        )
        documents = JsonCache(
            config, json_client, cache.clock, store, run if run else run_now
        )
    return make_root(
        config,
        router=router,
        dummies=dummies,
        pages=pages,
        local=local,
        cache=cache,
        downloads=downloads,
        fetch=fetch,
        stats=stats,
        documents=documents,
        clock=cache.clock,
        run=run,
        metadata=metadata,
    )


def _store_observer(stats: Stats | None, reactor: Any) -> StoreObserver | None:
    """
    Records the requests of the record stores' blocking clients (made in
    the thread pool) in ``stats``, on the reactor thread.
    """
    if stats is None or not hasattr(reactor, "callFromThread"):
        return None

    def observe(method: str, code: int | None, seconds: float, why: str) -> None:
        reactor.callFromThread(stats.store_answered, method, code, seconds, why)

    return observe
