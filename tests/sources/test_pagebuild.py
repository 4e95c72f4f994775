"""
Tests for :mod:`twisted_pypi.sources.pagebuild`: pages too big for memory
kept rendered on disk by the page cache, and what a parsed page weighs.
"""

from __future__ import annotations

import gc
import gzip
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import FakeClient, page_response
from tests.sources.test_remote import INDEX, page_body
from twisted_pypi.core import lookup
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.lookup import PageEntry, PageNotLoaded
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.sources import pagebuild
from twisted_pypi.sources.pagebuild import (
    KEEP_LOADED,
    PARSED_FILE_BYTES,
    PARSED_NAME_BYTES,
    weigh,
)
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.storage.pagestore import PageStore


class Counted:
    """
    Counts the calls of the heavy functions (parsing, rendering) and checks
    each runs inside the runner.

    :ivar calls: The name of each call, in order.
    :ivar outside: Calls made outside the runner (on the reactor).
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        self.calls: list[str] = []
        self.outside: list[str] = []
        self._inside = False
        for name in ("parse_project_page", "parse_project_list", "render_page"):
            real = getattr(pagebuild, name)
            case.patch(pagebuild, name, self._wrap(name, real))

    def _wrap(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if not self._inside:
                self.outside.append(name)
            return real(*args, **kwargs)

        return counted

    @property
    def inside(self) -> bool:
        """Whether the runner is running work now."""
        return self._inside

    def run(self, work: Callable[[], Any]) -> Deferred[Any]:
        """A runner that marks the time spent in it."""
        self._inside = True
        try:
            return succeed(work())
        finally:
            self._inside = False


class SpillTests(SynchronousTestCase):
    """
    A page weighing more than the spill threshold is rendered once, kept on
    disk, and not kept parsed in memory.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1000)
        self.client = FakeClient()
        self.root = FilePath(self.mktemp())
        self.counted = Counted(self)
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        self.cache = PageCache(
            INDEX,
            config,
            self.client,
            self.clock,
            PageStore.on_disk(self.root),
            run=self.counted.run,
            spill_bytes=0,
        )

    def fetch(self) -> PageEntry:
        """Ask for ``demo`` and answer the upstream."""
        d = self.cache.get_project("demo")
        self.client.answer(0, page_response(page_body("1.0", "2.0")))
        return self.successResultOf(d).entry

    def test_rendered_once(self) -> None:
        """
        The first request parses the page and renders both forms once; the
        second and third neither parse nor render, and the entry in memory
        holds no parsed page.
        """
        entry = self.fetch()
        self.assertEqual(
            self.counted.calls, ["parse_project_page", "render_page", "render_page"]
        )
        for _ in range(2):
            again = self.successResultOf(self.cache.get_project("demo")).entry
            self.assertIs(again, entry)
        self.assertEqual(len(self.counted.calls), 3)
        self.assertFalse(entry.is_loaded)
        self.assertRaises(PageNotLoaded, lambda: entry.page)
        self.assertEqual(self.counted.outside, [])

    def test_files_hold_renditions(self) -> None:
        """
        The files hold the representations as they would be rendered in
        memory, plain and gzipped, under the ETags they are sent with.
        """
        entry = self.fetch()
        full = self.successResultOf(entry.loaded())
        for as_json in (True, False):
            kept = entry.on_disk(as_json)
            assert kept is not None
            made = full.rendition(as_json)
            self.assertEqual(FilePath(kept.path).getContent(), made.body)
            self.assertEqual(
                gzip.decompress(FilePath(kept.gzip_path).getContent()), made.body
            )
            self.assertEqual(kept.etag, made.etag)

    def test_loaded_through_runner(self) -> None:
        """
        The page of a spilled entry is parsed again, in the runner, when it
        is wanted (for its files), and shared while it is held.
        """
        entry = self.fetch()
        full = self.successResultOf(entry.loaded())
        assert isinstance(full.page, ProjectPage)
        self.assertEqual(len(full.page.files), 2)
        self.assertIs(self.successResultOf(entry.loaded()), full)
        self.assertEqual(self.counted.calls.count("parse_project_page"), 2)
        cached = self.successResultOf(self.cache.cached_project("demo"))
        assert cached is not None
        self.assertIs(cached, full)
        self.assertEqual(self.counted.outside, [])

    def test_loaded_page_held_a_while(self) -> None:
        """
        A spilled page read again for its files stays parsed for
        ``KEEP_LOADED`` seconds even when nothing else holds it (the file
        requests of one install parse it once), and is let go after.
        """
        entry = self.fetch()
        self.assertIsNot(self.successResultOf(entry.loaded()), None)
        gc.collect()
        self.successResultOf(entry.loaded())
        self.assertEqual(self.counted.calls.count("parse_project_page"), 2)
        self.clock.advance(KEEP_LOADED)
        gc.collect()
        self.successResultOf(entry.loaded())
        self.assertEqual(self.counted.calls.count("parse_project_page"), 3)
        self.assertEqual(self.counted.outside, [])

    def test_files_indexed_in_runner(self) -> None:
        """
        A page's files are indexed by their proxy paths in the runner: when
        a page kept in memory is made, and when a page kept on disk is read
        again; a file request on the reactor only looks the index up.
        """
        inside: list[bool] = []
        real = lookup.files_by_path

        def counted(*args: Any) -> lookup.FileIndex:
            inside.append(self.counted.inside)
            return real(*args)

        self.patch(lookup, "files_by_path", counted)
        self.patch(pagebuild, "files_by_path", counted)
        full = self.successResultOf(self.fetch().loaded())
        self.assertIsNone(full.file_at(("pypi", "https", "nowhere")))
        self.assertEqual(inside, [True])
        in_memory = PageCache(
            INDEX,
            ProxyConfig(indexes=(INDEX,)),
            self.client,
            self.clock,
            PageStore.on_disk(FilePath(self.mktemp())),
            run=self.counted.run,
        )
        d = in_memory.get_project("other")
        self.client.answer(1, page_response(page_body("1.0")))
        entry = self.successResultOf(d).entry
        self.assertTrue(entry.is_loaded)
        self.assertIsNone(entry.file_at(("pypi", "https", "nowhere")))
        self.assertEqual(inside, [True, True])

    def test_new_version_replaces_files(self) -> None:
        """
        A new version of the page replaces the files of the old one.
        """
        first = self.fetch()
        self.clock.advance(INDEX.ttl + 1)
        d = self.cache.get_project("demo")
        self.client.answer(1, page_response(page_body("3.0")))
        second = self.successResultOf(d).entry
        old, new = first.on_disk(True), second.on_disk(True)
        assert old is not None and new is not None
        self.assertNotEqual(old.path, new.path)
        self.assertFalse(FilePath(old.path).exists())
        self.assertTrue(FilePath(new.path).exists())

    def test_invalidate_removes_files(self) -> None:
        """
        Forgetting the page deletes its files too.
        """
        kept = self.fetch().on_disk(False)
        assert kept is not None
        self.cache.invalidate("demo")
        self.assertFalse(FilePath(kept.path).exists())
        self.assertFalse(FilePath(kept.gzip_path).exists())


class WeighTests(SynchronousTestCase):
    """
    What a parsed page is reckoned to take in memory.
    """

    def test_page(self) -> None:
        """
        A project page weighs its files and twice its body.
        """
        files = tuple(
            DistFile(f"a-{n}.tar.gz", f"https://h/a-{n}.tar.gz") for n in "12"
        )
        page = ProjectPage("a", files)
        self.assertEqual(weigh(page, 100), 2 * PARSED_FILE_BYTES + 200)

    def test_list(self) -> None:
        """
        A project list weighs its names and twice its body.
        """
        self.assertEqual(
            weigh(ProjectList(("a", "b", "c")), 10), 3 * PARSED_NAME_BYTES + 20
        )
