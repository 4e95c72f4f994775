"""
Tests for ``pypiproxy warm``: the start-up race on
``tmp/`` between processes sharing a cache, and warming against a fake index
on 127.0.0.1 (:mod:`twisted_pypi.mirror.warm`, :mod:`twisted_pypi.mirror.fetcher`)
with collaborators built here; the command and its options are tested in
``tests/app/test_warmcli.py``, the requirements-file parser in
``tests/mirror/test_reqfile.py``.
"""

from __future__ import annotations

import os
import time
from typing import Any, cast

from packaging.requirements import Requirement
from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThreadPool
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import FakeResponse
from tests.resolve.test_resolver import LoopbackIndex
from tests.wheels import build_sdist, build_wheel, renamed_sdist
from twisted_pypi.app.metacompose import core_metadata
from twisted_pypi.core.config import IndexConfig, ProxyConfig, index_name_for
from twisted_pypi.core.links import RELATIVE, local_segments, metadata_segments
from twisted_pypi.files.download import Downloads, FileSpec
from twisted_pypi.mirror.fetcher import CacheFiller
from twisted_pypi.mirror.warm import warm
from twisted_pypi.resolve.target import Target
from twisted_pypi.sources.dummies import Dummies
from twisted_pypi.sources.remote import PageCache, PageStore
from twisted_pypi.sources.router import Router
from twisted_pypi.storage.filecache import STALE_TEMP_AGE, FileCache
from twisted_pypi.upstream.stream import streaming


class TempRaceTests(SynchronousTestCase):
    """
    A process starting on a cache directory (its :meth:`FileCache.scan`)
    while another one downloads into the same directory.
    """

    def test_scan_keeps_fresh_temps(self) -> None:
        """
        Scanning deletes partial downloads untouched for longer than
        :data:`STALE_TEMP_AGE` and keeps younger ones.
        """
        root = FilePath(self.mktemp())
        tmp = root.child("tmp")
        tmp.makedirs()
        tmp.child("dl-old.part").setContent(b"dead")
        old = time.time() - STALE_TEMP_AGE - 5
        os.utime(tmp.child("dl-old.part").path, (old, old))
        tmp.child("dl-new.part").setContent(b"alive")
        FileCache(root, None, Clock()).scan()
        self.assertEqual([c.basename() for c in tmp.children()], ["dl-new.part"])

    def test_download_survives_other_scan(self) -> None:
        """
        A download in flight in one process (here: one file cache) is
        committed even when another process starts on the same directory
        meanwhile; the other sees the file at once.
        """
        root = FilePath(self.mktemp())
        clock = Clock()
        warming = FileCache(root, None, clock)
        body = b"x" * 1000
        response = FakeResponse(length=len(body))
        downloads = Downloads(warming, streaming(lambda url: _fired(response)), clock)
        spec = FileSpec("https://h/x-1.0.tar.gz", ("i", "https", "h", "x-1.0.tar.gz"))
        download = downloads.start_or_join(spec)
        response.write(body[:400])
        proxy = FileCache(root, None, clock)
        proxy.scan()
        self.assertEqual(len(list(root.child("tmp").children())), 1)
        response.write(body[400:])
        response.finish()
        self.assertTrue(download.complete)
        path = proxy.lookup(spec.segments)
        assert path is not None
        self.assertEqual(path.getContent(), body)
        self.assertEqual(root.child("tmp").children(), [])

    def test_commit_after_prune(self) -> None:
        """
        A commit still succeeds when another process removed the file's
        (empty) directory between its creation and the rename.
        """
        root = FilePath(self.mktemp())
        cache = FileCache(root, None, Clock())
        spool = cache.open_spool()
        spool.write(b"data")
        segments = ("i", "https", "h", "p", "x-1.0.tar.gz")
        real_replace = os.replace
        calls: list[str] = []

        def pruned_first(source: str, target: str) -> None:
            """Rename, removing the target's directory the first time."""
            if not calls:
                os.rmdir(os.path.dirname(target))
            calls.append(target)
            real_replace(source, target)

        self.patch(os, "replace", pruned_first)
        self.successResultOf(cache.commit(spool, segments))
        self.assertEqual(cache.path_for(segments).getContent(), b"data")
        self.assertEqual(len(calls), 2)


def _fired(response: FakeResponse) -> Deferred[IResponse]:
    """A Deferred that has ``response`` (which stands in for an IResponse)."""
    d: Deferred[IResponse] = Deferred()
    d.callback(cast(IResponse, response))
    return d


#: app → dep-linux on Linux, dep-win on Windows, and buildme (an sdist only,
#: built with an in-tree backend that needs nothing).
APP = build_wheel(
    "app",
    "1.0",
    requires=[
        "dep-linux; sys_platform == 'linux'",
        "dep-win; sys_platform == 'win32'",
        "buildme",
    ],
)
DEP_LINUX = build_wheel("dep-linux", "1.0")
DEP_WIN = build_wheel("dep-win", "1.0")
BUILDME = build_sdist(
    "buildme", "1.0", metadata_version="2.2", buildable=True, build_requires=["tool"]
)
TOOL = build_wheel("tool", "2.0")
#: An old release only as a legacy sdist whose name packaging's parser
#: refuses (``.tar.bz2``, ``1.0-rc1``), and another project's file on its page.
OLDIE = renamed_sdist(
    build_sdist("oldie", "1.0rc1", metadata_version="2.2", buildable=True),
    "oldie-1.0-rc1.tar.bz2",
)
STRAY = build_wheel("stray", "1.0")
LINUX, WINDOWS = "manylinux_2_17_x86_64", "win_amd64"


class WarmTests(TestCase):
    """
    :func:`warm` with a :class:`CacheFiller` over a fake index on 127.0.0.1,
    both built from their parts here.
    """

    def setUp(self) -> None:
        """
        Serve app, its dependencies and a build tool from a fake index, and
        build the filler over an empty cache.
        """
        index = FakeIndex(mode="json")
        for wheel in (APP, DEP_LINUX, DEP_WIN, BUILDME, TOOL):
            index.add(wheel.filename.split("-")[0].replace("_", "-"), FakeFile(wheel))
        index.add("oldie", FakeFile(OLDIE), FakeFile(STRAY))
        self.index = index
        self.upstream = LoopbackIndex(index)
        self.addCleanup(self.upstream.stop)
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        agent = Agent(reactor, pool=pool)
        url = self.upstream.url
        self.config = ProxyConfig(indexes=(IndexConfig(index_name_for(url), url),))
        self.cache = FileCache(FilePath(self.mktemp()), None, reactor)
        store = PageStore.on_disk(self.cache.root.child("pages"))
        pages = [
            PageCache(i, self.config, HTTPClient(agent), reactor, store)
            for i in self.config.indexes
        ]

        def fetch(url: str, method: bytes = b"GET") -> Deferred[IResponse]:
            """GET a file over the pool."""
            d: Deferred[IResponse] = agent.request(method, url.encode("ascii"))
            return d

        self.said: list[str] = []
        threads: Any = reactor
        indexes = Router(pages, {}, frozenset(), RELATIVE)
        dummies = Dummies(self.config.dummies, indexes.get_project, RELATIVE)
        self.filler = CacheFiller(
            self.cache,
            pages,
            [],
            indexes.with_first(dummies),
            Downloads(self.cache, streaming(fetch), reactor),
            lambda work: deferToThreadPool(threads, threads.getThreadPool(), work),
            self.said.append,
            concurrency=2,
        )

    def cached(self, filename: str) -> bool:
        """
        Whether the cache holds the fake index's file ``filename``.
        """
        url = self.upstream.url.replace("/simple/", "/packages/") + filename
        segments = local_segments(index_name_for(self.upstream.url), url)
        assert segments is not None
        return self.cache.lookup(segments) is not None

    async def warm(self, *requirements: str) -> int:
        """
        Warm ``requirements`` for Linux and Windows.
        """
        return await warm(
            self.filler,
            reactor,
            tuple(Requirement(r) for r in requirements),
            (Target.create(None, LINUX), Target.create(None, WINDOWS)),
            self.said.append,
        )

    async def test_every_target(self) -> None:
        """
        The files of every target's resolution are cached, with what
        building the sdist needs, and the summary is told.
        """
        self.assertEqual(await self.warm("app"), 0, self.said)
        for wheel in (APP, DEP_LINUX, DEP_WIN, BUILDME, TOOL):
            self.assertTrue(self.cached(wheel.filename), wheel.filename)
        summary = [line for line in self.said if line.startswith("warmed ")]
        self.assertEqual(len(summary), 1, self.said)
        self.assertTrue(
            summary[0].startswith("warmed 5 projects for 2 targets: 10 files fetched"),
            summary,
        )

    async def test_legacy_sdist(self) -> None:
        """
        A pinned release whose only file is a legacy sdist (``.tar.bz2``, a
        version packaging's filename parser refuses) is resolved and cached.
        """
        self.assertEqual(await self.warm("oldie==1.0rc1"), 0, self.said)
        self.assertTrue(self.cached(OLDIE.filename))
        self.assertFalse(self.cached(STRAY.filename))

    async def test_problems(self) -> None:
        """
        What cannot be resolved is told as a problem, with the target, and
        the exit code is 1.
        """
        self.assertEqual(await self.warm("app", "nope>=1"), 1)
        self.assertIn("pypiproxy warm: could not warm everything:", self.said)
        self.assertTrue(
            any(
                line.startswith("  - CPython") and "nope" in line for line in self.said
            ),
            self.said,
        )


class WarmSynthesizedTests(TestCase):
    """
    :func:`warm` against an index offering no PEP 658 metadata, with the
    proxy's core metadata wired as in ``pypiproxy warm``.
    """

    def setUp(self) -> None:
        """
        Serve app and its dependencies, without metadata, from a fake index
        that ignores ranges.
        """
        index = FakeIndex(mode="json", metadata=False)
        for wheel in (APP, DEP_LINUX, DEP_WIN, BUILDME, TOOL):
            index.add(wheel.filename.split("-")[0].replace("_", "-"), FakeFile(wheel))
        self.index = index
        self.upstream = LoopbackIndex(index)
        self.addCleanup(self.upstream.stop)
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        agent = Agent(reactor, pool=pool)
        url = self.upstream.url
        config = ProxyConfig(
            indexes=(IndexConfig(index_name_for(url), url),),
            cache_dir=self.mktemp(),
        )
        self.cache = FileCache(FilePath(config.cache_dir), None, reactor)

        def fetch(
            url: str, method: bytes = b"GET", extra: Any = None
        ) -> Deferred[IResponse]:
            """Request a file over the pool."""
            headers = Headers({k: [v] for k, v in (extra or {}).items()})
            d: Deferred[IResponse] = agent.request(method, url.encode("ascii"), headers)
            return d

        threads: Any = reactor

        def run(work: Any) -> Deferred[Any]:
            return deferToThreadPool(threads, threads.getThreadPool(), work)

        downloads = Downloads(self.cache, streaming(fetch), reactor)
        self.parts = core_metadata(config, self.cache, fetch, reactor, run, downloads)
        store = PageStore.on_disk(self.cache.root.child("pages"))
        pages = [
            PageCache(
                i,
                config,
                HTTPClient(agent),
                reactor,
                store,
                run=run,
                advertiser=self.parts.advertiser,
            )
            for i in config.indexes
        ]
        self.said: list[str] = []
        indexes = Router(pages, {}, frozenset(), RELATIVE)
        self.filler = CacheFiller(
            self.cache, pages, [], indexes, downloads, run, self.said.append,
            synthesized=self.parts.files,
        )  # fmt: skip

    def metadata_of(self, filename: str) -> bytes | None:
        """The ``.metadata`` the cache keeps for a file of the fake index."""
        url = self.upstream.url.replace("/simple/", "/packages/") + filename
        segments = local_segments(index_name_for(self.upstream.url), url)
        assert segments is not None
        path = self.cache.lookup(metadata_segments(segments))
        return path.getContent() if path is not None else None

    async def test_metadata_cached(self) -> None:
        """
        Every wheel warmed has its ``.metadata`` in the cache, exactly its
        ``METADATA``, read from the wheel (never asked of the upstream); a
        wheel cached without it gets it when warmed again.
        """
        target = (Target.create(None, LINUX),)
        code = await warm(
            self.filler, reactor, (Requirement("app"),), target, self.said.append
        )
        self.assertEqual(code, 0, self.said)
        for wheel in (APP, DEP_LINUX, TOOL):
            self.assertEqual(self.metadata_of(wheel.filename), wheel.metadata)
        asked = [p for _, p in self.index.requests if p.endswith(".metadata")]
        self.assertEqual(asked, [])
        url = self.upstream.url.replace("/simple/", "/packages/") + APP.filename
        segments = local_segments(index_name_for(self.upstream.url), url)
        assert segments is not None
        self.cache.remove(metadata_segments(segments))
        code = await warm(
            self.filler, reactor, (Requirement("app"),), target, self.said.append
        )
        self.assertEqual(code, 0, self.said)
        self.assertEqual(self.metadata_of(APP.filename), APP.metadata)
