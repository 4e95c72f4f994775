"""
Assembling the proxy: HTTP clients, caches, the resource tree, the site, and a
service that listens on every configured endpoint.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from attrs import frozen
from treq.client import HTTPClient
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, DeferredList, TimeoutError, maybeDeferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.web.client import Agent, HTTPConnectionPool, RedirectAgent
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.sizes import format_size
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.sources.offline import OfflineClient, offline_fetch
from twisted_pypi.sources.remote import PageCache, PageStore
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.pagestore import PAGES_AREA
from twisted_pypi.upstream.client import USER_AGENT
from twisted_pypi.upstream.stream import streaming
from twisted_pypi.web.accesslog import AccessLogSite
from twisted_pypi.web.root import make_root
from twisted_pypi.web.site import ProxySite

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
        stops: list[Deferred[Any]] = [
            Deferred.fromCoroutine(_stop(port)) for port in self.ports
        ]
        self.ports = []
        if self._pool is not None:
            stops.append(self._pool.closeCachedConnections())
        return DeferredList(stops)


async def _stop(port: IListeningPort) -> None:
    await maybeDeferred(port.stopListening)


#: The port each scheme implies.
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int] | None:
    """
    The scheme, lower-case host and port (explicit or implied by the scheme)
    of a URL, or ``None`` when it has no host.

    :param url: An absolute URL.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not parts.hostname or scheme not in _DEFAULT_PORTS:
        return None
    return (scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme])


def file_fetcher(
    agent: Any,
    clock: Any,
    timeout: float,
    credentials: Mapping[str, tuple[str, str]] | None = None,
) -> Any:
    """
    A function that GETs an upstream file as raw bytes (no content decoding,
    identity encoding asked for) and fails if no response headers arrive in
    ``timeout`` seconds.

    :param agent: An ``IAgent``.
    :param clock: The reactor that times out the request.
    :param timeout: Seconds allowed until the response headers.
    :param credentials: HTTP basic auth by index URL: sent only to the
        scheme, host and port of that URL (never to another host, such as a
        CDN its pages link to, nor to another port or over plain HTTP).
    """
    plain = {b"accept-encoding": [b"identity"], b"user-agent": [USER_AGENT.encode()]}
    authorizations = {
        origin_of(url): b"Basic " + base64.b64encode(f"{user}:{password}".encode())
        for url, (user, password) in (credentials or {}).items()
    }
    authorizations.pop(None, None)

    def timed_out(result: IResponse | Failure, timeout: float) -> IResponse | Failure:
        # Cancelling an Agent request fails it with ResponseNeverReceived, not
        # the CancelledError that addTimeout turns into a TimeoutError.
        if isinstance(result, Failure):
            raise TimeoutError(f"no response headers within {timeout:g} s")
        return result

    def fetch(url: str, method: bytes = b"GET") -> Deferred[IResponse]:
        headers = Headers(plain)
        authorization = authorizations.get(origin_of(url))
        if authorization is not None:
            headers.setRawHeaders(b"authorization", [authorization])
        d: Deferred[IResponse] = agent.request(method, url.encode("ascii"), headers)
        return d.addTimeout(timeout, clock, onTimeoutCancel=timed_out)

    return fetch


@frozen
class UpstreamClients:
    """
    What talks to the upstream indexes.

    :ivar pages: The page client (``treq.client.HTTPClient``).
    :ivar fetch: The file fetcher, see :func:`file_fetcher`.
    :ivar pool: Their connection pool; ``None`` offline.
    """

    pages: Any
    fetch: Callable[..., Deferred[IResponse]]
    pool: HTTPConnectionPool | None = None

    async def close(self) -> None:
        """
        Close the pool's idle connections.
        """
        if self.pool is not None:
            await self.pool.closeCachedConnections()


def upstream_clients(config: ProxyConfig, reactor: Any) -> UpstreamClients:
    """
    The page client and file fetcher for ``config``'s indexes, sharing one
    connection pool; with ``config.offline``, no pool and clients that fail
    every request at once without connecting.

    :param config: The settings.
    :param reactor: Connects and times out.
    """
    if config.offline:
        return UpstreamClients(OfflineClient(), offline_fetch)
    pool = HTTPConnectionPool(reactor)
    pool.maxPersistentPerHost = 8
    agent = Agent(reactor, pool=pool, connectTimeout=config.connect_timeout)
    page_client = HTTPClient(agent)
    credentials = {
        index.url: index.credentials
        for index in reversed(config.indexes)
        if index.credentials is not None
    }
    fetch = file_fetcher(
        RedirectAgent(agent), reactor, config.connect_timeout, credentials
    )
    return UpstreamClients(page_client, fetch, pool)


def thread_runner(reactor: Any) -> Callable[[Callable[[], Any]], Deferred[Any]]:
    """
    Runs blocking work (page parsing, hashing) in ``reactor``'s thread pool.

    :param reactor: The reactor.
    """

    def run(work: Callable[[], Any]) -> Deferred[Any]:
        """Run ``work`` in a pool thread."""
        return deferToThreadPool(reactor, reactor.getThreadPool(), work)

    return run


def make_page_caches(
    config: ProxyConfig,
    client: Any,
    reactor: Any,
    cache: FileCache,
    run: Callable[[Callable[[], Any]], Deferred[Any]] | None = None,
    stats: Stats | None = None,
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
    """
    store = PageStore.on_disk(FilePath(config.cache_dir).child(PAGES_AREA))
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
        )
        for index in config.indexes
    ]


def make_service(config: ProxyConfig, reactor: Any) -> ProxyService:
    """
    Build the whole proxy for ``config`` on ``reactor``.

    :param config: The settings.
    :param reactor: The reactor: listens, connects, and keeps time.
    """
    clients = upstream_clients(config, reactor)
    pool, page_client, fetch = clients.pool, clients.pages, clients.fetch
    root = FilePath(config.cache_dir)
    cache = FileCache(root, config.cache_size, reactor)
    downloads = Downloads(
        cache,
        streaming(fetch),
        reactor,
        idle_timeout=config.idle_timeout,
        chunk_size=256 * 1024,
    )

    run = thread_runner(reactor)
    stats = Stats(reactor)
    pages = make_page_caches(config, page_client, reactor, cache, run, stats)
    local = [LocalIndex(c, config.base_url, run=run) for c in config.locals]
    tree = make_root(
        config, pages, cache, downloads, fetch, local, stats, json_client=page_client
    )
    extra: dict[str, Any] = {}
    if config.upload_users is not None:
        # Imported here: the upload machinery (cred, bcrypt, form parsing)
        # costs memory that a proxy without uploads should not pay.
        from twisted_pypi.web.upload import (
            UPLOAD_PREFIX,
            limited_request,
            make_upload_resource,
        )

        tree.putChild(
            UPLOAD_PREFIX.encode(),
            make_upload_resource(
                {c.name: c.path for c in config.locals},
                config.upload_users,
                clock=reactor,
                runner=run,
                max_size=config.max_upload_size,
            ),
        )
        extra["requestFactory"] = limited_request(config.max_upload_size)
    if config.access_log is not None:
        site: ProxySite = AccessLogSite(
            tree, reactor, config.access_log, stats=stats, reactor=reactor, **extra
        )
    else:
        site = ProxySite(tree, reactor, stats, reactor=reactor, **extra)
    return ProxyService(config, reactor, site, cache, pool)
