"""
Assembling the proxy: HTTP clients, caches, the resource tree, the site, and a
service that listens on every configured endpoint.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

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

from .cache import FileCache
from .config import ProxyConfig
from .download import Downloads
from .local import LocalIndex
from .pages import PageCache, PageStore
from .root import make_root
from .site import ProxySite
from .upstream import USER_AGENT

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
        limit = self.config.cache_size
        log.info(
            "Cache: {dir} ({size} in files, limit {limit})",
            dir=self.config.cache_dir,
            size=_human(self._cache.total_size),
            limit=_human(limit) if limit else "none",
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


def _human(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{value:.1f} TiB"


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
    :param credentials: HTTP basic auth by ``host[:port]``: sent only to the
        host of the index that needs it (never to another host, such as a
        CDN its pages link to).
    """
    plain = {b"accept-encoding": [b"identity"], b"user-agent": [USER_AGENT.encode()]}
    authorizations = {
        netloc: b"Basic " + base64.b64encode(f"{user}:{password}".encode())
        for netloc, (user, password) in (credentials or {}).items()
    }

    def timed_out(result: IResponse | Failure, timeout: float) -> IResponse | Failure:
        # Cancelling an Agent request fails it with ResponseNeverReceived, not
        # the CancelledError that addTimeout turns into a TimeoutError.
        if isinstance(result, Failure):
            raise TimeoutError(f"no response headers within {timeout:g} s")
        return result

    def fetch(url: str, method: bytes = b"GET") -> Deferred[IResponse]:
        headers = Headers(plain)
        authorization = authorizations.get(urlsplit(url).netloc)
        if authorization is not None:
            headers.setRawHeaders(b"authorization", [authorization])
        d: Deferred[IResponse] = agent.request(method, url.encode("ascii"), headers)
        return d.addTimeout(timeout, clock, onTimeoutCancel=timed_out)

    return fetch


def make_service(config: ProxyConfig, reactor: Any) -> ProxyService:
    """
    Build the whole proxy for ``config`` on ``reactor``.

    :param config: The settings.
    :param reactor: The reactor: listens, connects, and keeps time.
    """
    pool = HTTPConnectionPool(reactor)
    pool.maxPersistentPerHost = 8
    agent = Agent(reactor, pool=pool, connectTimeout=config.connect_timeout)
    page_client = HTTPClient(agent)
    credentials = {
        urlsplit(index.url).netloc: index.credentials
        for index in reversed(config.indexes)
        if index.credentials is not None
    }
    fetch = file_fetcher(
        RedirectAgent(agent), reactor, config.connect_timeout, credentials
    )
    root = FilePath(config.cache_dir)
    cache = FileCache(root, config.cache_size, reactor)
    downloads = Downloads(
        cache, fetch, reactor, idle_timeout=config.idle_timeout, chunk_size=256 * 1024
    )

    def run(work: Callable[[], Any]) -> Deferred[Any]:
        return deferToThreadPool(reactor, reactor.getThreadPool(), work)

    store = PageStore(root.child("pages"))
    pages = [
        PageCache(
            index,
            config,
            page_client,
            reactor,
            store,
            run=run,
            forget_file=cache.remove,
        )
        for index in config.indexes
    ]
    local = [LocalIndex(c, config.base_url, run=run) for c in config.locals]
    tree = make_root(config, pages, cache, downloads, fetch, local)
    site = ProxySite(tree, reactor, reactor=reactor)
    return ProxyService(config, reactor, site, cache, pool)
