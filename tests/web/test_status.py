"""
Tests for :mod:`twisted_pypi.web.status`: the status page at ``/`` with live
figures after requests through the in-memory proxy, and ``/-/health``.
"""

from __future__ import annotations

import errno
import json
import os
import re

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import Answer, MemoryProxy, result_now
from tests.wheels import build_wheel
from twisted_pypi.core.config import IndexConfig, LocalConfig, ProxyConfig
from twisted_pypi.core.dummyspec import DummySpec
from twisted_pypi.core.sizes import format_size
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.web.status import StatusPage
from twisted_pypi.web.statushtml import CSS

OLD = build_wheel("demo", "1.0")
NEW = build_wheel("demo", "2.0", padding=40_000)

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def make_index() -> FakeIndex:
    """
    A fake upstream offering ``demo`` 1.0 and 2.0 (the larger).
    """
    index = FakeIndex()
    index.add("demo", FakeFile(OLD), FakeFile(NEW))
    return index


class StatusTestCase(SynchronousTestCase):
    """
    Builds in-memory proxies with their cache in a temporary directory.
    """

    def proxy(self, **options: object) -> MemoryProxy:
        """
        A :class:`MemoryProxy` in front of :func:`make_index`.

        :param options: More keyword arguments for :class:`MemoryProxy`.
        """
        cache = FilePath(self.mktemp())
        return MemoryProxy(make_index(), cache, **options)  # type: ignore[arg-type]

    def status(self, proxy: MemoryProxy, host: str | None = None) -> str:
        """
        The status page's HTML, checking it is a 200 HTML answer.

        :param host: The ``Host`` header to send, if any.
        """
        answer = proxy.get("/", headers={"Host": host} if host else None)
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.header("content-type"), "text/html; charset=utf-8")
        return answer.body.decode("utf-8")


class FiguresTests(StatusTestCase):
    """
    The page shows what the proxy has done, read at render time.
    """

    def test_traffic_and_cache(self) -> None:
        """
        After a page and a file were each fetched once and then served from
        the cache, the page shows four requests, a 50% hit ratio, the bytes
        sent from the cache and from upstream, and the cache's size.
        """
        proxy = self.proxy()
        path = proxy.file_path(OLD.filename)
        misses = [proxy.get("/simple/demo/", headers=JSON), proxy.get(path)]
        hits = [proxy.get("/simple/demo/", headers=JSON), proxy.get(path)]
        self.assertEqual([a.header("x-cache") for a in misses], ["MISS"] * 2)
        self.assertEqual([a.header("x-cache") for a in hits], ["HIT"] * 2)
        body = self.status(proxy)
        self.assertIn("<dt>Requests</dt><dd>4</dd>", body)
        self.assertIn("<dt>Hit ratio</dt><dd>50%<small>2 hits, 2 misses</small>", body)
        from_cache = format_size(sum(len(a.body) for a in hits))
        from_upstream = format_size(sum(len(a.body) for a in misses))
        self.assertIn(f"<dt>From cache</dt><dd>{from_cache}<small>", body)
        self.assertIn(f"<dt>From upstream</dt><dd>{from_upstream}<small>", body)
        cached = format_size(len(OLD.content))
        self.assertIn(f"<dt>Cache</dt><dd>{cached}<small>no limit</small>", body)

    def test_cache_limit(self) -> None:
        """
        With a size limit the page shows it, with a bar of the space used.
        """
        proxy = self.proxy(cache_size=1 << 20)
        proxy.get("/simple/demo/", headers=JSON)
        proxy.get(proxy.file_path(OLD.filename))
        body = self.status(proxy)
        self.assertIn("<small>of 1.0 MiB</small>", body)
        self.assertIn(f'<progress max="{1 << 20}" value="{len(OLD.content)}">', body)

    def test_download_in_progress(self) -> None:
        """
        A download in flight is listed by filename with its progress (bytes
        written of the expected length) and its number of clients; once it
        completes the list is empty.
        """
        proxy = self.proxy()
        proxy.index.hold_files = True
        pending = proxy.request(proxy.file_path(NEW.filename))
        proxy.flush()
        upstream = proxy.index.held[0]
        half = len(NEW.content) // 2
        upstream.write(NEW.content[:half])
        proxy.flush()
        body = self.status(proxy)
        self.assertIn(f"<li><b>{NEW.filename}</b>", body)
        self.assertIn(f'<progress max="{len(NEW.content)}" value="{half}">', body)
        self.assertIn(
            f"{format_size(half)} of {format_size(len(NEW.content))} (50%), 1 client",
            body,
        )
        upstream.write(NEW.content[half:])
        upstream.finish()
        proxy.flush()
        self.assertEqual(proxy.answer(result_now(pending)).body, NEW.content)
        body = self.status(proxy)
        self.assertNotIn(NEW.filename, body)
        self.assertIn('Downloads in progress</h2><p class="muted">None', body)

    def test_upstream_health(self) -> None:
        """
        An upstream not asked yet says so; after a success and then a failure
        it shows as failing, with when each happened and the error message.
        """
        proxy = self.proxy()
        self.assertIn(
            '<span class="badge idle">not asked yet</span>', self.status(proxy)
        )
        proxy.get("/simple/demo/", headers=JSON)
        proxy.clock.advance(60)
        proxy.index.fail["/simple/broken/"] = 503
        self.assertEqual(proxy.get("/simple/broken/", headers=JSON).code, 502)
        proxy.clock.advance(120)
        body = self.status(proxy)
        self.assertIn('<span class="badge bad">failing</span>', body)
        self.assertRegex(
            body, r'<dt>Last success</dt><dd><span title="[^"]+">3 min ago'
        )
        self.assertRegex(body, r'<dt>Last error</dt><dd><span title="[^"]+">2 min ago')
        self.assertIn(
            '<span class="error">http://upstream.test/simple/broken/ answered 503'
            "</span>",
            body,
        )
        self.assertIn("<dt>Fetches</dt><dd>1 ok, 1 failed</dd>", body)

    def test_dummy_savings(self) -> None:
        """
        A dummy wheel served in place of a real one counts the real file's
        size (from the upstream page) as saved; its ``.metadata`` does not.
        """
        proxy = self.proxy(dummies=(DummySpec("demo"),))
        page = json.loads(proxy.get("/simple/demo/", headers=JSON).body)
        (dummy,) = [f for f in page["files"] if "-1.0-" in f["filename"]]
        path = f"/dummy/demo/{dummy['filename']}"
        self.assertEqual(proxy.get(path).header("x-cache"), "DUMMY")
        self.assertEqual(proxy.get(path + ".metadata").code, 200)
        body = self.status(proxy)
        self.assertIn(
            f"<dt>Saved by dummies</dt><dd>{format_size(len(OLD.content))}"
            "<small>1 dummy wheel, 0 of unknown size</small>",
            body,
        )


class SettingsTests(StatusTestCase):
    """
    The page lists what the proxy was configured with.
    """

    def test_settings_listed(self) -> None:
        """
        Upstreams, local indexes, routes, merged projects and dummies (their
        versions and import mode) are listed.
        """
        local = FilePath(self.mktemp())
        local.makedirs()
        proxy = self.proxy(
            local=[LocalConfig("team", local.path)],
            routes={"secret": "team"},
            merge=frozenset({"shared", "common"}),
            dummies=(DummySpec("torch"), DummySpec("tiny", versions=("1.0", "2.0"))),
        )
        body = self.status(proxy)
        self.assertIn(
            f'<b>{proxy.index_name}</b> <span class="badge idle">not asked yet'
            '</span><div class="url">http://upstream.test/simple/</div>',
            body,
        )
        self.assertIn(f"<dt>team</dt><dd>{local.path}</dd>", body)
        self.assertIn("<dt>secret</dt><dd>→ team</dd>", body)
        self.assertIn("<h3>Merged</h3><p>common, shared</p>", body)
        self.assertIn("<dt>torch</dt><dd>every upstream version (absent)</dd>", body)
        self.assertIn("<dt>tiny</dt><dd>1.0, 2.0 (absent)</dd>", body)

    def test_nothing_configured(self) -> None:
        """
        Without local indexes, routes or dummies, each group says "None.".
        """
        body = self.status(self.proxy())
        for group in ("Local indexes", "Routes", "Dummies"):
            self.assertIn(f'<h3>{group}</h3><p class="muted">None.</p>', body)
        self.assertNotIn("<h3>Merged</h3>", body)

    def test_everything_escaped(self) -> None:
        """
        Text from the request (``Host``) and from the settings is
        HTML-escaped.
        """
        local = FilePath(self.mktemp()).child("<i>&\"x'")
        local.makedirs()
        proxy = self.proxy(local=[LocalConfig("team", local.path)])
        body = self.status(proxy, host='evil"><script>alert(1)</script>')
        self.assertNotIn("<script", body)
        self.assertNotIn("<i>", body)
        self.assertIn('evil"&gt;&lt;script&gt;alert(1)&lt;/script&gt;', body)
        self.assertIn("&lt;i&gt;&amp;\"x'", body)


class SnippetTests(StatusTestCase):
    """
    The copy-paste snippets use the proxy's own URL.
    """

    def snippets(self, body: str) -> str:
        """
        The text of every snippet, unescaped enough to compare.
        """
        blocks = re.findall(r"<pre>(.*?)</pre>", body, re.S)
        return "\n".join(blocks).replace("&amp;", "&")

    def test_base_url(self) -> None:
        """
        With ``--base-url`` the snippets for pip, uv, poetry and pdm use it
        (HTTPS needs no ``--trusted-host``), whatever the ``Host`` header.
        """
        proxy = self.proxy(base_url="https://pypi.example.org/mirror/")
        text = self.snippets(self.status(proxy, host="internal:8080"))
        index = "https://pypi.example.org/mirror/simple/"
        for line in (
            f"pip install --index-url {index} PACKAGE",
            f"pip config set global.index-url {index}",
            f"uv pip install --index-url {index} PACKAGE",
            f"export UV_DEFAULT_INDEX={index}",
            f"poetry source add --priority=primary proxy {index}",
            f"pdm config pypi.url {index}",
        ):
            self.assertIn(line, text.splitlines())
        self.assertNotIn("internal", text)
        self.assertNotIn("trusted-host", text)

    def test_host_header(self) -> None:
        """
        Without ``--base-url`` the snippets use the request's scheme and
        ``Host``; plain HTTP to another host gets pip's ``--trusted-host``.
        """
        text = self.snippets(self.status(self.proxy(), host="proxy.lan:8080"))
        index = "http://proxy.lan:8080/simple/"
        self.assertIn(
            f"pip install --index-url {index} --trusted-host proxy.lan PACKAGE",
            text,
        )
        self.assertIn("pip config set global.trusted-host proxy.lan", text)
        self.assertIn(f"pdm config pypi.url {index}", text)

    def test_loopback_trusted(self) -> None:
        """
        pip needs no ``--trusted-host`` for a proxy on localhost.
        """
        text = self.snippets(self.status(self.proxy(), host="localhost:3141"))
        self.assertIn(
            "pip install --index-url http://localhost:3141/simple/ PACKAGE", text
        )
        self.assertNotIn("trusted-host", text)


class PageTests(StatusTestCase):
    """
    The page is self-contained and fit for a phone.
    """

    def test_self_contained(self) -> None:
        """
        The page has a viewport, no scripts, tables or external assets (every
        link is relative to the page), and a policy that forbids loading
        anything.
        """
        proxy = self.proxy()
        answer = proxy.get("/")
        body = answer.body.decode("utf-8")
        self.assertIn(
            '<meta name="viewport" content="width=device-width, initial-scale=1" />',
            body,
        )
        for absent in ("<script", "<table", "src=", "@import", "url(", "<link"):
            self.assertNotIn(absent, body)
        self.assertEqual(
            re.findall(r'href="([^"]*)"', body), ["simple/", "-/metrics", "-/health"]
        )
        policy = answer.header("content-security-policy") or ""
        self.assertIn("default-src 'none'", policy)
        self.assertEqual(answer.header("cache-control"), "no-store")
        self.assertEqual(proxy.index.requests, [])

    def test_formats(self) -> None:
        """
        Sizes read naturally.
        """
        self.assertEqual(
            [format_size(n) for n in (0, 1023, 1536, 5 << 20, 3 << 40, 5000 << 40)],
            ["0 B", "1023 B", "1.5 KiB", "5.0 MiB", "3.0 TiB", "5000.0 TiB"],
        )

    def test_stylesheet_verbatim(self) -> None:
        """
        The stylesheet reaches the page as written: the flattener, which
        escapes all text, finds nothing to escape in it.
        """
        body = self.status(self.proxy())
        [style] = re.findall(r"<style>(.*?)</style>", body, re.S)
        self.assertEqual(style, CSS)


class HealthTests(StatusTestCase):
    """
    ``/-/health`` answers load balancers cheaply.
    """

    def test_ok(self) -> None:
        """
        It answers 200 with a small JSON body giving the uptime, uncached,
        without asking any upstream.
        """
        proxy = self.proxy()
        proxy.clock.advance(30)
        answer: Answer = proxy.get("/-/health")
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.header("content-type"), "application/json")
        self.assertEqual(answer.header("cache-control"), "no-store")
        self.assertEqual(
            json.loads(answer.body), {"status": "ok", "disk": "ok", "uptime": 30.0}
        )
        self.assertEqual(proxy.index.requests, [])

    def test_head(self) -> None:
        """
        ``HEAD`` gets the same status and no body.
        """
        answer = self.proxy().get("/-/health", method="HEAD")
        self.assertEqual((answer.code, answer.body), (200, b""))

    def test_page_on_a_full_disk(self) -> None:
        """
        A page that cannot be stored because the disk is full is still
        served; the disk shows as full on the status page and in
        ``/-/health`` (still 200: the proxy serves, "degraded"), and a page
        stored later (the project list) clears it.
        """
        proxy = self.proxy()
        real_replace = os.replace

        def full(source: str, target: str) -> None:
            """Fail like a full disk would."""
            raise OSError(errno.ENOSPC, "No space left on device")

        self.patch(os, "replace", full)
        with capturedLogs() as events:
            self.assertEqual(proxy.get("/simple/demo/").code, 200)
        self.patch(os, "replace", real_replace)
        warnings = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertEqual(len(warnings), 1, warnings)
        self.assertIn("disk full", self.status(proxy))
        answer = proxy.get("/-/health")
        self.assertEqual(answer.code, 200)
        body = json.loads(answer.body)
        self.assertEqual((body["status"], body["disk"]), ("degraded", "full"))
        with capturedLogs():
            self.assertEqual(proxy.get("/simple/").code, 200)
        self.assertNotIn("disk full", self.status(proxy))
        body = json.loads(proxy.get("/-/health").body)
        self.assertEqual((body["status"], body["disk"]), ("ok", "ok"))


def bare_page(case: SynchronousTestCase, config: ProxyConfig, stats: Stats) -> str:
    """
    The HTML of a :class:`StatusPage` built on ``config`` and ``stats``
    alone, with an empty cache and no downloads.

    :param case: The test, for a temporary cache directory.
    """
    clock = stats.clock
    cache = FileCache(FilePath(case.mktemp()), None, clock)
    downloads = Downloads(cache, lambda url: Deferred(), clock)
    page = StatusPage(config, stats, cache, downloads)
    return case.successResultOf(page.html("http://proxy.test/")).decode("utf-8")


class HostileValueTests(SynchronousTestCase):
    """
    What an upstream or the settings say is shown as text, never as markup.
    """

    def test_upstream_name_and_error(self) -> None:
        """
        An index whose name, URL and last error message hold markup is shown
        with that markup escaped: the page has no script, and the text reads
        as it was given.
        """
        hostile = "<script>alert(1)</script>"
        index = IndexConfig(f"bad{hostile}", f"https://up.test/{hostile}/simple/")
        stats = Stats(Clock())
        stats.upstream_failed(index.name, f"</span>{hostile} answered 503 & <b>")
        body = bare_page(self, ProxyConfig(listen=(), indexes=(index,)), stats)
        self.assertNotIn("<script", body)
        self.assertNotIn("<b>bad<", body)
        escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
        self.assertIn(f"<b>bad{escaped}</b>", body)
        self.assertIn(f'<div class="url">https://up.test/{escaped}/simple/</div>', body)
        self.assertIn(
            f'<span class="error">&lt;/span&gt;{escaped} answered 503 &amp; &lt;b&gt;'
            "</span>",
            body,
        )

    def test_route_names(self) -> None:
        """
        Route projects and targets from the settings are escaped too.
        """
        config = ProxyConfig(listen=(), routes={"<i>p</i>": "<i>team</i>"})
        body = bare_page(self, config, Stats(Clock()))
        self.assertNotIn("<i>", body)
        self.assertIn(
            "<dt>&lt;i&gt;p&lt;/i&gt;</dt><dd>→ &lt;i&gt;team&lt;/i&gt;</dd>", body
        )


class OfflineTests(SynchronousTestCase):
    """
    The page says when the proxy runs offline.
    """

    def page(self, offline: bool) -> str:
        """
        The page of a bare :class:`StatusPage` with ``offline`` set or not.
        """
        config = ProxyConfig(listen=(), offline=offline)
        return bare_page(self, config, Stats(Clock()))

    def test_offline(self) -> None:
        """
        Offline, the header says that only the cache is served.
        """
        self.assertIn('<span class="badge idle">offline</span>', self.page(True))
        self.assertNotIn("offline</span>", self.page(False))
