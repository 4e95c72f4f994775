# -*- test-case-name: tests.app.test_upstreamcompose -*-
"""
What talks to the upstream indexes, built for the composition root
(:mod:`twisted_pypi.app.compose`) and the commands: the page client and the
file fetcher over one quiet connection pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen
from treq.client import HTTPClient
from twisted.internet.defer import Deferred
from twisted.web.client import (
    Agent,
    HTTPConnectionPool,
    RedirectAgent,
    _HTTP11ClientFactory,
)
from twisted.web.iweb import IResponse

from twisted_pypi.app.filefetch import file_fetcher
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.upstream.offline import OfflineClient, offline_fetch

__all__ = ["UpstreamClients", "upstream_clients"]


@frozen
class UpstreamClients:
    """
    What talks to the upstream indexes.

    :ivar pages: The page client (``treq.client.HTTPClient``).
    :ivar fetch: The file fetcher, see
        :func:`~twisted_pypi.app.filefetch.file_fetcher`.
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


class _QuietClientFactory(_HTTP11ClientFactory):
    """
    The pool's factory of upstream connections, without a "Starting
    factory" and a "Stopping factory" log line for every connection (the
    recipe of Twisted's ticket #3794; the pool has no public setting).
    """

    noisy = False


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
    pool._factory = _QuietClientFactory
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
