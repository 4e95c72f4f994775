"""
Tests for :mod:`twisted_pypi.app.compose`, the composition root: which
clients, caches, routers and page caches go together for the service.
"""

from __future__ import annotations

import errno
import os

from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.compose import (
    file_cache,
    local_indexes,
    make_downloads,
    make_page_caches,
    online_router,
    page_routers,
    proxy_root,
)
from twisted_pypi.core.config import IndexConfig, LocalConfig, ProxyConfig
from twisted_pypi.sources.offline import OfflinePages
from twisted_pypi.storage.pagestore import StoredPage
from twisted_pypi.upstream.offline import OfflineClient, offline_fetch

#: Two remote indexes.
INDEXES = (
    IndexConfig("first", "http://first.test/simple/", 100.0),
    IndexConfig("second", "http://second.test/simple/", 50.0),
)


class ComponentsTests(SynchronousTestCase):
    """
    The parts the service and the commands share.
    """

    def setUp(self) -> None:
        """
        Settings with two remote indexes, a local one and a size limit.
        """
        local = FilePath(self.mktemp())
        local.makedirs()
        self.config = ProxyConfig(
            indexes=INDEXES,
            locals=(LocalConfig("mine", local.path),),
            cache_dir=self.mktemp(),
            cache_size=1 << 20,
            routes={"app": "second"},
        )
        self.clock = Clock()

    def test_file_cache(self) -> None:
        """
        The file cache is in the cache directory; the service's keeps to
        the size limit, the commands' has none.
        """
        bounded = file_cache(self.config, self.clock)
        self.assertEqual(bounded.root, FilePath(self.config.cache_dir))
        self.assertEqual(bounded.max_size, 1 << 20)
        self.assertIsNone(file_cache(self.config, self.clock, bounded=False).max_size)

    def test_page_caches_and_routers(self) -> None:
        """
        There is a page cache per remote index, in priority order; online,
        the router asks the local index first, then the page caches, and
        the dummies mirror what it answers.
        """
        cache = file_cache(self.config, self.clock)
        pages = make_page_caches(self.config, OfflineClient(), self.clock, cache)
        self.assertEqual([p.index for p in pages], list(INDEXES))
        local = local_indexes(self.config)
        self.assertEqual([i.index.name for i in local], ["mine"])
        router, real = page_routers(self.config, pages, cache, local)
        self.assertEqual(list(router.sources), [*local, *pages])
        self.assertEqual(real, router.get_project)
        self.assertEqual(
            list(online_router(self.config, pages, local).sources), [*local, *pages]
        )

    def test_records_tell_the_file_cache_space(self) -> None:
        """
        The page and JSON record stores tell the file cache's space (the
        one the status page, metrics and ``/-/health`` read) when a write
        finds the disk full.
        """
        cache = file_cache(self.config, self.clock)
        pages = make_page_caches(self.config, OfflineClient(), self.clock, cache)

        def full(source: str, target: str) -> None:
            """Fail like a full disk would."""
            raise OSError(errno.ENOSPC, "No space left on device")

        self.patch(os, "replace", full)
        page = StoredPage("http://first.test/simple/demo/", b"", None, None, 0.0)
        with capturedLogs():
            pages[0].store.save("first", "demo", page)
        self.assertTrue(cache.space.full)

    def test_page_caches_keep_renditions(self) -> None:
        """
        The page caches' store keeps the renderings of pages too big for
        memory on the node's disk, so such pages are served from there and
        never parsed again per request.
        """
        cache = file_cache(self.config, self.clock)
        pages = make_page_caches(self.config, OfflineClient(), self.clock, cache)
        self.assertTrue(all(p.store.keeps_renditions for p in pages))

    def test_offline_routers(self) -> None:
        """
        Offline, the routers answer from the cache alone.
        """
        config = ProxyConfig(indexes=INDEXES, cache_dir=self.mktemp(), offline=True)
        cache = file_cache(config, self.clock)
        pages = make_page_caches(config, OfflineClient(), self.clock, cache)
        router, real = page_routers(config, pages, cache, [])
        self.assertEqual(len(router.sources), 2)
        for source in router.sources:
            self.assertIsInstance(source, OfflinePages)
        self.assertNotEqual(real, router.get_project)

    def test_downloads(self) -> None:
        """
        The downloads go into the file cache given, with the settings' idle
        timeout.
        """
        cache = file_cache(self.config, self.clock)
        downloads = make_downloads(self.config, cache, offline_fetch, self.clock)
        self.assertIs(downloads.store, cache)

    def test_root(self) -> None:
        """
        The tree has the JSON API only with a JSON client.
        """
        cache = file_cache(self.config, self.clock)
        pages = make_page_caches(self.config, OfflineClient(), self.clock, cache)
        downloads = make_downloads(self.config, cache, offline_fetch, self.clock)
        bare = proxy_root(self.config, pages, cache, downloads, offline_fetch)
        self.assertNotIn(b"pypi", bare.children)
        full = proxy_root(
            self.config,
            pages,
            cache,
            downloads,
            offline_fetch,
            json_client=OfflineClient(),
        )
        self.assertIn(b"pypi", full.children)
