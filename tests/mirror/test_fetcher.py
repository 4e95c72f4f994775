"""
Tests for :mod:`twisted_pypi.mirror.fetcher`: :class:`CacheFiller` locating
and fetching listed files into the cache, in memory, in front of a fake
index (the whole ``warm`` over a real socket is in
``tests/mirror/test_warm.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from attrs import evolve
from twisted.internet.defer import Deferred, succeed
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy
from tests.mirror.test_export import _store
from tests.storage.fakes3 import FakeS3
from tests.wheels import build_wheel
from twisted_pypi.core.links import RELATIVE
from twisted_pypi.core.lookup import Lookup
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.files.spec import FileSpec
from twisted_pypi.mirror.fetcher import CacheFiller
from twisted_pypi.mirror.places import FetchFailed
from twisted_pypi.sources.router import Router

T = TypeVar("T")

#: The file the fake index lists.
WHEEL = build_wheel("demo", "1.0", padding=2000)


def _at_once(work: Callable[[], Any]) -> Deferred[Any]:
    """
    Run blocking work at once, on this thread.
    """
    return succeed(work())


class _Filling(SynchronousTestCase):
    """
    Helpers for tests of a filler over a :class:`MemoryProxy`.
    """

    proxy: MemoryProxy
    filler: CacheFiller

    def run_now(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """
        Run ``coroutine``, moving bytes until it is done, and give its
        result.
        """
        d = Deferred.fromCoroutine(coroutine)
        self.proxy.flush()
        result: T = self.successResultOf(d)
        return result

    def listed(self) -> DistFile:
        """
        The file the page of ``demo`` lists, fetched through the filler.
        """
        d = self.filler.page("demo")
        self.proxy.flush()
        lookup = self.successResultOf(d)
        assert isinstance(lookup, Lookup) and lookup.entry is not None
        page = lookup.entry.page
        assert isinstance(page, ProjectPage)
        (dist,) = page.files
        return dist


class CacheFillerTests(_Filling):
    """
    ``CacheFiller`` finds where a listed file belongs in the cache and
    downloads it there once, counting what it fetched and what was cached.
    """

    def setUp(self) -> None:
        """
        A fake index listing ``demo`` 1.0, the proxy's parts in memory in
        front of it, and a filler over those parts.
        """
        index = FakeIndex()
        index.add("demo", FakeFile(WHEEL))
        self.proxy = MemoryProxy(index, FilePath(self.mktemp()))
        self.said: list[str] = []
        router = Router(self.proxy.all_pages, {}, frozenset(), RELATIVE)
        self.filler = CacheFiller(
            self.proxy.cache,
            self.proxy.all_pages,
            [],
            router,
            self.proxy.downloads,
            _at_once,
            self.said.append,
        )

    def test_fetch(self) -> None:
        """
        A listed file is located in the cache's place for its index,
        downloaded there, counted as fetched and told.
        """
        dist = self.listed()
        place = self.run_now(self.filler.locate(dist))
        assert isinstance(place, tuple)
        self.assertEqual(place[0], self.proxy.index_name)
        self.assertEqual(place[-1], WHEEL.filename)
        key = self.run_now(self.filler.fetch(FileSpec.of_file(dist, place)))
        self.assertEqual(key, place)
        path = self.proxy.cache.lookup(place)
        assert path is not None
        self.assertEqual(path.getContent(), WHEEL.content)
        self.assertEqual((self.filler.fetched, self.filler.cached), (1, 0))
        self.assertEqual(self.filler.fetched_bytes, len(WHEEL.content))
        self.assertEqual(len(self.said), 1)
        self.assertTrue(self.said[0].startswith(f"fetched {WHEEL.filename} ("))

    def test_cached(self) -> None:
        """
        A file the cache holds already is not downloaded again; it is
        counted once as cached, however often it is asked for.
        """
        dist = self.listed()
        place = self.run_now(self.filler.locate(dist))
        assert isinstance(place, tuple)
        self.run_now(self.filler.fetch(FileSpec.of_file(dist, place)))
        other = CacheFiller(
            self.proxy.cache,
            self.proxy.all_pages,
            [],
            Router(self.proxy.all_pages, {}, frozenset(), RELATIVE),
            self.proxy.downloads,
            _at_once,
            self.said.append,
        )
        for _ in range(2):
            key = self.run_now(other.fetch(FileSpec.of_file(dist, place)))
            content = self.run_now(other.read_with(key, FilePath.getContent))
            self.assertEqual(content, WHEEL.content)
        self.assertEqual((other.fetched, other.cached), (0, 1))
        self.assertEqual(
            other.describe_totals(), "0 files fetched (0 B), 1 already cached"
        )

    def test_unlisted(self) -> None:
        """
        A file no cached page lists has no place.
        """
        dist = self.listed()
        stranger = DistFile(
            filename="demo-9.0-py3-none-any.whl",
            url=dist.url.replace("demo-1.0", "demo-9.0"),
        )
        self.assertIsNone(self.run_now(self.filler.locate(stranger)))

    def test_fetch_failed(self) -> None:
        """
        A file the index does not have fails with :class:`FetchFailed`
        naming its URL, and is not counted.
        """
        dist = self.listed()
        place = self.run_now(self.filler.locate(dist))
        assert isinstance(place, tuple)
        missing = DistFile(
            filename="demo-9.0-py3-none-any.whl",
            url=dist.url.replace("demo-1.0", "demo-9.0"),
        )
        d = Deferred.fromCoroutine(
            self.filler.fetch(
                FileSpec.of_file(missing, (*place[:-1], missing.filename))
            )
        )
        self.proxy.flush()
        failure = self.failureResultOf(d, FetchFailed)
        self.assertIn(missing.url, str(failure.value))
        self.assertEqual(self.filler.fetched, 0)

    def test_metadata(self) -> None:
        """
        The resolver's metadata source gives a listed wheel's core metadata
        from its ``.metadata``, fetched into the cache beside the file's
        place; the wheel itself is not downloaded.
        """
        dist = self.listed()
        self.assertTrue(dist.core_metadata)
        data = self.run_now(self.filler.metadata.metadata(dist))
        self.assertEqual(data, WHEEL.metadata)
        place = self.run_now(self.filler.locate(dist))
        assert isinstance(place, tuple)
        spec = FileSpec.of_metadata(dist, place)
        self.assertIsNotNone(self.proxy.cache.lookup(spec.segments))
        self.assertIsNone(self.proxy.cache.lookup(place))


class StoreFillerTests(_Filling):
    """
    ``CacheFiller`` on a shared store: a file another node put in the store
    is not downloaded again by a node whose disk lacks it.
    """

    def setUp(self) -> None:
        """
        Node A caches ``demo``'s wheel and ``.metadata`` in the store; node
        B, with an empty disk on the same store, gets a filler.
        """
        self.s3 = FakeS3()
        self.index = index = FakeIndex()
        index.add("demo", FakeFile(WHEEL))
        first = FilePath(self.mktemp())
        node_a = MemoryProxy(index, first, cache=_store(self.s3, first))
        for path in (
            "/simple/demo/",
            node_a.file_path(WHEEL.filename),
            node_a.file_path(WHEEL.filename + ".metadata"),
        ):
            self.assertEqual(node_a.get(path).code, 200, path)
        second = FilePath(self.mktemp())
        self.store = _store(self.s3, second)
        self.proxy = node_b = MemoryProxy(index, second, cache=self.store)
        router = Router(node_b.all_pages, {}, frozenset(), RELATIVE)
        self.filler = CacheFiller(
            self.store,
            node_b.all_pages,
            [],
            router,
            node_b.downloads,
            _at_once,
            lambda _: None,
        )

    def downloads(self) -> int:
        """How many times the upstream was asked for the wheel."""
        return sum(
            1 for _, path in self.index.requests if path.endswith(WHEEL.filename)
        )

    def test_stored_not_fetched(self) -> None:
        """
        The wheel is counted as cached, not downloaded, and its bytes are
        read through the store.
        """
        dist = self.listed()
        place = self.run_now(self.filler.locate(dist))
        assert isinstance(place, tuple)
        self.assertIsNone(self.store.lookup(place))
        key = self.run_now(self.filler.fetch(FileSpec.of_file(dist, place)))
        self.assertEqual((self.filler.fetched, self.filler.cached), (0, 1))
        self.assertEqual(self.downloads(), 1)
        content = self.run_now(self.filler.read_with(key, FilePath.getContent))
        self.assertEqual(content, WHEEL.content)

    def test_metadata_from_stored_wheel(self) -> None:
        """
        The core metadata of a wheel whose index offers no ``.metadata`` is
        read from the wheel in the store, with no download.
        """
        dist = self.listed()
        bare = evolve(dist, core_metadata=None)
        data = self.run_now(self.filler.metadata.metadata(bare))
        self.assertEqual(data, WHEEL.metadata)
        self.assertEqual(self.downloads(), 1)
        self.assertEqual(self.filler.fetched, 0)
