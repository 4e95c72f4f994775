"""
Tests for :mod:`twisted_pypi.sources.pagerecords`, through the page cache
that uses it: files listed without an upload time get the time the cache
first saw them, kept in the page's record across restarts, re-fetches and
revalidations, and never rendered; the same entries advertise the core
metadata the proxy makes, and keep those times when built again.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import FakeClient, page_response
from tests.sources.test_pagebuild import Counted
from tests.sources.test_remote import INDEX
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.lookup import PageEntry
from twisted_pypi.core.model import ProjectPage
from twisted_pypi.core.stats import Stats
from twisted_pypi.sources.metaadvert import MetadataAdvertiser
from twisted_pypi.sources.remote import SPILL_BYTES, PageCache
from twisted_pypi.storage.metacatalog import (
    CATALOG_SUFFIX,
    EXTRACTED,
    MetadataCatalog,
    Synthesized,
)
from twisted_pypi.storage.pagestore import PageStore, StoredPage
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.upstream.ranged import RangeSupport

#: The clock's reading at the first fetch, and as the model writes it.
START = 1_772_600_767.0
T0 = "2026-03-04T05:06:07Z"
#: An hour later.
T1 = "2026-03-04T06:06:07Z"
#: A day later.
T2 = "2026-03-05T05:06:07Z"

HTML = "text/html; charset=utf-8"


def html_body(*versions: str) -> bytes:
    """
    An HTML-only page for ``demo`` (no upload times) with one sdist a
    version.
    """
    anchors = "".join(
        f'<a href="../../packages/demo-{v}.tar.gz#sha256={"ab" * 32}">'
        f"demo-{v}.tar.gz</a>"
        for v in versions
    )
    return f"<!DOCTYPE html><html><body>{anchors}</body></html>".encode()


def dated_body(*versions: str) -> bytes:
    """
    A JSON page for ``demo`` whose files have upload times.
    """
    files = [
        {
            "filename": f"demo-{v}.tar.gz",
            "url": f"../../packages/demo-{v}.tar.gz",
            "hashes": {"sha256": "ab" * 32},
            "upload-time": "2025-01-01T00:00:00.000001Z",
        }
        for v in versions
    ]
    return json.dumps({"meta": {"api-version": "1.1"}, "files": files}).encode()


def seen(entry: PageEntry) -> dict[str, str | None]:
    """
    Each file's first-seen time, by filename, from a loaded entry.
    """
    page = entry.page
    assert isinstance(page, ProjectPage)
    return {f.filename: f.first_seen for f in page.files}


class FirstSeenTests(SynchronousTestCase):
    """
    First-seen times in the page cache.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(START)
        self.client = FakeClient()
        self.root = FilePath(self.mktemp())
        self.stats = Stats(self.clock)
        self.cache = self.make_cache()

    def make_cache(self, **kwargs: Any) -> PageCache:
        """
        A page cache storing under ``self.root`` (a new one is a restart).
        """
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        store = PageStore.on_disk(self.root)
        return PageCache(
            INDEX, config, self.client, self.clock, store, stats=self.stats, **kwargs
        )

    def fetch(
        self, body: bytes, content_type: str = HTML, code: int = 200, load: bool = True
    ) -> PageEntry:
        """
        Ask for ``demo`` and answer the upstream request with ``body``.

        :param load: Whether to load the page of an entry kept on disk.
        """
        calls = len(self.client.calls)
        d = self.cache.get_project("demo")
        self.assertEqual(len(self.client.calls), calls + 1)
        response = page_response(
            body, code=code, content_type=content_type, etag=f'"{len(body)}"'
        )
        self.client.answer(calls, response)
        entry = self.successResultOf(d).entry
        return self.successResultOf(entry.loaded()) if load else entry

    def stored(self) -> StoredPage:
        """
        ``demo``'s record as the store holds it.
        """
        stored = PageStore.on_disk(self.root).load(INDEX.name, "demo")
        assert stored is not None
        return stored

    def test_recorded(self) -> None:
        """
        Files listed without an upload time are first seen at the fetch (by
        the cache's clock); the times are kept in the record, whose body is
        the upstream's, unchanged.
        """
        body = html_body("1.0", "2.0")
        entry = self.fetch(body)
        both = {"demo-1.0.tar.gz": T0, "demo-2.0.tar.gz": T0}
        self.assertEqual(seen(entry), both)
        self.assertEqual(self.stored().first_seen, both)
        self.assertEqual(self.stored().body, body)

    def test_upload_times_need_none(self) -> None:
        """
        Files with an upload time get no first-seen time, and the record
        keeps none; the index does not count as giving ages from first sight.
        """
        entry = self.fetch(dated_body("1.0"), "application/vnd.pypi.simple.v1+json")
        self.assertEqual(seen(entry), {"demo-1.0.tar.gz": None})
        self.assertEqual(self.stored().first_seen, {})
        self.assertFalse(self.cache.ages_from_first_sight)
        self.assertFalse(self.stats.upstream(INDEX.name).undated)

    def test_survive_restart(self) -> None:
        """
        A cache started again over the same records reads the times back
        with the page.
        """
        self.fetch(html_body("1.0"))
        self.clock.advance(10)
        restarted = self.make_cache()
        entry = self.successResultOf(restarted.cached_project("demo"))
        assert entry is not None
        self.assertEqual(seen(entry), {"demo-1.0.tar.gz": T0})
        self.assertTrue(restarted.ages_from_first_sight)

    def test_kept_on_refetch(self) -> None:
        """
        A changed page keeps the time of each file the previous record
        listed; a new file is first seen at that fetch; a file the page
        stops listing and lists again later is first seen again.
        """
        self.fetch(html_body("1.0"))
        self.clock.advance(3600)
        entry = self.fetch(html_body("1.0", "2.0"))
        self.assertEqual(seen(entry), {"demo-1.0.tar.gz": T0, "demo-2.0.tar.gz": T1})
        self.assertEqual(self.stored().first_seen, seen(entry))
        self.clock.advance(3600)
        self.fetch(html_body("2.0"))
        self.clock.advance(86400 - 7200)
        entry = self.fetch(html_body("1.0", "2.0"))
        self.assertEqual(seen(entry), {"demo-1.0.tar.gz": T2, "demo-2.0.tar.gz": T1})

    def test_kept_on_refetch_after_restart(self) -> None:
        """
        After a restart, a changed page keeps the times the stored record
        had.
        """
        self.fetch(html_body("1.0"))
        self.cache = self.make_cache()
        self.clock.advance(3600)
        entry = self.fetch(html_body("1.0", "2.0"))
        self.assertEqual(seen(entry), {"demo-1.0.tar.gz": T0, "demo-2.0.tar.gz": T1})

    def test_kept_on_revalidation(self) -> None:
        """
        A page the upstream confirms unchanged (304) keeps its times, in
        memory and in the record, which records the new fetch time.
        """
        self.fetch(html_body("1.0"))
        self.clock.advance(3600)
        entry = self.fetch(b"", code=304)
        self.assertEqual(seen(entry), {"demo-1.0.tar.gz": T0})
        self.assertEqual(self.stored().first_seen, {"demo-1.0.tar.gz": T0})
        self.assertEqual(self.stored().fetched_at, START + 3600)

    def test_not_rendered(self) -> None:
        """
        The pages served (JSON and HTML) say nothing of first-seen times.
        """
        entry = self.fetch(html_body("1.0"))
        for as_json in (True, False):
            body = entry.rendition(as_json).body
            self.assertNotIn(T0.encode(), body)
            self.assertNotIn(b"first", body)

    def test_logged_once_per_page(self) -> None:
        """
        One line per fetched page says how many files were first seen at
        that fetch; a page with none new logs nothing.
        """
        with capturedLogs() as events:
            self.fetch(html_body("1.0", "2.0"))
            self.clock.advance(3600)
            self.fetch(html_body("1.0", "2.0", "3.0"))
            self.clock.advance(3600)
            self.fetch(html_body("1.0", "2.0", "3.0") + b" ")
        lines = [formatEvent(e) for e in events if "upload time" in formatEvent(e)]
        self.assertEqual(len(lines), 2)
        self.assertIn("demo lists 2 new file(s)", lines[0])
        self.assertIn("demo lists 1 new file(s)", lines[1])

    def test_flagged_for_status(self) -> None:
        """
        An index whose pages list files without upload times is flagged as
        giving ages from first sight, in the cache and its stats.
        """
        self.assertFalse(self.cache.ages_from_first_sight)
        self.fetch(html_body("1.0"))
        self.assertTrue(self.cache.ages_from_first_sight)
        self.assertTrue(self.stats.upstream(INDEX.name).undated)


class SpilledFirstSeenTests(FirstSeenTests):
    """
    The same for pages kept rendered on disk (too big for memory): the
    work, per file, runs in the runner.
    """

    def make_cache(self, **kwargs: Any) -> PageCache:
        """
        A cache that keeps every page on disk, its heavy work counted.
        """
        self.counted = Counted(self)
        return super().make_cache(run=self.counted.run, spill_bytes=0, **kwargs)

    def tearDown(self) -> None:
        """
        Nothing was parsed or rendered on the reactor.
        """
        self.assertEqual(self.counted.outside, [])

    def test_dated_record_not_read_back(self) -> None:
        """
        A new version of a page kept on disk whose record keeps no
        first-seen times does not read the old record back (it could be
        big); one whose record keeps times does.
        """
        store = self.cache.store
        loads: list[str] = []
        real = store.load

        def load(index: str, key: str) -> StoredPage | None:
            loads.append(key)
            return real(index, key)

        self.patch(store, "load", load)
        json_type = "application/vnd.pypi.simple.v1+json"
        self.fetch(dated_body("1.0"), json_type, load=False)
        self.clock.advance(3600)
        self.fetch(dated_body("1.0", "2.0"), json_type, load=False)
        self.assertEqual(loads, ["demo"])  # the cache's first look
        self.clock.advance(3600)
        self.fetch(html_body("1.0"), load=False)
        self.clock.advance(3600)
        del loads[:]
        self.fetch(html_body("1.0", "2.0"), load=False)
        self.assertEqual(loads, ["demo"])


#: Where the fake upstream's ``demo`` 2.0 wheel is kept (the catalog's key).
WHEEL_KEY = "http/upstream.test/packages/demo-2.0-py3-none-any.whl"


def wheels_body(*versions: str) -> bytes:
    """
    An HTML-only page for ``demo`` (no upload times, no core metadata) with
    one wheel a version.
    """
    anchors = "".join(
        f'<a href="../../packages/demo-{v}-py3-none-any.whl#sha256={"ab" * 32}">'
        f"demo-{v}-py3-none-any.whl</a>"
        for v in versions
    )
    return f"<!DOCTYPE html><html><body>{anchors}</body></html>".encode()


class AdvertisedFirstSeenTests(SynchronousTestCase):
    """
    :meth:`PageRecords.entry <twisted_pypi.sources.pagerecords.PageRecords.entry>`
    is the one place a page's entry is made: first-seen times and the core
    metadata the proxy advertises together, in the runner, also when the
    entry is built again because what it advertises is out of date.
    """

    spill_bytes = SPILL_BYTES

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(START)
        self.client = FakeClient()
        self.root = FilePath(self.mktemp())
        self.catalog = MetadataCatalog(
            LocalRecords(FilePath(self.mktemp()), CATALOG_SUFFIX)
        )
        support = RangeSupport()
        support.learn("http://upstream.test/", True)
        self.advertiser = MetadataAdvertiser(self.catalog, support)
        self.counted = Counted(self)
        self.outside: list[str] = []
        real = self.catalog.files

        def files(*args: Any) -> Any:
            if not self.counted.inside:
                self.outside.append("catalog")
            return real(*args)

        self.patch(self.catalog, "files", files)
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        self.cache = PageCache(
            INDEX,
            config,
            self.client,
            self.clock,
            PageStore.on_disk(self.root),
            run=self.counted.run,
            spill_bytes=self.spill_bytes,
            advertiser=self.advertiser,
        )

    def tearDown(self) -> None:
        """
        Nothing was parsed, rendered or enriched (the catalog read) on the
        reactor.
        """
        self.assertEqual(self.counted.outside + self.outside, [])

    def files(self, entry: PageEntry) -> list[tuple[str | None, object, bool]]:
        """
        Each file's first-seen time, advertised core metadata and whether it
        is the proxy's, from the loaded entry.
        """
        page = self.successResultOf(entry.loaded()).page
        assert isinstance(page, ProjectPage)
        return [
            (f.first_seen, f.core_metadata, f.synthesized_metadata) for f in page.files
        ]

    def served(self, entry: PageEntry) -> list[object]:
        """The ``core-metadata`` of each file of the JSON page served."""
        kept = entry.on_disk(True)
        body = (
            FilePath(kept.path).getContent()
            if kept is not None
            else entry.rendition(True).body
        )
        return [f.get("core-metadata") for f in json.loads(body)["files"]]

    def test_first_seen_and_advertised(self) -> None:
        """
        A page's wheels get both their first-seen time and the core
        metadata the proxy advertises; built again when the catalog learns a
        hash, the page keeps those times (its record unchanged) and
        advertises the hash, without asking the upstream.
        """
        d = self.cache.get_project("demo")
        self.client.answer(
            0, page_response(wheels_body("1.0", "2.0"), content_type=HTML)
        )
        entry = self.successResultOf(d).entry
        self.assertEqual(self.files(entry), [(T0, True, True), (T0, True, True)])
        self.assertEqual(self.served(entry), [True, True])
        hashed = Synthesized("cd" * 32, EXTRACTED, 10)
        self.catalog.put(INDEX.name, "demo", WHEEL_KEY, hashed)
        self.clock.advance(10)
        again = self.successResultOf(self.cache.get_project("demo")).entry
        self.assertIsNot(again, entry)
        self.assertEqual(
            self.files(again),
            [(T0, True, True), (T0, {"sha256": "cd" * 32}, True)],
        )
        self.assertEqual(self.served(again), [True, {"sha256": "cd" * 32}])
        stored = PageStore.on_disk(self.root).load(INDEX.name, "demo")
        assert stored is not None
        self.assertEqual(set(stored.first_seen.values()), {T0})
        self.assertEqual(len(self.client.calls), 1)


class SpilledAdvertisedFirstSeenTests(AdvertisedFirstSeenTests):
    """
    The same for a page kept rendered on disk.
    """

    spill_bytes = 0
