"""
The root of the resource tree: ``/simple/``, ``/files/`` and the status page
(with ``/-/health`` and ``/-/metrics``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from twisted.internet.defer import Deferred
from twisted.web.iweb import IResponse
from twisted.web.resource import Resource

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.links import FILES_PREFIX
from twisted_pypi.core.lookup import Lookup
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads
from twisted_pypi.pypijson.cache import JsonCache
from twisted_pypi.sources.dummies import DUMMY_PREFIX, Dummies
from twisted_pypi.sources.local import LOCAL_PREFIX, LocalIndex
from twisted_pypi.sources.offline import offline_routers
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.sources.router import Router
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.jsonstore import JSON_AREA, JsonStore
from twisted_pypi.upstream.client import PageClient
from twisted_pypi.web.cachecontrol import CacheControlResource, mount
from twisted_pypi.web.dummyfiles import DummyFilesResource
from twisted_pypi.web.files import FilesResource
from twisted_pypi.web.jsonapi import JSON_PREFIX, JsonApiResource
from twisted_pypi.web.localfiles import LocalFilesResource
from twisted_pypi.web.simple import SimpleIndex
from twisted_pypi.web.status import install_status


class Root(Resource):
    """
    The root of the tree; ``/`` itself is its child ``b""``, the status page
    (see :func:`~twisted_pypi.web.status.install_status`).
    """


def make_root(
    config: ProxyConfig,
    pages: Sequence[PageCache],
    cache: FileCache,
    downloads: Downloads,
    fetch: Callable[..., Deferred[IResponse]],
    local: Sequence[LocalIndex] = (),
    stats: Stats | None = None,
    *,
    json_client: PageClient | None = None,
) -> Resource:
    """
    The proxy's resource tree.

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
    """
    if stats is None:
        stats = Stats(cache.clock)
    router = Router([*local, *pages], config.routes, config.merge, config.base_url)
    real_pages: Callable[[str], Deferred[Lookup]] = router.get_project
    if config.offline:
        router, real_pages = offline_routers(config, pages, cache, local)
    root = Root()
    install_status(root, config, stats, cache, downloads)
    ttl = min((p.index.ttl for p in pages), default=600.0)
    dummies = Dummies(config.dummies, real_pages, config.base_url, ttl, stats)
    root.putChild(b"simple", SimpleIndex(router, config.base_url, dummies))
    root.putChild(DUMMY_PREFIX.encode(), DummyFilesResource(dummies))
    root.putChild(
        LOCAL_PREFIX.encode(), LocalFilesResource({i.index.name: i for i in local})
    )
    root.putChild(
        FILES_PREFIX.encode(),
        FilesResource(
            {p.index.name: p for p in pages},
            cache,
            downloads,
            fetch,
            offline=config.offline,
        ),
    )
    documents = None
    if json_client is not None:
        store = JsonStore.on_disk(cache.root.child(JSON_AREA))
        documents = JsonCache(config, json_client, cache.clock, store)
        json_api = JsonApiResource(
            router,
            {p.index.name: p for p in pages},
            documents,
            config.base_url,
            {d.project for d in config.dummies},
        )
        root.putChild(JSON_PREFIX.encode(), json_api)
    if config.admin_token is not None:
        control = CacheControlResource(
            config.admin_token, pages, cache, downloads, documents
        )
        mount(root, control)
    return root
