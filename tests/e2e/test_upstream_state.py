"""
End-to-end: the real ``twistd -n pypiproxy`` process in front of a fake
upstream on 127.0.0.1.  An HTML-only upstream gives no upload times: the
proxy records when it first saw each file, keeps the times across a
restart of the process and a re-fetch, and says so in its log and on its
status page.  A project the upstream quarantines has its cached files
refused from the refresh that sees the status.
"""

from __future__ import annotations

import shutil

from attrs import evolve
from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, HTTPConnectionPool

from tests.e2e.proxyprocess import ProxyProcess, start_twistd_proxy
from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import Upstream
from tests.wheels import build_wheel
from twisted_pypi.storage.pagestore import PageStore, StoredPage

OLD = build_wheel("tplib", "1.0")
NEW = build_wheel("tplib", "2.0")

#: A first sight long before the test, written into the record.
LONG_AGO = "2020-01-02T03:04:05Z"


class UpstreamStateTests(TestCase):
    """
    First-seen times and quarantine through the twistd process.
    """

    timeout = 120

    def setUp(self) -> None:
        """
        A home for the process, a cache directory, and an HTTP client whose
        connections are closed at the end.
        """
        self.home = self.scratch()
        self.home.makedirs()
        self.cache = self.scratch()
        pool = HTTPConnectionPool(reactor, persistent=False)
        self.addCleanup(pool.closeCachedConnections)
        self.client = HTTPClient(Agent(reactor, pool=pool))

    def scratch(self) -> FilePath[str]:
        """
        A new temporary path, deleted after the test.
        """
        path = FilePath(self.mktemp())
        self.addCleanup(shutil.rmtree, path.path, ignore_errors=True)
        return path

    def start_upstream(self, index: FakeIndex) -> Upstream:
        """
        ``index`` on 127.0.0.1, stopped at the end.
        """
        upstream = Upstream(index)
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        return upstream

    async def start_proxy(self, upstream: Upstream) -> ProxyProcess:
        """
        The proxy process over ``self.cache``, its pages always refreshed
        (TTL 0), so that each page request asks the upstream.
        """
        index = f"up={upstream.url},ttl=0"
        return await start_twistd_proxy(
            self, self.home, ["--index", index, "--cache-dir", self.cache.path]
        )

    async def get(self, url: str) -> tuple[int, bytes]:
        """
        The status and body of a ``GET``.
        """
        response = await self.client.get(url)
        return response.code, await response.content()

    def store(self) -> PageStore:
        """
        The page records in the cache directory.
        """
        return PageStore.on_disk(self.cache.child("pages"))

    def record(self) -> StoredPage:
        """
        ``tplib``'s page record.
        """
        stored = self.store().load("up", "tplib")
        assert stored is not None
        return stored

    async def test_first_seen_kept(self) -> None:
        """
        The first fetch records a first-seen time per file; a restarted
        process re-fetching the changed page keeps the recorded time of the
        file it listed before and records one for the new file; the log
        and the status page say the index gives no upload times.
        """
        index = FakeIndex(mode="html")
        index.add("tplib", FakeFile(OLD))
        upstream = self.start_upstream(index)
        proxy = await self.start_proxy(upstream)
        code, body = await self.get(proxy.url + "tplib/")
        self.assertEqual(code, 200, body)
        first = self.record()
        self.assertEqual(list(first.first_seen), [OLD.filename])
        self.assertRegex(first.first_seen[OLD.filename], r"^\d{4}-\d\d-\d\dT[\d:]{8}Z$")
        await proxy.stop()
        self.assertIn(b"tplib lists 1 new file(s)", proxy.log)
        # As if the proxy had first seen the file long ago.
        times = {OLD.filename: LONG_AGO}
        self.store().save("up", "tplib", evolve(first, first_seen=times))
        index.add("tplib", FakeFile(NEW))
        restarted = await self.start_proxy(upstream)
        code, body = await self.get(restarted.url + "tplib/")
        self.assertEqual(code, 200, body)
        self.assertIn(NEW.filename.encode(), body)
        again = self.record()
        self.assertEqual(again.first_seen[OLD.filename], LONG_AGO)
        self.assertGreaterEqual(
            again.first_seen[NEW.filename], first.first_seen[OLD.filename]
        )
        self.assertNotIn(LONG_AGO.encode(), body)
        code, status = await self.get(restarted.url.removesuffix("simple/"))
        self.assertIn(b"ages from first sight", status)

    async def test_quarantine_refused(self) -> None:
        """
        A cached file is served until the upstream quarantines its project;
        from the page refresh that sees the status it is refused (403 with
        the reason), also by a restarted process.
        """
        index = FakeIndex(mode="json")
        index.add("tplib", FakeFile(OLD))
        upstream = self.start_upstream(index)
        proxy = await self.start_proxy(upstream)
        code, body = await self.get(proxy.url + "tplib/")
        self.assertEqual(code, 200, body)
        host = upstream.url.split("/")[2]
        file_path = f"files/up/http/{host}/packages/{OLD.filename}"
        file_url = proxy.url.removesuffix("simple/") + file_path
        for _ in range(2):
            code, body = await self.get(file_url)
            self.assertEqual((code, body), (200, OLD.content))
        index.statuses["tplib"] = "quarantined"
        code, body = await self.get(proxy.url + "tplib/")
        self.assertEqual(code, 200, body)
        code, body = await self.get(file_url)
        self.assertEqual(code, 403, body)
        self.assertIn(b"project quarantined upstream", body)
        await proxy.stop()
        restarted = await self.start_proxy(upstream)
        code, body = await self.get(restarted.url.removesuffix("simple/") + file_path)
        self.assertEqual(code, 403, body)
