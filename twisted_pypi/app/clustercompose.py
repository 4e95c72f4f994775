# -*- test-case-name: tests.app.test_clustercompose -*-
"""
The part of the composition root (:mod:`twisted_pypi.app.compose`) that
makes a node of a cluster: with ``--store`` and ``--node-url`` /
``--cluster-secret``, the leases in the store, the peer client and the
:class:`~twisted_pypi.files.cluster.ClusterFetch` the downloads take their
bodies from (see ``docs/cluster.md``).  The ``/-/inflight/`` resource that
serves this node's downloads to its peers is mounted by
:func:`twisted_pypi.web.root.make_root`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.iweb import IResponse

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.files.cluster import ClusterFetch
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.leases import S3Leases
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.upstream.peer import peer_fetcher
from twisted_pypi.upstream.stream import streaming

__all__ = ["cluster_fetch"]


def cluster_fetch(
    config: ProxyConfig,
    cache: FileCache,
    fetch: Callable[..., Deferred[IResponse]],
    pool: HTTPConnectionPool | None,
    reactor: Any,
) -> ClusterFetch | None:
    """
    Where each download's body comes from on a node of a cluster: the
    upstream (``fetch``) if the node owns the file's lease, else the node
    that does.

    :param config: The settings (``config.cluster``, the timeouts).
    :param cache: The file store: leases are kept in its bucket.
    :param fetch: Issues upstream file requests.
    :param pool: The upstream connection pool, shared by the peer requests
        (``None`` offline: then there is no cluster).
    :param reactor: Connects, keeps time (leases and signatures use its
        wall clock).
    :return: The cluster's fetch, or ``None`` without ``config.cluster`` or
        a shared store, or offline (the node downloads on its own).
    """
    cluster = config.cluster
    if cluster is None or pool is None or not isinstance(cache, S3FileStore):
        return None
    place = cache.place
    leases = S3Leases(
        cache.client, place.bucket, place.prefix, cluster.node_url, reactor
    )
    agent = Agent(reactor, pool=pool, connectTimeout=config.connect_timeout)
    # The holder answers once its own upstream answered: allow for that.
    timeout = config.connect_timeout + config.idle_timeout
    peer = peer_fetcher(agent, reactor, cluster.secret, timeout)
    return ClusterFetch(leases, streaming(fetch), peer)
