"""
Tests for :mod:`twisted_pypi.mirror.fetcher`: :class:`CacheFiller` locating
and fetching listed files into the cache, in memory, in front of a fake
index (the whole ``warm`` over a real socket is in
``tests/mirror/test_warm.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy
from tests.wheels import build_wheel
from twisted_pypi.core.links import RELATIVE
from twisted_pypi.core.lookup import Lookup
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.mirror.fetcher import (
    CacheFiller,
    FetchFailed,
    file_spec,
    metadata_spec,
)
from twisted_pypi.sources.router import Router

T = TypeVar("T")

#: The file the fake index lists.
WHEEL = build_wheel("demo", "1.0", padding=2000)


def _at_once(work: Callable[[], Any]) -> Deferred[Any]:
    """
    Run blocking work at once, on this thread.
    """
    return succeed(work())


class CacheFillerTests(SynchronousTestCase):
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
        path = self.run_now(self.filler.fetch(file_spec(dist, place)))
        self.assertEqual(path.getContent(), WHEEL.content)
        self.assertEqual(self.proxy.cache.lookup(place), path)
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
        self.run_now(self.filler.fetch(file_spec(dist, place)))
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
            path = self.run_now(other.fetch(file_spec(dist, place)))
            self.assertEqual(path.getContent(), WHEEL.content)
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
            self.filler.fetch(file_spec(missing, (*place[:-1], missing.filename)))
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
        spec = metadata_spec(dist, place)
        self.assertIsNotNone(self.proxy.cache.lookup(spec.segments))
        self.assertIsNone(self.proxy.cache.lookup(place))
