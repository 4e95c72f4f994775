"""
Tests for :mod:`twisted_pypi.sources.remote`.
"""

from __future__ import annotations

import errno
import gzip
import json
import os
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import FakeClient, page_response
from tests.runnerguard import GuardedRecords, RecordingRunner
from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.core.lookup import (
    CacheStatus,
    Lookup,
    PageEntry,
    ProjectNotFound,
    UpstreamTimedOut,
    UpstreamUnavailable,
)
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.policy import Decision
from twisted_pypi.sources.metaadvert import MetadataAdvertiser
from twisted_pypi.sources.quarantine import REFUSED
from twisted_pypi.sources.remote import SPILL_BYTES, PageCache, PageStore
from twisted_pypi.storage.metacatalog import (
    CATALOG_SUFFIX,
    EXTRACTED,
    MetadataCatalog,
    Synthesized,
)
from twisted_pypi.storage.pagestore import StoredPage
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.upstream.ranged import RangeSupport

INDEX = IndexConfig("up", "http://upstream.test/simple/", ttl=100)
JSON = "application/vnd.pypi.simple.v1+json"

#: Where ``demo`` 1.0's wheel (see :func:`page_body`) is cached.
WHEEL = ("up", "http", "upstream.test", "packages", "demo-1.0-py3-none-any.whl")


def page_body(*versions: str, status: str | None = None) -> bytes:
    """
    A JSON project page for ``demo`` with one wheel per version.
    """
    files = [
        {
            "filename": f"demo-{v}-py3-none-any.whl",
            "url": f"../../packages/demo-{v}-py3-none-any.whl",
            "hashes": {"sha256": "ab" * 32},
            "size": 10,
        }
        for v in versions
    ]
    page: dict[str, object] = {
        "meta": {"api-version": "1.1"},
        "name": "demo",
        "files": files,
        "versions": list(versions),
    }
    if status:
        page["project-status"] = {"status": status}
    return json.dumps(page).encode()


class PageCacheTests(SynchronousTestCase):
    """
    Caching project pages and the project list.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.client = FakeClient()
        self.root = FilePath(self.mktemp())
        self.cache = self.make_cache()

    def make_cache(self, base_url: str | None = None) -> PageCache:
        """
        A page cache over the fake client, storing pages under ``self.root``.
        """
        config = ProxyConfig(indexes=(INDEX,), base_url=base_url, stale_wait=3)
        store = PageStore.on_disk(self.root)
        return PageCache(INDEX, config, self.client, self.clock, store)

    def first(self, body: bytes, etag: str | None = '"e1"') -> Lookup:
        """
        Ask for ``demo`` and answer the upstream request with ``body``.
        """
        d = self.cache.get_project("demo")
        self.client.answer(len(self.client.calls) - 1, page_response(body, etag=etag))
        return self.successResultOf(d)

    def test_miss_then_hit(self) -> None:
        """
        The first request fetches the page (MISS); requests within the TTL
        are answered from memory (HIT) without asking the upstream.
        """
        result = self.first(page_body("1.0"))
        self.assertEqual(result.status, CacheStatus.MISS)
        self.assertEqual(self.client.calls[0][0], "http://upstream.test/simple/demo/")
        self.clock.advance(99)
        again = self.successResultOf(self.cache.get_project("demo"))
        self.assertEqual(again.status, CacheStatus.HIT)
        self.assertIs(again.entry, result.entry)
        self.assertEqual(len(self.client.calls), 1)

    def test_revalidates_with_etag(self) -> None:
        """
        After the TTL the page is revalidated with ``If-None-Match``; a 304
        keeps the page and makes it fresh again.
        """
        self.first(page_body("1.0"))
        self.clock.advance(101)
        d = self.cache.get_project("demo")
        self.assertEqual(self.client.calls[1][1]["headers"]["If-None-Match"], '"e1"')
        self.client.answer(1, page_response(b"", code=304))
        self.assertEqual(self.successResultOf(d).status, CacheStatus.HIT)
        self.clock.advance(50)
        self.successResultOf(self.cache.get_project("demo"))
        self.assertEqual(len(self.client.calls), 2)

    def test_new_page_replaces(self) -> None:
        """
        A changed upstream page replaces the cached one and its renditions.
        """
        self.first(page_body("1.0"))
        self.clock.advance(101)
        d = self.cache.get_project("demo")
        self.client.answer(1, page_response(page_body("1.0", "2.0")))
        result = self.successResultOf(d)
        assert result.entry is not None
        self.assertIn(b"demo-2.0-py3-none-any.whl", result.entry.rendition(True).body)

    def test_stale_on_error(self) -> None:
        """
        When the upstream fails after the TTL, the cached page is served
        STALE, with the error noted.
        """
        self.first(page_body("1.0"))
        self.clock.advance(101)
        d = self.cache.get_project("demo")
        self.client.answer(1, page_response(b"", code=503))
        result = self.successResultOf(d)
        self.assertEqual(result.status, CacheStatus.STALE)
        assert result.failure is not None
        self.assertIn("503", result.failure.reason)
        self.assertNotIsInstance(result.failure, UpstreamTimedOut)

    def test_stale_when_slow(self) -> None:
        """
        A refresh slower than the stale wait gives the client the stale page
        at once; the refresh goes on and updates the cache when it lands.
        """
        self.first(page_body("1.0"))
        self.clock.advance(101)
        d = self.cache.get_project("demo")
        self.assertNoResult(d)
        self.clock.advance(3)
        self.assertEqual(self.successResultOf(d).status, CacheStatus.STALE)
        self.client.answer(1, page_response(page_body("1.0", "2.0")))
        fresh = self.successResultOf(self.cache.get_project("demo"))
        self.assertEqual(fresh.status, CacheStatus.HIT)
        assert fresh.entry is not None and isinstance(fresh.entry.page, ProjectPage)
        self.assertEqual(len(fresh.entry.page.files), 2)

    def test_error_without_cache(self) -> None:
        """
        With nothing cached, an upstream failure fails the lookup with
        :class:`UpstreamUnavailable`, and a timeout with its kind
        :class:`UpstreamTimedOut`.
        """
        d = self.cache.get_project("demo")
        self.client.answer(0, page_response(b"", code=500))
        failure = self.failureResultOf(d, UpstreamUnavailable)
        self.assertFalse(failure.check(UpstreamTimedOut, ProjectNotFound))
        self.assertIn("500", failure.getErrorMessage())
        d = self.cache.get_project("other")
        self.clock.advance(10)
        self.failureResultOf(d, UpstreamTimedOut)

    def test_unparseable_is_error(self) -> None:
        """
        A page that does not parse is an upstream error, not a crash.
        """
        d = self.cache.get_project("demo")
        self.client.answer(0, page_response(b"{not json", etag=None))
        failure = self.failureResultOf(d, UpstreamUnavailable)
        self.assertIn("could not be parsed", failure.getErrorMessage())

    def test_not_found(self) -> None:
        """
        An upstream 404 is "not found", remembered briefly so a burst of
        requests for a missing name asks the upstream once.
        """
        d = self.cache.get_project("nope")
        self.client.answer(0, page_response(b"", code=404))
        self.failureResultOf(d, ProjectNotFound)
        self.failureResultOf(self.cache.get_project("nope"), ProjectNotFound)
        self.assertEqual(len(self.client.calls), 1)
        self.clock.advance(61)
        self.cache.get_project("nope")
        self.assertEqual(len(self.client.calls), 2)

    def test_not_found_memory_bounded(self) -> None:
        """
        Only so many "not found" answers are remembered: a client asking for
        random names does not grow the memory without bound.  Past the
        bound the least recently remembered name is forgotten (and asked for
        again), the others are not.
        """
        from twisted_pypi.sources import remote

        self.patch(remote, "MEMORY_NOT_FOUND", 3)
        self.cache = self.make_cache()
        names = [f"random-{n}" for n in range(10)]
        for name in names:
            d = self.cache.get_project(name)
            self.client.answer(len(self.client.calls) - 1, page_response(b"", code=404))
            self.failureResultOf(d, ProjectNotFound)
        for name in names[-3:]:
            self.failureResultOf(self.cache.get_project(name), ProjectNotFound)
        self.assertEqual(len(self.client.calls), 10)
        self.cache.get_project(names[0])
        self.assertEqual(len(self.client.calls), 11)

    def test_invalidate(self) -> None:
        """
        Invalidating a page forgets it in memory and on disk, and that the
        upstream lacked a page: the next request asks the upstream again.
        It says whether there was anything to forget.
        """
        self.first(page_body("1.0"))
        self.failureResultOf(self.missing("nope"), ProjectNotFound)
        self.assertTrue(self.successResultOf(self.cache.invalidate("demo")))
        self.assertTrue(self.successResultOf(self.cache.invalidate("nope")))
        self.assertFalse(self.successResultOf(self.cache.invalidate("other")))
        self.cache.get_project("demo")
        self.cache.get_project("nope")
        self.assertEqual(len(self.client.calls), 4)

    def missing(self, name: str) -> Deferred[Lookup]:
        """
        Ask for ``name`` and answer the upstream request with a 404.
        """
        d = self.cache.get_project(name)
        self.client.answer(len(self.client.calls) - 1, page_response(b"", code=404))
        return d

    def test_single_flight(self) -> None:
        """
        Concurrent requests for an uncached page share one upstream fetch,
        and each gets the page.
        """
        ds = [self.cache.get_project("demo") for _ in range(5)]
        self.assertEqual(len(self.client.calls), 1)
        self.client.answer(0, page_response(page_body("1.0")))
        for d in ds:
            self.assertEqual(self.successResultOf(d).status, CacheStatus.MISS)

    def test_survives_restart(self) -> None:
        """
        Pages persist on disk: a new cache over the same directory serves the
        page without asking the upstream, and still stale when it fails.
        """
        self.first(page_body("1.0"))
        self.cache = self.make_cache()
        result = self.successResultOf(self.cache.get_project("demo"))
        self.assertEqual(result.status, CacheStatus.HIT)
        self.assertEqual(len(self.client.calls), 1)
        self.clock.advance(101)
        self.cache = self.make_cache()
        d = self.cache.get_project("demo")
        self.client.answer(1, page_response(b"", code=502))
        self.assertEqual(self.successResultOf(d).status, CacheStatus.STALE)

    def test_relative_links(self) -> None:
        """
        Without a base URL, file links are relative to the project page and
        point into the proxy's file tree, never upstream.
        """
        result = self.first(page_body("1.0"))
        assert result.entry is not None
        data = json.loads(result.entry.rendition(True).body)
        self.assertEqual(
            data["files"][0]["url"],
            "../../files/up/http/upstream.test/packages/demo-1.0-py3-none-any.whl",
        )

    def test_base_url_links(self) -> None:
        """
        With a base URL, file links are absolute under it.
        """
        self.cache = self.make_cache("https://proxy.example/pypi/")
        result = self.first(page_body("1.0"))
        assert result.entry is not None
        html = result.entry.rendition(False).body
        self.assertIn(
            b'href="https://proxy.example/pypi/files/up/http/upstream.test/packages/'
            b"demo-1.0-py3-none-any.whl#sha256=",
            html,
        )

    def test_renditions_once(self) -> None:
        """
        Each representation is rendered once, with gzip and distinct ETags.
        """
        result = self.first(page_body("1.0"))
        assert result.entry is not None
        first = result.entry.rendition(True)
        self.assertIs(result.entry.rendition(True), first)
        self.assertEqual(gzip.decompress(first.gzipped), first.body)
        self.assertNotEqual(first.etag, first.gzip_etag)
        self.assertNotEqual(first.etag, result.entry.rendition(False).etag)

    def test_file_lookup(self) -> None:
        """
        A page finds its file by the proxy path the link points at.
        """
        result = self.first(page_body("1.0"))
        assert result.entry is not None
        found = result.entry.file_at(
            ("up", "http", "upstream.test", "packages", "demo-1.0-py3-none-any.whl")
        )
        assert found is not None
        self.assertEqual(found.filename, "demo-1.0-py3-none-any.whl")
        self.assertIsNone(result.entry.file_at(("up", "http", "x", "demo-1.0.tar.gz")))

    def test_quarantined_lists_nothing(self) -> None:
        """
        A quarantined project's page lists no files.
        """
        result = self.first(page_body("1.0", status="quarantined"))
        assert result.entry is not None
        data = json.loads(result.entry.rendition(True).body)
        self.assertEqual(data["files"], [])
        self.assertEqual(data["project-status"]["status"], "quarantined")

    def test_quarantine_drops_cached_files(self) -> None:
        """
        When a refresh finds the project quarantined, the files (and
        ``.metadata``) its previous page listed are dropped from the cache.
        """
        forgotten: list[tuple[str, ...]] = []
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        self.cache = PageCache(
            INDEX,
            config,
            self.client,
            self.clock,
            PageStore.on_disk(self.root),
            forget_file=forgotten.append,
        )
        self.first(page_body("1.0"))
        self.clock.advance(101)
        d = self.cache.get_project("demo")
        self.client.answer(1, page_response(page_body(status="quarantined")))
        self.successResultOf(d)
        wheel = ("up", "http", "upstream.test", "packages", "demo-1.0-py3-none-any.whl")
        self.assertEqual(forgotten, [wheel, (*wheel[:-1], wheel[-1] + ".metadata")])

    def test_memory_bounded_by_bytes(self) -> None:
        """
        Pages beyond the memory budget are dropped from memory, oldest first,
        and read back from disk (without asking the upstream) when needed.
        """
        from twisted_pypi.sources import remote as pages

        self.patch(pages, "MEMORY_BYTES", 4 * len(page_body("1.0")) + 1)
        self.cache = self.make_cache()
        self.first(page_body("1.0"))
        d = self.cache.get_project("other")
        self.client.answer(1, page_response(page_body("1.0")))
        self.successResultOf(d)
        self.assertEqual(list(self.cache._policy.memory), ["other"])
        again = self.successResultOf(self.cache.get_project("demo"))
        self.assertEqual(again.status, CacheStatus.HIT)
        self.assertEqual(len(self.client.calls), 2)

    def test_project_list(self) -> None:
        """
        The project list is fetched from the index root and links each
        project by its normalized name.
        """
        d = self.cache.get_list()
        self.assertEqual(self.client.calls[0][0], "http://upstream.test/simple/")
        body = json.dumps(
            {"meta": {"api-version": "1.0"}, "projects": [{"name": "Foo.Bar"}]}
        ).encode()
        self.client.answer(0, page_response(body, url="http://upstream.test/simple/"))
        result = self.successResultOf(d)
        assert result.entry is not None
        self.assertIn(b'href="foo-bar/"', result.entry.rendition(False).body)


class RunnerTests(SynchronousTestCase):
    """
    Parsing pages and reading and writing stored pages go through the
    injected runner, never on the reactor.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.client = FakeClient()
        self.root = FilePath(self.mktemp())
        self.store = PageStore.on_disk(self.root)
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        self.cache = PageCache(INDEX, config, self.client, self.clock, self.store)

    def test_load_in_runner(self) -> None:
        """
        A page read back from disk (after a restart) is read and parsed in
        the runner: the reactor side never touches the store.
        """
        reads: list[str] = []
        real_load = self.store.load
        inside = [False]

        def run(work: Callable[[], Any]) -> Deferred[Any]:
            """Mark the time spent in the runner."""
            inside[0] = True
            try:
                return succeed(work())
            finally:
                inside[0] = False

        def load(index: str, key: str) -> StoredPage | None:
            """Note whether the read happened in the runner."""
            reads.append("runner" if inside[0] else "reactor")
            return real_load(index, key)

        self.store.save(
            INDEX.name,
            "demo",
            StoredPage(INDEX.url + "demo/", page_body("1.0"), JSON, None, 1000.0),
        )
        self.patch(self.store, "load", load)
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        cache = PageCache(INDEX, config, self.client, self.clock, self.store, run=run)
        found = self.successResultOf(cache.get_project("demo"))
        self.assertEqual(found.status, CacheStatus.HIT)
        self.assertEqual(reads, ["runner"])

    def test_fetched_parsed_and_saved_in_runner(self) -> None:
        """
        A fetched page is parsed and stored in the runner: when the runner
        holds the work back, nothing is stored and the lookup waits.
        """
        queued: list[tuple[Callable[[], Any], Deferred[Any]]] = []

        def run(work: Callable[[], Any]) -> Deferred[Any]:
            """Hold the work until the test runs it."""
            d: Deferred[Any] = Deferred()
            queued.append((work, d))
            return d

        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        cache = PageCache(INDEX, config, self.client, self.clock, self.store, run=run)
        d = cache.get_project("demo")
        work, done = queued.pop()  # the (absent) stored page
        done.callback(work())
        self.client.answer(0, page_response(page_body("1.0")))
        self.assertNoResult(d)
        self.assertIsNone(self.store.load(INDEX.name, "demo"))
        work, done = queued.pop()
        done.callback(work())
        self.assertEqual(self.successResultOf(d).status, CacheStatus.MISS)
        self.assertIsNotNone(self.store.load(INDEX.name, "demo"))

    def test_full_disk(self) -> None:
        """
        When the disk is full the page is still served from memory, no
        temporary file is left, and one warning says the disk is full.
        """

        real_fdopen = os.fdopen

        def full(fd: int, mode: str) -> Any:
            """A file whose writes fail as on a full disk."""
            opened = real_fdopen(fd, mode)

            def write(data: bytes) -> int:
                raise OSError(errno.ENOSPC, "No space left on device")

            return _FullFile(opened, write)

        self.patch(os, "fdopen", full)
        with capturedLogs() as events:
            d = self.cache.get_project("demo")
            self.client.answer(0, page_response(page_body("1.0")))
            found = self.successResultOf(d)
        self.assertEqual(found.status, CacheStatus.MISS)
        self.assertIsInstance(found.entry.page, ProjectPage)
        self.assertEqual(self.root.child(INDEX.name).listdir(), [])
        warnings = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertIn("disk is full", formatEvent(warnings[0]))
        self.assertNotIn("log_failure", warnings[0])


class _FullFile:
    """
    A file object whose ``write`` is replaced (the real one's is read-only).
    """

    def __init__(self, opened: Any, write: Callable[[bytes], int]) -> None:
        self._opened = opened
        self.write = write

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._opened.close()


class RecordStoreRunnerTests(SynchronousTestCase):
    """
    Every call to the record store goes through the runner (a shared
    store's calls block for a round trip): none is made on the reactor.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.client = FakeClient()
        self.runner = RecordingRunner()
        local = LocalRecords(FilePath(self.mktemp()), ".page")
        self.records = GuardedRecords(local, self.runner)
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        self.cache = PageCache(
            INDEX, config, self.client, self.clock, PageStore(self.records), self.runner
        )

    def answer(self, name: str, response: Any) -> Deferred[Lookup]:
        """Ask for ``name`` and answer the upstream with ``response``."""
        d = self.cache.get_project(name)
        self.client.answer(len(self.client.calls) - 1, response)
        return d

    def test_not_found_removes_in_runner(self) -> None:
        """
        A page the upstream no longer has is removed from the store by the
        runner.
        """
        self.successResultOf(self.answer("demo", page_response(page_body("1.0"))))
        self.clock.advance(101)
        gone = self.answer("demo", page_response(b"", code=404))
        self.failureResultOf(gone, ProjectNotFound)
        self.assertIn("remove", self.records.calls)
        self.assertEqual(self.records.records.keys("up"), [])

    def test_invalidate_in_runner(self) -> None:
        """
        Invalidating a page removes its record by the runner, and fires
        with whether anything was cached.
        """
        self.successResultOf(self.answer("demo", page_response(page_body("1.0"))))
        self.assertTrue(self.successResultOf(self.cache.invalidate("demo")))
        self.assertFalse(self.successResultOf(self.cache.invalidate("demo")))
        self.assertEqual(self.records.calls.count("remove"), 2)

    def test_stored_keys_in_runner(self) -> None:
        """
        The keys of the stored pages are listed by the runner.
        """
        self.successResultOf(self.answer("demo", page_response(page_body("1.0"))))
        runs = self.runner.runs
        self.assertEqual(self.successResultOf(self.cache.stored_keys()), ["demo"])
        self.assertEqual(self.runner.runs, runs + 1)

    def test_refusal_reads_store_in_runner(self) -> None:
        """
        Deciding whether a file is refused reads its project's stored page
        by the runner, once: then the answer is known at once.
        """
        self.successResultOf(self.answer("demo", page_response(page_body("1.0"))))
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        restarted = PageCache(
            INDEX, config, self.client, self.clock, PageStore(self.records), self.runner
        )
        runs = self.runner.runs
        self.assertIsNone(self.successResultOf(restarted.refusal(WHEEL, "demo")))
        self.assertEqual(self.runner.runs, runs + 1)
        self.assertIsNone(self.successResultOf(restarted.refusal(WHEEL, "demo")))
        self.assertEqual(self.runner.runs, runs + 1)


class RefusalTests(SynchronousTestCase):
    """
    :meth:`PageCache.refusal`: the cached files of a project the upstream
    quarantined are refused from the moment the cache sees the status.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.client = FakeClient()
        self.root = FilePath(self.mktemp())
        self.loads: list[str] = []
        self.cache = self.make_cache()

    def make_cache(self) -> PageCache:
        """
        A page cache over ``self.root`` (a new one is a restart), its store
        reads noted in ``self.loads``.
        """
        store = PageStore.on_disk(self.root)
        real = store.load

        def load(index: str, key: str) -> StoredPage | None:
            self.loads.append(key)
            return real(index, key)

        self.patch(store, "load", load)
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        return PageCache(INDEX, config, self.client, self.clock, store)

    def fetch(self, body: bytes) -> None:
        """
        Have the cache fetch ``demo``'s page and the upstream answer ``body``.
        """
        d = self.cache.get_project("demo")
        self.client.answer(len(self.client.calls) - 1, page_response(body))
        self.successResultOf(d)

    def refusal(self, cache: PageCache | None = None) -> Decision | None:
        """
        Whether the cache refuses ``demo``'s wheel, at once.
        """
        return self.successResultOf((cache or self.cache).refusal(WHEEL, "demo"))

    def test_refused_at_once(self) -> None:
        """
        A file is served until a refresh of its page finds the project
        quarantined; from that moment it is refused, whatever link names it
        (and its ``.metadata``); a later page without the status lifts it.
        """
        self.fetch(page_body("1.0"))
        self.assertIsNone(self.refusal())
        self.clock.advance(101)
        self.fetch(page_body(status="quarantined"))
        self.assertEqual(self.refusal(), REFUSED)
        metadata = (*WHEEL[:-1], WHEEL[-1] + ".metadata")
        self.assertEqual(
            self.successResultOf(self.cache.refusal(metadata, None)), REFUSED
        )
        self.assertEqual(self.successResultOf(self.cache.refusal(WHEEL, "x")), REFUSED)
        self.clock.advance(101)
        self.fetch(page_body("1.0"))
        self.assertIsNone(self.refusal())

    def test_quarantined_first_sight(self) -> None:
        """
        A project whose very first page is quarantined (no earlier page to
        say which files were cached) has its files refused.
        """
        self.fetch(page_body(status="quarantined"))
        self.assertEqual(self.refusal(), REFUSED)

    def test_refused_after_restart(self) -> None:
        """
        After a restart the stored page's status decides: the stored page
        is read once, then the answer is known without reading it again.
        """
        self.fetch(page_body(status="quarantined"))
        restarted = self.make_cache()
        del self.loads[:]
        self.assertEqual(self.refusal(restarted), REFUSED)
        self.assertEqual(self.refusal(restarted), REFUSED)
        self.assertEqual(self.loads, ["demo"])

    def test_not_stored_read_once(self) -> None:
        """
        A file whose project has no stored page is served, and the store is
        not asked again for that project.
        """
        self.assertIsNone(self.refusal())
        self.assertIsNone(self.refusal())
        self.assertEqual(self.loads, ["demo"])

    def test_quarantined_page_not_spilled(self) -> None:
        """
        A quarantined project's page stays parsed in memory whatever its
        size, so that its status can be read there.
        """
        store = PageStore.on_disk(self.root)
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        self.cache = PageCache(
            INDEX, config, self.client, self.clock, store, spill_bytes=0
        )
        self.fetch(page_body("1.0", status="quarantined"))
        restarted = PageCache(
            INDEX, config, self.client, self.clock, store, spill_bytes=0
        )
        entry = self.successResultOf(restarted.get_project("demo")).entry
        self.assertTrue(entry.is_loaded)
        self.assertEqual(self.refusal(restarted), REFUSED)


class AdvertisedTests(SynchronousTestCase):
    """
    A page cache with a metadata advertiser: its pages advertise the core
    metadata the proxy makes, and are built again, without asking the
    upstream, when that changes.
    """

    WHEEL = "demo-2.0-py3-none-any.whl"
    WHEEL_KEY = f"http/upstream.test/packages/{WHEEL}"

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.client = FakeClient()
        self.catalog = MetadataCatalog(
            LocalRecords(FilePath(self.mktemp()), CATALOG_SUFFIX)
        )
        self.support = RangeSupport()
        self.probed: list[tuple[DistFile, tuple[str, ...]]] = []
        self.probing: list[Deferred[None]] = []

        def probe(dist: DistFile, at: tuple[str, ...]) -> Deferred[None]:
            self.probed.append((dist, at))
            self.probing.append(Deferred())
            return self.probing[-1]

        self.advertiser = MetadataAdvertiser(
            self.catalog, self.support, probe, self.clock
        )

    def make_cache(self, spill_bytes: int = SPILL_BYTES) -> PageCache:
        """A page cache with the advertiser."""
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        store = PageStore.on_disk(FilePath(self.mktemp()))
        return PageCache(
            INDEX,
            config,
            self.client,
            self.clock,
            store,
            spill_bytes=spill_bytes,
            advertiser=self.advertiser,
        )

    def metadata(self, entry: PageEntry) -> list[object]:
        """The ``core-metadata`` of each file of the entry's JSON page."""
        kept = entry.on_disk(True)
        body = (
            FilePath(kept.path).getContent()
            if kept is not None
            else entry.rendition(True).body
        )
        return [f.get("core-metadata") for f in json.loads(body)["files"]]

    def first(self, cache: PageCache) -> Deferred[Lookup]:
        """Ask for ``demo``, answering the upstream with a page of two wheels."""
        d = cache.get_project("demo")
        self.client.answer(0, page_response(page_body("1.0", "2.0")))
        return d

    def test_probe_before_first_page(self) -> None:
        """
        A page listing wheels of an origin not known yet waits for a probe
        of its last wheel before it is served, and then advertises what the
        probe taught.
        """
        d = self.first(self.make_cache())
        self.assertNoResult(d)
        dist, at = self.probed[0]
        self.assertEqual(dist.filename, self.WHEEL)
        self.assertEqual(at, ("up", *self.WHEEL_KEY.split("/")))
        self.support.learn(dist.url, True)
        self.probing[0].callback(None)
        self.assertEqual(self.metadata(self.successResultOf(d).entry), [True, True])

    def test_rebuilt(self) -> None:
        """
        Once the catalog changes for the project, the page is built again
        from the one in memory (the upstream is not asked), and kept.
        """
        self.support.learn("http://upstream.test/", True)
        cache = self.make_cache()
        entry = self.successResultOf(self.first(cache)).entry
        self.assertEqual(self.metadata(entry), [True, True])
        hashed = Synthesized("ab" * 32, EXTRACTED, 10)
        self.catalog.put("up", "demo", self.WHEEL_KEY, hashed)
        again = self.successResultOf(cache.get_project("demo")).entry
        self.assertIsNot(again, entry)
        self.assertEqual(self.metadata(again), [True, {"sha256": "ab" * 32}])
        self.assertEqual(len(self.client.calls), 1)
        self.assertIs(self.successResultOf(cache.get_project("demo")).entry, again)

    def test_rebuilt_on_disk(self) -> None:
        """
        A page kept rendered on disk is rendered again when the catalog
        changes, and read again for its files with the metadata advertised.
        """
        self.support.learn("http://upstream.test/", False)
        cache = self.make_cache(spill_bytes=0)
        entry = self.successResultOf(self.first(cache)).entry
        self.assertEqual(self.metadata(entry), [None, None])
        hashed = Synthesized("ab" * 32, EXTRACTED, 10)
        self.catalog.put("up", "demo", self.WHEEL_KEY, hashed)
        again = self.successResultOf(cache.get_project("demo")).entry
        self.assertFalse(again.is_loaded)
        self.assertEqual(self.metadata(again), [None, {"sha256": "ab" * 32}])
        loaded = self.successResultOf(again.loaded())
        page = loaded.page
        assert isinstance(page, ProjectPage)
        self.assertTrue(page.files[1].synthesized_metadata)
        self.assertEqual(len(self.client.calls), 1)

    def test_cached_project_current(self) -> None:
        """
        :meth:`PageCache.cached_project` gives the page as it is, or, asked
        for a current one, built again (never probing).
        """
        cache = self.make_cache()
        self.support.learn("http://upstream.test/", True)
        entry = self.successResultOf(self.first(cache)).entry
        self.catalog.put(
            "up", "demo", self.WHEEL_KEY, Synthesized("ab" * 32, EXTRACTED, 1)
        )
        self.assertIs(self.successResultOf(cache.cached_project("demo")), entry)
        current = self.successResultOf(cache.cached_project("demo", current=True))
        assert current is not None
        self.assertEqual(self.metadata(current), [True, {"sha256": "ab" * 32}])
        self.assertEqual(self.probed, [])
