"""
Tests for ``--offline`` (:mod:`twisted_pypi.sources.offline`): pages from the cache
alone listing only cached files, no outbound connection at all, dummies
without an upstream.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

from treq import content
from treq.testing import RequestTraversalAgent
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import Answer, MemoryProxy, result_now
from tests.runnerguard import GuardedRecords, RecordingRunner
from tests.storage.fakes3 import FakeS3
from tests.wheels import build_wheel
from twisted_pypi.app.service import ProxyService, make_service
from twisted_pypi.core.config import IndexConfig, ProxyConfig, index_name_for
from twisted_pypi.core.dummyspec import parse_dummy_spec
from twisted_pypi.core.links import local_segments, metadata_segments
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.sources.offline import OfflinePages, cached_files
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.pagestore import PageStore, StoredPage
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace

#: The upstream, at an IP address so that any attempt to reach it would be
#: a ``connectTCP`` on the reactor (no name resolution first).
URL = "http://127.0.0.1:9/simple/"
INDEX = IndexConfig(index_name_for(URL), URL, ttl=100.0)

APP_OLD = build_wheel("app", "1.0")
APP_NEW = build_wheel("app", "2.0")
APP_NEXT = build_wheel("app", "3.0")
LIB = build_wheel("lib", "1.0")

JSON = "application/vnd.pypi.simple.v1+json"


class _InlinePool:
    """
    A thread pool that runs work at once, in the calling thread.
    """

    def callInThreadWithCallback(
        self,
        onResult: Callable[[bool, object], object],
        func: Callable[..., object],
        *args: object,
        **kwargs: object,
    ) -> None:
        """
        Run ``func`` and report its result or failure.
        """
        try:
            result = func(*args, **kwargs)
        except BaseException:
            onResult(False, Failure())
        else:
            onResult(True, result)


class Reactor(MemoryReactorClock):
    """
    A memory reactor that records every connection attempt (``tcpClients``,
    ``sslClients``, ``unixClients``) and runs thread-pool work inline.
    """

    def getThreadPool(self) -> _InlinePool:
        """
        The inline pool.
        """
        return _InlinePool()

    def callFromThread(self, f: Callable[..., object], *args: Any, **kw: Any) -> None:
        """
        Call ``f`` at once.
        """
        f(*args, **kw)


def make_index() -> FakeIndex:
    """
    The upstream: app in three versions, lib in one.
    """
    index = FakeIndex(mode="json")
    index.add("app", FakeFile(APP_OLD), FakeFile(APP_NEW), FakeFile(APP_NEXT))
    index.add("lib", FakeFile(LIB))
    return index


class OfflineServiceTests(SynchronousTestCase):
    """
    The proxy built by :func:`make_service` with ``offline=True`` on a cache
    that an online proxy filled partly: app's page with app 2.0 and its
    ``.metadata``, app 1.0 without it; lib's page but none of its files.
    """

    def setUp(self) -> None:
        """
        Fill a cache through an online proxy.
        """
        self.root = FilePath(self.mktemp())
        online = MemoryProxy(make_index(), self.root, upstream=INDEX)
        for path in (
            "/simple/app/",
            "/simple/lib/",
            online.file_path(APP_NEW.filename),
            online.file_path(APP_NEW.filename + ".metadata"),
            online.file_path(APP_OLD.filename),
        ):
            self.assertEqual(online.get(path).code, 200, path)
        self.online = online
        self.fetched_at = online.clock.seconds()

    def start(
        self, offline: bool = True, age: float = 10.0, dummies: tuple[str, ...] = ()
    ) -> tuple[Reactor, ProxyService]:
        """
        Start a proxy on the cache, its pages ``age`` seconds old.
        """
        reactor = Reactor()
        reactor.advance(self.fetched_at + age)
        config = ProxyConfig(
            listen=("tcp:8080",),
            indexes=(INDEX,),
            cache_dir=self.root.path,
            offline=offline,
            dummies=tuple(parse_dummy_spec(d) for d in dummies),
        )
        service = make_service(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        self.agent = RequestTraversalAgent(service.site.resource)
        return reactor, service

    def get(self, path: str, accept: str = JSON, method: str = "GET") -> Answer:
        """
        A request to the proxy and its whole answer.
        """
        d = self.agent.request(
            method.encode(),
            ("http://proxy.test" + path).encode(),
            Headers({"accept": [accept]}),
        )
        self.agent.flush()
        response = result_now(d)
        body = content(response)
        self.agent.flush()
        return Answer(response.code, response.headers, result_now(body))

    def files(self, answer: Answer) -> dict[str, Any]:
        """
        The files a JSON page lists, by filename.
        """
        return {f["filename"]: f for f in json.loads(answer.body)["files"]}

    def test_no_outbound_connection(self) -> None:
        """
        Offline, pages, files, ``.metadata``, misses and the project list are
        all answered without a single outbound connection attempt.
        """
        reactor, _ = self.start()
        self.assertEqual(self.get("/simple/app/").code, 200)
        self.assertEqual(self.get("/simple/lib/").code, 404)
        self.assertEqual(self.get("/simple/nothing/").code, 404)
        self.assertEqual(self.get("/simple/").code, 200)
        path = self.online.file_path
        self.assertEqual(self.get(path(APP_NEW.filename)).code, 200)
        self.assertEqual(self.get(path(APP_NEW.filename + ".metadata")).code, 200)
        self.assertEqual(self.get(path(APP_NEXT.filename)).code, 404)
        self.assertEqual(self.get(path(APP_NEXT.filename), method="HEAD").code, 404)
        self.assertEqual(self.get(path(LIB.filename + ".metadata")).code, 404)
        self.assertEqual(reactor.tcpClients, [])
        self.assertEqual(reactor.sslClients, [])
        self.assertEqual(reactor.unixClients, [])

    def test_online_connects(self) -> None:
        """
        The same proxy online, asked for an uncached file, does try to
        connect (the recording reactor sees it).
        """
        reactor, _ = self.start(offline=False)
        url = "http://proxy.test" + self.online.file_path(APP_NEXT.filename)
        self.agent.request(b"GET", url.encode())
        self.agent.flush()
        self.assertEqual(
            [(host, port) for host, port, *_ in reactor.tcpClients], [("127.0.0.1", 9)]
        )

    def test_cached_files_listed(self) -> None:
        """
        A page lists only the cached files, in JSON and HTML alike;
        ``core-metadata`` is kept where the ``.metadata`` is cached and
        dropped where it is not; ``versions`` names only versions offered.
        """
        self.start()
        answer = self.get("/simple/app/")
        files = self.files(answer)
        self.assertEqual(set(files), {APP_OLD.filename, APP_NEW.filename})
        self.assertIn("core-metadata", files[APP_NEW.filename])
        self.assertNotIn("core-metadata", files[APP_OLD.filename])
        self.assertEqual(json.loads(answer.body)["versions"], ["1.0", "2.0"])
        html = self.get("/simple/app/", accept="text/html").body.decode()
        self.assertIn(APP_OLD.filename, html)
        self.assertIn(APP_NEW.filename, html)
        self.assertNotIn(APP_NEXT.filename, html)
        self.assertEqual(html.count("data-core-metadata"), 1)

    def test_cached_metadata_served(self) -> None:
        """
        A cached ``.metadata`` is served with the bytes the upstream sent.
        """
        self.start()
        answer = self.get(self.online.file_path(APP_NEW.filename + ".metadata"))
        self.assertEqual(answer.body, APP_NEW.metadata)
        self.assertEqual(answer.header("x-cache"), "HIT")

    def test_fresh_then_stale(self) -> None:
        """
        A page younger than the index TTL is a HIT; an older one is still
        served, as STALE (never refreshed).
        """
        self.start(age=10)
        self.assertEqual(self.get("/simple/app/").header("x-cache"), "HIT")
        self.start(age=1_000)
        answer = self.get("/simple/app/")
        self.assertEqual((answer.code, answer.header("x-cache")), (200, "STALE"))

    def test_new_file_appears(self) -> None:
        """
        A file committed to the cache while the proxy runs (by ``pypiproxy
        warm``) is listed from the next request on.
        """
        self.start()
        self.assertNotIn(APP_NEXT.filename, self.files(self.get("/simple/app/")))
        self.online.get(self.online.file_path(APP_NEXT.filename))
        self.assertIn(APP_NEXT.filename, self.files(self.get("/simple/app/")))

    def test_project_list(self) -> None:
        """
        The project list names the projects whose pages are cached.
        """
        self.start()
        projects = json.loads(self.get("/simple/").body)["projects"]
        self.assertEqual([p["name"] for p in projects], ["app", "lib"])

    def test_dummies(self) -> None:
        """
        An explicit dummy works with nothing cached; an "auto" dummy mirrors
        the versions of the real project's cached page, though none of its
        files is cached; neither connects anywhere.
        """
        reactor, _ = self.start(dummies=("lib", "ghost==1.0"))
        ghost = self.files(self.get("/simple/ghost/"))
        self.assertEqual(list(ghost), ["ghost-1.0-py3-none-any.whl"])
        lib = self.get("/simple/lib/")
        self.assertEqual((lib.code, lib.header("x-cache")), (200, "DUMMY"))
        self.assertEqual(list(self.files(lib)), ["lib-1.0-py3-none-any.whl"])
        wheel = self.get("/dummy/ghost/ghost-1.0-py3-none-any.whl")
        self.assertEqual(wheel.code, 200)
        self.assertEqual(reactor.tcpClients, [])

    def test_startup_log(self) -> None:
        """
        The start-up log says the proxy is offline.
        """
        with capturedLogs() as events:
            self.start()
        messages = [e.get("log_format", "") for e in events]
        self.assertTrue(any(m.startswith("Offline:") for m in messages), messages)


class CachedFilesTests(SynchronousTestCase):
    """
    :func:`cached_files`.
    """

    def test_filter(self) -> None:
        """
        Only files in the cache stay; core metadata stays only where the
        ``.metadata`` is cached; versions without a file go; the other
        fields are kept.
        """
        base = "https://files.test/packages/"
        page = ProjectPage(
            name="app",
            files=tuple(
                DistFile(
                    f"app-{v}-py3-none-any.whl",
                    base + f"app-{v}-py3-none-any.whl",
                    hashes={"sha256": v * 4},
                    core_metadata={"sha256": "m"},
                    size=10,
                )
                for v in ("1.0", "2.0", "3.0")
            ),
            versions=("1.0", "2.0", "3.0", "4.0"),
            api_version=(1, 1),
        )
        cache = FileCache(FilePath(self.mktemp()), None, MemoryReactorClock())

        def put(segments: tuple[str, ...]) -> None:
            """Put a file in the cache."""
            path = cache.path_for(segments)
            path.parent().makedirs(ignoreExistingDirectory=True)
            path.setContent(b"x")

        first, second, _ = (local_segments("i", f.url) for f in page.files)
        assert first is not None and second is not None
        put(first)
        put(metadata_segments(first))
        put(second)
        kept = cached_files(page, "i", cache)
        self.assertEqual(kept.files[:1], page.files[:1])
        self.assertEqual(len(kept.files), 2)
        self.assertEqual(kept.files[1].filename, page.files[1].filename)
        self.assertIsNone(kept.files[1].core_metadata)
        self.assertEqual(kept.files[1].hashes, {"sha256": "2.02.02.02.0"})
        self.assertEqual(kept.versions, ("1.0", "2.0"))
        self.assertEqual(kept.api_version, (1, 1))


class OfflineListTests(SynchronousTestCase):
    """
    The offline project list.
    """

    def test_listed_by_runner(self) -> None:
        """
        The projects whose pages are stored are listed by the page cache's
        runner (a shared store's listing blocks for a round trip), never on
        the reactor.
        """
        runner = RecordingRunner()
        records = GuardedRecords(LocalRecords(FilePath(self.mktemp()), ".page"), runner)
        store = PageStore(records)
        page = StoredPage(URL + "app/", b"{}", JSON, None, 0.0)
        runner(lambda: store.save(INDEX.name, "app", page))
        config = ProxyConfig(indexes=(INDEX,))
        clock = MemoryReactorClock()
        pages = PageCache(INDEX, config, cast(Any, None), clock, store, runner)
        cache = FileCache(FilePath(self.mktemp()), None, clock)
        offline = OfflinePages(pages, cache, config.links)
        listed = self.successResultOf(offline.get_list())
        assert listed.entry is not None
        self.assertEqual(
            listed.entry.page, ProjectList(names=("app",), api_version=(1, 1))
        )
        self.assertIn("keys", records.calls)


class SharedStoreFilterTests(SynchronousTestCase):
    """
    Offline on a shared store (``serve --offline --store``).
    """

    def test_store_files_listed(self) -> None:
        """
        Files the shared store holds are listed, with their core metadata,
        though this node's disk has no copy of them.
        """
        s3 = FakeS3()
        wheel = DistFile(
            "app-1.0-py3-none-any.whl",
            "https://files.test/packages/app-1.0-py3-none-any.whl",
            hashes={"sha256": "ab" * 32},
            core_metadata={"sha256": "m"},
        )
        page = ProjectPage(name="app", files=(wheel,))
        segments = local_segments("i", wheel.url)
        assert segments is not None
        place = BucketPlace("b", "")
        for key in (segments, metadata_segments(segments)):
            s3.objects["b", place.file_key(key)] = b"bytes"
        store = S3FileStore(
            cast(Any, s3), place, FilePath(self.mktemp()), None, MemoryReactorClock()
        )
        store.scan()
        self.assertEqual(cached_files(page, "i", store).files, (wheel,))


class OfflineSynthesizedTests(SynchronousTestCase):
    """
    Offline, on a cache filled through a proxy that gave every wheel core
    metadata, in front of an index offering none.
    """

    def test_advertised_where_cached(self) -> None:
        """
        The proxy's metadata is advertised, with its hash, only for the
        wheels whose ``.metadata`` is cached, and served from the cache;
        nothing connects anywhere.
        """
        root = FilePath(self.mktemp())
        index = FakeIndex(mode="json", metadata=False)
        index.add("app", FakeFile(APP_OLD), FakeFile(APP_NEW), FakeFile(APP_NEXT))
        online = MemoryProxy(index, root, upstream=INDEX, synthesized=True)
        for path in ("/simple/app/", online.file_path(APP_NEW.filename)):
            self.assertEqual(online.get(path).code, 200, path)
        online.downloads.committed = None  # as if cached before
        self.assertEqual(online.get(online.file_path(APP_OLD.filename)).code, 200)
        reactor = Reactor()
        reactor.advance(online.clock.seconds() + 10)
        config = ProxyConfig(
            listen=("tcp:8080",), indexes=(INDEX,), cache_dir=root.path, offline=True
        )
        service = make_service(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        agent = RequestTraversalAgent(service.site.resource)

        def get(path: str) -> Answer:
            """A request to the offline proxy and its whole answer."""
            d = agent.request(
                b"GET", f"http://proxy.test{path}".encode(), Headers({"accept": [JSON]})
            )
            agent.flush()
            response = result_now(d)
            body = content(response)
            agent.flush()
            return Answer(response.code, response.headers, result_now(body))

        page = json.loads(get("/simple/app/").body)
        files = {f["filename"]: f for f in page["files"]}
        self.assertEqual(set(files), {APP_OLD.filename, APP_NEW.filename})
        digest = hashlib.sha256(APP_NEW.metadata).hexdigest()
        self.assertEqual(files[APP_NEW.filename]["core-metadata"], {"sha256": digest})
        self.assertNotIn("core-metadata", files[APP_OLD.filename])
        served = get(online.file_path(APP_NEW.filename + ".metadata"))
        self.assertEqual((served.code, served.body), (200, APP_NEW.metadata))
        missing = get(online.file_path(APP_OLD.filename + ".metadata"))
        self.assertEqual(missing.code, 404)
        self.assertEqual(reactor.tcpClients, [])
