"""
Tests for :mod:`twisted_pypi.app.commandcompose`: what the commands that
work on the proxy's cache are given.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.app.test_compose import INDEXES
from tests.sources.test_offline import Reactor
from twisted_pypi.app.commandcompose import (
    analysis_sources,
    cache_filler,
    export_sources,
)
from twisted_pypi.app.upstreamcompose import upstream_clients
from twisted_pypi.core.config import LocalConfig, ProxyConfig
from twisted_pypi.core.lookup import UpstreamUnavailable
from twisted_pypi.resolve.metadata import IndexMetadataSource


class CommandComponentsTests(SynchronousTestCase):
    """
    What the commands are given.
    """

    def setUp(self) -> None:
        """
        Settings with one remote index and a local one.
        """
        local = FilePath(self.mktemp())
        local.makedirs()
        self.config = ProxyConfig(
            indexes=INDEXES[:1],
            locals=(LocalConfig("mine", local.path),),
            cache_dir=self.mktemp(),
            cache_size=1,
        )

    def test_export(self) -> None:
        """
        ``export`` reads page caches that fetch nothing (a page not cached
        fails as unavailable), a file cache that never evicts, and the local
        indexes, and the core metadata the proxy made.
        """
        pages, cache, local, metadata = export_sources(self.config, Clock())
        self.assertIs(metadata.store, cache)
        self.assertEqual([p.index for p in pages], list(INDEXES[:1]))
        self.assertIsNone(cache.max_size)
        self.assertEqual([i.index.name for i in local], ["mine"])
        self.failureResultOf(pages[0].get_project("app"), UpstreamUnavailable)

    def test_warm(self) -> None:
        """
        ``warm`` fills a file cache that never evicts, in the cache
        directory.
        """
        clients = upstream_clients(self.config, Reactor())
        filler = cache_filler(self.config, Reactor(), clients, print)
        self.assertIsNone(filler.cache.max_size)
        self.assertEqual(filler.cache.root, FilePath(self.config.cache_dir))

    def test_analyze(self) -> None:
        """
        ``analyze`` reads the first index's pages and the file cache's
        metadata, else the upstream's, reading wheels by ranges through the
        upstream file fetcher.
        """
        reactor = Reactor()
        clients = upstream_clients(self.config, reactor)
        pages, metadata = analysis_sources(self.config, reactor, clients, print)
        self.assertEqual(pages.__self__.index, INDEXES[0])  # type: ignore[attr-defined]
        self.assertIsNone(metadata.cache.max_size)
        upstream = metadata.fallback
        assert isinstance(upstream, IndexMetadataSource)
        self.assertIs(upstream.fetch, clients.fetch)
