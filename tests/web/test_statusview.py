"""
Tests for :mod:`twisted_pypi.web.statusview`: the status page's template
element, flattened directly.
"""

from __future__ import annotations

import errno

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.template import flattenString

from twisted_pypi import __version__
from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.core.dummyspec import parse_dummy_spec
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.web.statusview import StatusView

#: An upstream index.
UPSTREAM = IndexConfig("pypi", "https://up.test/simple/", 600.0)


class StatusViewTests(SynchronousTestCase):
    """
    ``StatusView`` flattens to the whole page, each section filled from the
    service's figures and every value escaped.
    """

    def setUp(self) -> None:
        """
        Running totals on a clock, for the views built by :meth:`flatten`.
        """
        self.stats = Stats(Clock())

    def flatten(
        self,
        config: ProxyConfig,
        url: str = "http://proxy.test/",
        cache_size: int | None = None,
    ) -> str:
        """
        The HTML of a view of ``config``, with an empty cache and no
        downloads.

        :param url: The proxy's own URL.
        :param cache_size: The cache's limit.
        """
        clock = self.stats.clock
        cache = FileCache(FilePath(self.mktemp()), cache_size, clock)
        downloads = Downloads(cache, lambda url: Deferred(), clock)
        view = StatusView(config, self.stats, cache, downloads, url)
        html: bytes = self.successResultOf(flattenString(None, view))
        return html.decode("utf-8")

    def test_sections(self) -> None:
        """
        The page has its title, the version, the index URL and every
        section, with no downloads in progress.
        """
        html = self.flatten(ProxyConfig(listen=(), indexes=(UPSTREAM,)))
        self.assertTrue(html.startswith("<html"))
        self.assertIn("<title>twisted-pypi</title>", html)
        self.assertIn(f"<h1>twisted-pypi {__version__}</h1>", html)
        self.assertIn('<span class="url">http://proxy.test/simple/</span>', html)
        for heading in [
            "Traffic and cache",
            "Downloads in progress",
            "Upstream indexes",
            "Use it",
            "Settings",
        ]:
            self.assertIn(f"<h2>{heading}</h2>", html)
        self.assertIn('<p class="muted">None right now.</p>', html)
        self.assertIn("<dt>Requests</dt><dd>0", html)
        self.assertNotIn("offline</span>", html)

    def test_upstreams(self) -> None:
        """
        An upstream not asked yet is marked so; one that failed is marked
        failing, with its error message.
        """
        other = IndexConfig("other", "https://other.test/simple/", 600.0)
        self.stats.upstream_failed("other", "answered 503")
        html = self.flatten(ProxyConfig(listen=(), indexes=(UPSTREAM, other)))
        self.assertIn(
            '<b>pypi</b> <span class="badge idle">not asked yet</span>'
            '<div class="url">https://up.test/simple/</div>',
            html,
        )
        self.assertIn('<b>other</b> <span class="badge bad">failing</span>', html)
        self.assertIn('<span class="error">answered 503</span>', html)

    def test_ages_from_first_sight(self) -> None:
        """
        An upstream whose pages list files without upload times is shown to
        give ages from first sight; one that gives them is not.
        """
        other = IndexConfig("other", "https://other.test/simple/", 600.0)
        self.stats.upstream_succeeded("other")
        self.stats.upstream_undated("pypi")
        html = self.flatten(ProxyConfig(listen=(), indexes=(UPSTREAM, other)))
        row = "<dt>Upload times</dt><dd>none given: ages from first sight</dd>"
        self.assertEqual(html.count(row), 1)
        self.assertLess(html.index("<b>pypi</b>"), html.index(row))
        self.assertLess(html.index(row), html.index("<b>other</b>"))

    def test_cache_limit(self) -> None:
        """
        With a cache limit, the cache figure says it and shows a bar.
        """
        html = self.flatten(ProxyConfig(listen=()), cache_size=1024**3)
        self.assertIn("of 1.0 GiB", html)
        self.assertIn('<progress max="1073741824" value="0">', html)

    def test_no_cache_limit(self) -> None:
        """
        Without a cache limit, the cache figure says so and shows no bar.
        """
        html = self.flatten(ProxyConfig(listen=()))
        self.assertIn("no limit", html)
        self.assertNotIn("<progress", html)

    def test_offline(self) -> None:
        """
        Offline, the header carries the offline badge.
        """
        html = self.flatten(ProxyConfig(listen=(), offline=True))
        self.assertIn('<span class="badge idle">offline</span>', html)

    def test_settings(self) -> None:
        """
        Routes, merged projects and dummies appear under the settings.
        """
        config = ProxyConfig(
            listen=(),
            routes={"private-lib": "team"},
            merge=frozenset({"b", "a"}),
            dummies=(parse_dummy_spec("torch==2.0.0"),),
        )
        html = self.flatten(config)
        self.assertIn("<dt>private-lib</dt><dd>→ team</dd>", html)
        self.assertIn("<h3>Merged</h3><p>a, b</p>", html)
        self.assertIn("<dt>torch</dt><dd>2.0.0 (", html)

    def test_escaping(self) -> None:
        """
        Markup in an error message, a setting or the proxy's URL is escaped,
        never emitted as markup.
        """
        self.stats.upstream_failed("pypi", "<script>alert(1)</script>")
        config = ProxyConfig(
            listen=(), indexes=(UPSTREAM,), routes={"<i>p</i>": "<i>team</i>"}
        )
        html = self.flatten(config, url="http://<b>host</b>/")
        self.assertNotIn("<script>", html)
        self.assertNotIn("<i>", html)
        self.assertNotIn("<b>host", html)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", html)
        self.assertIn("<dt>&lt;i&gt;p&lt;/i&gt;</dt>", html)
        self.assertIn("http://&lt;b&gt;host&lt;/b&gt;/simple/", html)

    def test_disk_full(self) -> None:
        """
        After a write found the disk full, the page shows a "disk full"
        badge saying when and why, and the Disk figure says full; after a
        successful write the badge is gone and the figure says when the disk
        was last full.
        """
        clock = Clock()
        stats = Stats(clock)
        cache = FileCache(FilePath(self.mktemp()), None, clock)
        downloads = Downloads(cache, lambda url: Deferred(), clock)
        config = ProxyConfig(listen=(), indexes=(UPSTREAM,))

        def page() -> str:
            view = StatusView(config, stats, cache, downloads, "http://proxy.test/")
            html: bytes = self.successResultOf(flattenString(None, view))
            return html.decode("utf-8")

        before = page()
        self.assertNotIn("disk full", before)
        self.assertIn("never full", before)
        with capturedLogs():
            error = OSError(errno.ENOSPC, "No space left on device")
            cache.space.found_full("/cache/tmp/dl-x.part", error)
        clock.advance(300)
        full = page()
        self.assertIn("disk full", full)
        self.assertIn("5 min ago", full)
        self.assertIn("No space left on device", full)
        self.assertIn("<dd>full", full)
        with capturedLogs():
            cache.space.wrote()
        after = page()
        self.assertNotIn("disk full", after)
        self.assertIn("last full 5 min ago", after)

    def test_core_metadata(self) -> None:
        """
        The figures say how many ``.metadata`` files were served, and where
        they came from.
        """
        for source in ("upstream", "extracted", "ranged", "ranged"):
            self.stats.metadata_from(source)
        html = self.flatten(ProxyConfig(indexes=(UPSTREAM,)))
        self.assertIn("<dt>Core metadata</dt><dd>4", html)
        self.assertIn(
            "1 from the indexes, 1 read from cached wheels, 2 read by ranges", html
        )
