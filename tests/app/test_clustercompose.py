"""
Tests for :mod:`twisted_pypi.app.clustercompose`: a node of a cluster gets
a :class:`~twisted_pypi.files.cluster.ClusterFetch` whose leases are kept in
its store's bucket, under its prefix, naming its ``--node-url``.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import HTTPConnectionPool
from twisted.web.iweb import IResponse

from tests.fakes import HandFedResponse
from tests.storage.memorys3 import MemoryS3, memory_client
from twisted_pypi.app.clustercompose import cluster_fetch
from twisted_pypi.core.config import ClusterConfig, ProxyConfig, StoreConfig
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.leasing import LeaseRecord
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace

SEGMENTS = ("pypi", "https", "files.example", "packages", "demo-1.0.tar.gz")
URL = "https://files.example/packages/demo-1.0.tar.gz"
STORE = StoreConfig("bucket", "team/", "http://store.test")
CLUSTER = ClusterConfig("http://10.0.0.5:8080", b"a-secret-of-16-chars")


class ClusterFetchCompositionTests(SynchronousTestCase):
    """
    :func:`cluster_fetch`.
    """

    def setUp(self) -> None:
        """A store on an in-memory bucket; an upstream that records URLs."""
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.s3 = MemoryS3()
        self.store = S3FileStore(
            memory_client(self.s3, self.clock),
            BucketPlace("bucket", "team/"),
            FilePath(self.mktemp()),
            None,
            self.clock,
        )
        self.pool = HTTPConnectionPool(self.clock)
        self.urls: list[str] = []

    def fetch(self, url: str) -> Deferred[IResponse]:
        """The upstream: records the URL, answers 200."""
        self.urls.append(url)
        d: Deferred[IResponse] = Deferred()
        d.callback(cast(Any, HandFedResponse()))
        return d

    def test_cluster(self) -> None:
        """
        With cluster settings and a shared store, the first download of a
        file claims its lease under the store's prefix, naming this node,
        and fetches from the upstream.
        """
        config = ProxyConfig(store=STORE, cluster=CLUSTER)
        cluster = cluster_fetch(config, self.store, self.fetch, self.pool, self.clock)
        assert cluster is not None
        source = cluster.for_file(SEGMENTS)
        self.successResultOf(source.fetch(URL))
        self.assertEqual(self.urls, [URL])
        body, _ = self.s3.objects["bucket/team/leases/" + "/".join(SEGMENTS)]
        self.assertEqual(LeaseRecord.decode(body).node_url, CLUSTER.node_url)
        self.successResultOf(source.ended())

    def test_no_cluster(self) -> None:
        """
        Without cluster settings, a shared store, or an upstream pool
        (offline), there is no cluster.
        """
        local = FileCache(FilePath(self.mktemp()), None, self.clock)
        cases: list[tuple[ProxyConfig, FileCache, HTTPConnectionPool | None]] = [
            (ProxyConfig(store=STORE), self.store, self.pool),
            (ProxyConfig(cluster=CLUSTER), local, self.pool),
            (ProxyConfig(store=STORE, cluster=CLUSTER), self.store, None),
        ]
        for config, cache, pool in cases:
            self.assertIsNone(
                cluster_fetch(config, cache, self.fetch, pool, self.clock)
            )
