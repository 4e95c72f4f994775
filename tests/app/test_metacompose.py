"""
Tests for :mod:`twisted_pypi.app.metacompose`: the core metadata parts
wired together over a cache directory.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.metacompose import core_metadata
from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.core.runner import run_now
from twisted_pypi.files.download import Downloads
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.metacatalog import CATALOG_AREA, EXTRACTED, Synthesized
from twisted_pypi.storage.rangeorigins import read_range_origins, record_range_origins
from twisted_pypi.upstream.offline import offline_fetch

INDEX = IndexConfig("up", "https://up.example/simple/")


class CoreMetadataTests(SynchronousTestCase):
    """
    :func:`core_metadata`.
    """

    def setUp(self) -> None:
        self.root = FilePath(self.mktemp())
        self.config = ProxyConfig(indexes=(INDEX,), cache_dir=self.root.path)
        self.clock = Clock()
        self.cache = FileCache(self.root, None, self.clock)

    def test_wired(self) -> None:
        """
        The downloads' commits read the metadata of wheels, the service
        waits for or starts downloads, the pages probe origins through the
        service, and the catalog keeps its records in the cache directory.
        """
        downloads = Downloads(self.cache, lambda url: Deferred(), self.clock)
        parts = core_metadata(
            self.config, self.cache, offline_fetch, self.clock, run_now, downloads
        )
        self.assertEqual(downloads.committed, parts.files.committed)
        self.assertIs(parts.files.downloads, downloads)
        self.assertEqual(parts.advertiser.probe, parts.files.probe)
        self.assertIs(parts.advertiser.catalog, parts.catalog)
        self.assertIs(parts.files.support, parts.support)
        parts.catalog.put("up", "demo", "k.whl", Synthesized("a" * 64, EXTRACTED, 1))
        self.assertTrue(
            self.root.child(CATALOG_AREA).child("up").child("demo.json").exists()
        )

    def test_no_probe(self) -> None:
        """
        Without ``probe`` (offline, the commands reading the cache), pages
        never probe origins.
        """
        parts = core_metadata(
            self.config, self.cache, offline_fetch, self.clock, run_now, probe=False
        )
        self.assertIsNone(parts.advertiser.probe)
        self.assertIsNone(parts.files.downloads)

    def test_origins_kept(self) -> None:
        """
        What was known of origins is read from the cache directory, and what
        is learned is written there.
        """
        record_range_origins(self.root, {"https://old.example": False})
        parts = core_metadata(
            self.config, self.cache, offline_fetch, self.clock, run_now
        )
        self.assertIs(parts.support.honours("https://old.example/x.whl"), False)
        parts.support.learn("https://new.example/x.whl", True)
        self.assertEqual(
            read_range_origins(self.root),
            {"https://old.example": False, "https://new.example": True},
        )
