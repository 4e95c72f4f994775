"""
Tests for :mod:`twisted_pypi.web.statusstore`: the status page's section on
the shared store and the cluster, flattened directly.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.iweb import IResponse
from twisted.web.template import flattenString

from tests.storage.fakes3 import FakeS3
from twisted_pypi.core.config import ClusterConfig, ProxyConfig, StoreConfig
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.cluster import ClusterFetch
from twisted_pypi.files.download import Downloads
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace
from twisted_pypi.upstream.stream import streaming
from twisted_pypi.web.statusstore import store_section

SECRET = b"the-cluster-secret-never-shown"
STORE = StoreConfig("fleet-cache", "team/", "http://10.0.0.9:8333", "eu-west-3")
CLUSTER = ClusterConfig("http://10.0.0.5:8080", SECRET)
HELD = "pypi/https/files.example/packages/held-1.0.tar.gz"
FOLLOWED = "pypi/https/files.example/packages/followed-2.0.whl"


def _never(url: str) -> Deferred[IResponse]:
    """An upstream that never answers."""
    return Deferred()


def store_node(
    test: SynchronousTestCase, clock: Clock
) -> tuple[S3FileStore, Downloads]:
    """
    A node's file store on a fake bucket, and its downloads, in a cluster:
    it holds the lease of :data:`HELD` and follows :data:`FOLLOWED` from
    node ``http://10.0.0.6:8080``.
    """
    store = S3FileStore(
        cast(Any, FakeS3(endpoint="http://10.0.0.9:8333")),
        BucketPlace("fleet-cache", "team/"),
        FilePath(test.mktemp()),
        None,
        clock,
    )
    cluster = ClusterFetch(cast(Any, None), streaming(_never), cast(Any, None))
    held = cluster.for_file(HELD.split("/"))
    held.lease = cast(Any, object())
    followed = cluster.for_file(FOLLOWED.split("/"))
    followed.node = "http://10.0.0.6:8080"
    downloads = Downloads(store, streaming(_never), clock, cluster=cluster)
    return store, downloads


class StoreSectionTests(SynchronousTestCase):
    """
    :func:`store_section`.
    """

    def setUp(self) -> None:
        """Running totals on a clock."""
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.stats = Stats(self.clock)

    def html(self, config: ProxyConfig, cache: FileCache, downloads: Downloads) -> str:
        """The section, flattened."""
        section = store_section(config, self.stats, cache, downloads)
        return self.successResultOf(flattenString(None, section)).decode("utf-8")

    def test_local(self) -> None:
        """Without a shared store there is no section."""
        cache = FileCache(FilePath(self.mktemp()), None, self.clock)
        downloads = Downloads(cache, streaming(_never), self.clock)
        self.assertEqual(self.html(ProxyConfig(), cache, downloads), "")

    def test_store_and_cluster(self) -> None:
        """
        The section names the bucket, prefix, endpoint and region, the
        store's health from its requests (errors and why, latency), this
        node's URL, the files it downloads for the cluster and those it
        streams from which node; never the cluster secret.
        """
        store, downloads = store_node(self, self.clock)
        self.stats.store_answered("HEAD", 200, 0.02)
        self.stats.store_answered("PUT", None, 10.0, "connection refused")
        config = ProxyConfig(store=STORE, cluster=CLUSTER)
        html = self.html(config, store, downloads)
        for text in (
            "s3://fleet-cache/team/",
            "http://10.0.0.9:8333",
            "eu-west-3",
            "failing",
            "PUT: connection refused",
            "2 (1 error)",
            "http://10.0.0.5:8080",
            "held-1.0.tar.gz",
            "followed-2.0.whl",
            "from http://10.0.0.6:8080",
        ):
            self.assertIn(text, html)
        self.assertNotIn(SECRET.decode(), html)

    def test_no_cluster(self) -> None:
        """A node on a store but in no cluster says so."""
        store, _ = store_node(self, self.clock)
        downloads = Downloads(store, streaming(_never), self.clock)
        html = self.html(ProxyConfig(store=STORE), store, downloads)
        self.assertIn("Not part of a cluster", html)
        self.assertIn("not asked yet", html)
