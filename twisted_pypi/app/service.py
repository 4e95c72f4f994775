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
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.client import HTTPConnectionPool
from twisted.web.resource import Resource

from twisted_pypi.app.cachedindexes import remember_indexes
from twisted_pypi.app.clustercompose import cluster_fetch
from twisted_pypi.app.compose import (
    file_cache,
    local_indexes,
    make_downloads,
    make_page_caches,
    proxy_root,
)
from twisted_pypi.app.endpoints import with_backlog
from twisted_pypi.app.metacompose import core_metadata
from twisted_pypi.app.upstreamcompose import upstream_clients
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.runner import thread_runner
from twisted_pypi.core.sizes import format_size
from twisted_pypi.core.stats import Stats
from twisted_pypi.objectstore.renewal import CredentialRenewal
from twisted_pypi.objectstore.signing import NoCredentials
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.web.accesslog import AccessLogSite
from twisted_pypi.web.site import ProxySite

__all__ = ["ProxyService", "StartupError", "make_service", "make_site"]

log = Logger()


class StartupError(Exception):
    """
    The proxy cannot start; the message names the cause in one line, for
    an operator (a port in use, a cache directory that cannot be made).
    """


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
        #: Why listening failed after the start, if it did (the reactor is
        #: then stopped; ``pypiproxy serve`` exits with 1).
        self.failure: StartupError | None = None

    def startService(self) -> None:
        """
        Scan the cache and listen on every endpoint.

        :raises StartupError: If the cache directory cannot be used or an
            endpoint cannot be listened on (TCP, SSL and UNIX endpoints
            listen at once).
        """
        super().startService()
        try:
            self._cache.scan()
        except OSError as e:
            raise StartupError(
                f"cannot use the cache directory {self.config.cache_dir!r}:"
                f" {e.strerror or e}"
            ) from None
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
        if isinstance(self._cache, S3FileStore):
            log.info(
                "Store: {place} at {endpoint}; the cache directory holds"
                " downloads in flight and a read cache",
                place=str(self._cache.place),
                endpoint=self._cache.client.endpoint,
            )
        if self.config.cluster is not None:
            log.info(
                "Cluster node {url}: downloads are shared with the other nodes"
                " on the store (one upstream fetch per file)",
                url=self.config.cluster.node_url,
            )
        for description in self.config.listen:
            endpoint = serverFromString(self._reactor, with_backlog(description))
            d = endpoint.listen(self.site)
            d.addCallback(self._listening, description)
            if d.called:
                # TCP, SSL and UNIX endpoints listen at once: a port in use
                # stops the start-up with a readable error.
                failures: list[Failure] = []
                d.addErrback(failures.append)
                if failures:
                    raise _listen_error(description, failures[0])
            else:
                d.addErrback(self._failed_later, description)

    def _failed_later(self, failure: Failure, description: str) -> None:
        """
        Listening failed after the start: log it and stop the reactor.
        """
        self.failure = _listen_error(description, failure)
        log.critical("{error}", error=self.failure)
        self._reactor.stop()

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
        if isinstance(self._cache, S3FileStore):
            stops.append(self._cache.close())
        return DeferredList(stops)


def _listen_error(description: str, failure: Failure) -> StartupError:
    """
    The error, in one line, for a failure to listen on ``description``.
    """
    error = failure.value
    if isinstance(error, CannotListenError):
        socket_error = error.socketError
        reason = getattr(socket_error, "strerror", None) or str(socket_error)
        where = f"{error.interface or '*'}:{error.port}"
        return StartupError(f"cannot listen on {description} ({where}): {reason}")
    return StartupError(f"cannot listen on {description}: {failure.getErrorMessage()}")


async def _stop(port: IListeningPort) -> None:
    await maybeDeferred(port.stopListening)


def make_service(config: ProxyConfig, reactor: Any) -> ProxyService:
    """
    Build the whole proxy for ``config`` on ``reactor``; online, its
    indexes are recorded in the cache directory (a small blocking write:
    call this before the reactor runs, as ``twistd`` and ``pypiproxy
    serve`` do).

    :param config: The settings.
    :param reactor: The reactor: listens, connects, and keeps time.
    """
    if not config.offline:
        # Once, before the reactor runs: export and --offline find them.
        remember_indexes(config)
    clients = upstream_clients(config, reactor)
    try:
        cache = file_cache(config, reactor)
    except NoCredentials as e:
        where = config.store.url if config.store is not None else ""
        raise StartupError(f"--store {where}: {e}") from None
    cluster = cluster_fetch(config, cache, clients.fetch, clients.pool, reactor)
    downloads = make_downloads(config, cache, clients.fetch, reactor, cluster)
    run = thread_runner(reactor)
    stats = Stats(reactor)
    if isinstance(cache, S3FileStore):
        cache.client.observe = stats.store_answered
    metadata = core_metadata(
        config,
        cache,
        clients.fetch,
        reactor,
        run,
        downloads,
        stats.metadata_from,
        probe=not config.offline,
    )
    pages = make_page_caches(
        config, clients.pages, reactor, cache, run, stats, metadata.advertiser
    )
    try:
        local = local_indexes(config, run, reactor)
    except NoCredentials as e:
        raise StartupError(f"--local in a bucket: {e}") from None
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
        metadata=metadata.files,
    )
    site = make_site(config, tree, reactor, stats)
    service = ProxyService(config, reactor, site, cache, clients.pool)
    if isinstance(cache, S3FileStore):
        renewal = CredentialRenewal(cache.client.signer, run, reactor)
        renewal.setServiceParent(service)
    return service


def make_site(
    config: ProxyConfig, tree: Resource, reactor: Any, stats: Stats
) -> ProxySite:
    """
    The site serving ``tree``: with ``config``'s deadline for request
    headers, an access log if ``config`` names one, and refusing oversized
    uploads early if uploads are on.

    :param config: The settings.
    :param tree: The resource tree.
    :param reactor: The clock.
    :param stats: Where requests are counted.
    """
    extra: dict[str, Any] = {"header_timeout": config.header_timeout}
    if config.upload_users is not None:
        # Imported here: the upload machinery (cred, bcrypt, form parsing)
        # costs memory that a proxy without uploads should not pay.
        from twisted_pypi.web.upload import limited_request

        extra["requestFactory"] = limited_request(config.max_upload_size)
    site: ProxySite
    if config.access_log is not None:
        site = AccessLogSite(
            tree, reactor, config.access_log, stats=stats, reactor=reactor, **extra
        )
    else:
        site = ProxySite(tree, reactor, stats, reactor=reactor, **extra)
    # No "Starting factory" / "Stopping factory" lines: "Listening on" says it.
    site.noisy = False
    return site
