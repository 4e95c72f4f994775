# -*- test-case-name: tests.app.test_service -*-
"""
The proxy as a service: its components (built by
:mod:`twisted_pypi.app.compose`), the site, and a service that listens on
every configured endpoint.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource

from twisted_pypi.app.compose import (
    file_cache,
    local_indexes,
    make_downloads,
    make_page_caches,
    proxy_root,
    thread_runner,
    upstream_clients,
)
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.sizes import format_size
from twisted_pypi.core.stats import Stats
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.web.accesslog import AccessLogSite
from twisted_pypi.web.site import ProxySite

__all__ = ["ProxyService", "make_service", "make_site"]

log = Logger()


class ProxyService(MultiService):
    """
    Listens on the configured endpoints and serves the proxy's site.
    """

    def __init__(
        self,
        config: ProxyConfig,
        reactor: Any,
        site: ProxySite,
        cache: FileCache,
        pool: HTTPConnectionPool | None = None,
    ) -> None:
        """
        :param config: The settings.
        :param reactor: The reactor to listen with.
        :param site: The site to serve.
        :param cache: The file cache, scanned when the service starts.
        :param pool: The upstream connection pool, closed when it stops.
        """
        super().__init__()
        self.config = config
        self.site = site
        self.ports: list[IListeningPort] = []
        self._reactor = reactor
        self._cache = cache
        self._pool = pool

    def startService(self) -> None:
        super().startService()
        self._cache.scan()
        self._cache.spools.start_sweeping()
        for local in self.config.locals:
            log.info("Local index {name}: {path}", name=local.name, path=local.path)
        for index in self.config.indexes:
            log.info(
                "Upstream index {name}: {url} (pages fresh for {ttl:g} s)",
                name=index.name,
                url=index.url,
                ttl=index.ttl,
            )
        if self.config.offline:
            log.info(
                "Offline: no upstream is contacted; serving only the pages and"
                " files in the cache"
            )
        limit = self.config.cache_size
        log.info(
            "Cache: {dir} ({size} in files, limit {limit})",
            dir=self.config.cache_dir,
            size=format_size(self._cache.total_size),
            limit=format_size(limit) if limit else "none",
        )
        for description in self.config.listen:
            endpoint = serverFromString(self._reactor, description)
            d = endpoint.listen(self.site)
            failures: list[Failure] = []
            d.addCallbacks(
                self._listening, failures.append, callbackArgs=(description,)
            )
            if failures:
                # Listening on TCP, SSL and UNIX endpoints happens at once: a
                # port in use must stop the start-up with a readable error.
                failures[0].raiseException()

    def _listening(self, port: IListeningPort, description: str) -> None:
        self.ports.append(port)
        address = port.getHost()
        host = getattr(address, "host", None)
        where = f"http://{host}:{address.port}/simple/" if host else str(address)  # type: ignore[attr-defined]
        log.info("Listening on {endpoint}: {where}", endpoint=description, where=where)

    def stopService(self) -> Deferred[Any]:
        super().stopService()
        self._cache.spools.stop_sweeping()
        stops: list[Deferred[Any]] = [
            Deferred.fromCoroutine(_stop(port)) for port in self.ports
        ]
        self.ports = []
        if self._pool is not None:
            stops.append(self._pool.closeCachedConnections())
        return DeferredList(stops)


async def _stop(port: IListeningPort) -> None:
    await maybeDeferred(port.stopListening)


def make_service(config: ProxyConfig, reactor: Any) -> ProxyService:
    """
    Build the whole proxy for ``config`` on ``reactor``.

    :param config: The settings.
    :param reactor: The reactor: listens, connects, and keeps time.
    """
    clients = upstream_clients(config, reactor)
    cache = file_cache(config, reactor)
    downloads = make_downloads(config, cache, clients.fetch, reactor)
    run = thread_runner(reactor)
    stats = Stats(reactor)
    pages = make_page_caches(config, clients.pages, reactor, cache, run, stats)
    local = local_indexes(config, run)
    tree = proxy_root(
        config,
        pages,
        cache,
        downloads,
        clients.fetch,
        local,
        stats,
        json_client=clients.pages,
        run=run,
    )
    site = make_site(config, tree, reactor, stats)
    return ProxyService(config, reactor, site, cache, clients.pool)


def make_site(
    config: ProxyConfig, tree: Resource, reactor: Any, stats: Stats
) -> ProxySite:
    """
    The site serving ``tree``: with an access log if ``config`` names one,
    and refusing oversized uploads early if uploads are on.

    :param config: The settings.
    :param tree: The resource tree.
    :param reactor: The clock.
    :param stats: Where requests are counted.
    """
    extra: dict[str, Any] = {}
    if config.upload_users is not None:
        # Imported here: the upload machinery (cred, bcrypt, form parsing)
        # costs memory that a proxy without uploads should not pay.
        from twisted_pypi.web.upload import limited_request

        extra["requestFactory"] = limited_request(config.max_upload_size)
    if config.access_log is not None:
        return AccessLogSite(
            tree, reactor, config.access_log, stats=stats, reactor=reactor, **extra
        )
    return ProxySite(tree, reactor, stats, reactor=reactor, **extra)
