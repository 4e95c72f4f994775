"""
Tests for :mod:`twisted_pypi.resolve.resolver` (and the provider of
:mod:`twisted_pypi.resolve.candidates` it drives): the resolver over an
in-memory index (synchronously, with
:func:`~twisted_pypi.resolve.resolver.resolve_now`), and :func:`resolve` in the
reactor's thread pool against a fake index on 127.0.0.1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from packaging.requirements import Requirement
from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.internet.defer import CancelledError, Deferred, fail, maybeDeferred
from twisted.internet.task import deferLater
from twisted.protocols.policies import WrappingFactory
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.server import Site

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import result_now
from tests.wheels import build_wheel
from twisted_pypi.core.config import IndexConfig, ProxyConfig, index_name_for
from twisted_pypi.core.dummyspec import DummySpec
from twisted_pypi.core.links import RELATIVE
from twisted_pypi.core.lookup import Lookup, PageEntry
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.resolve.candidates import (
    IndexProvider,
    ProjectNotFound,
)
from twisted_pypi.resolve.metadata import IndexMetadataSource
from twisted_pypi.resolve.resolver import (
    Resolution,
    ResolutionFailed,
    _Bridge,
    resolve,
    resolve_now,
)
from twisted_pypi.resolve.target import Target
from twisted_pypi.sources.dummies import Dummies
from twisted_pypi.sources.remote import PageCache, PageStore
from twisted_pypi.sources.router import Router

LINUX = Target.create("3.11", "manylinux_2_28_x86_64")
WINDOWS = Target.create("3.11", "win_amd64")


class MemoryIndex:
    """
    Project pages and core metadata in memory, counting what is asked.

    :ivar pages_asked: Project names, in the order their pages were asked.
    :ivar metadata_asked: Filenames, in the order their metadata was asked.
    """

    def __init__(self) -> None:
        self._files: dict[str, list[DistFile]] = {}
        self._metadata: dict[str, bytes] = {}
        self.pages_asked: list[str] = []
        self.metadata_asked: list[str] = []

    def add(
        self,
        name: str,
        version: str,
        requires: Iterable[str] = (),
        *,
        tag: str = "py3-none-any",
        sdist: bool = False,
        requires_python: str | None = None,
        yanked: bool | str = False,
        metadata: bytes | None = None,
        size: int = 1000,
    ) -> DistFile:
        """
        List a file of ``name`` ``version`` that requires ``requires``.
        """
        stem = f"{name.replace('-', '_')}-{version}"
        filename = f"{stem}.tar.gz" if sdist else f"{stem}-{tag}.whl"
        dist = DistFile(
            filename,
            f"https://files.test/{filename}",
            requires_python=requires_python,
            yanked=yanked,
            size=size,
        )
        self._files.setdefault(name, []).append(dist)
        lines = ["Metadata-Version: 2.2", f"Name: {name}", f"Version: {version}"]
        lines += [f"Requires-Dist: {r}" for r in requires]
        self._metadata[filename] = metadata or ("\n".join(lines) + "\n").encode()
        return dist

    def project_page(self, name: str) -> ProjectPage:
        """
        A project's page; :class:`ProjectNotFound` if it has no files.
        """
        self.pages_asked.append(name)
        if name not in self._files:
            raise ProjectNotFound(name)
        return ProjectPage(name, tuple(self._files[name]))

    @property
    def index(self) -> IndexConfig:
        """
        The index's name and TTL, as a router's source.
        """
        return IndexConfig("memory", "https://files.test/simple/")

    def get_project(self, name: str) -> Deferred[Lookup]:
        """
        A project's page as a router's source answers it, at once.
        """
        return maybeDeferred(
            lambda: Lookup(
                PageEntry(
                    self.index,
                    self.project_page(name),
                    0.0,
                    None,
                    file_link=self.file_link,
                    project_link=RELATIVE.project,
                )
            )
        )

    def get_list(self) -> Deferred[Lookup]:
        """
        No project list.
        """
        return fail(ProjectNotFound("the project list"))

    def file_link(self, dist: DistFile) -> str:
        """
        Files are linked where they are.
        """
        return dist.url

    def router(self, dummies: Iterable[DummySpec] = ()) -> Router:
        """
        A router over this index, with ``dummies`` answering first.
        """
        indexes = Router([self], {}, frozenset())
        return indexes.with_first(Dummies(dummies, indexes.get_project, RELATIVE))

    def metadata(self, dist: DistFile) -> bytes:
        """
        A file's core metadata.
        """
        self.metadata_asked.append(dist.filename)
        return self._metadata[dist.filename]

    def provider(
        self, target: Target = LINUX, dummies: Iterable[DummySpec] = ()
    ) -> IndexProvider:
        """
        A provider over this index, through a router with ``dummies``
        answering first.
        """
        router = self.router(dummies)

        def page(name: str) -> Lookup:
            lookup = result_now(router.get_project(name))
            assert isinstance(lookup, Lookup)
            return lookup

        return IndexProvider(target, page, self.metadata)

    def resolve(
        self,
        *requirements: str,
        target: Target = LINUX,
        dummies: Iterable[DummySpec] = (),
    ) -> Resolution:
        """
        Resolve ``requirements`` at once.
        """
        return resolve_now(
            [Requirement(r) for r in requirements], self.provider(target, dummies)
        )


def versions(resolution: Resolution) -> dict[str, str]:
    """
    The chosen version of each project.
    """
    return {name: pin.version for name, pin in resolution.pins.items()}


class ResolveNowTests(SynchronousTestCase):
    """
    :func:`resolve_now` over an in-memory index.
    """

    def test_newest_satisfying(self) -> None:
        """
        The newest version within every specifier is chosen.
        """
        index = MemoryIndex()
        index.add("app", "1.0", ["lib<2"])
        for version in ("1.0", "1.5", "2.0"):
            index.add("lib", version)
        result = index.resolve("app")
        self.assertEqual(versions(result), {"app": "1.0", "lib": "1.5"})
        self.assertEqual(result.roots, ("app",))
        self.assertEqual(result.edges, {("app", "lib")})
        self.assertEqual(result.requires("app"), ("lib",))
        self.assertEqual(result.errors, ())

    def test_requires_python(self) -> None:
        """
        A version whose files need a newer Python is passed over.
        """
        index = MemoryIndex()
        index.add("lib", "1.0", requires_python=">=3.8")
        index.add("lib", "2.0", requires_python=">=3.12")
        self.assertEqual(versions(index.resolve("lib")), {"lib": "1.0"})

    def test_yanked_unless_pinned(self) -> None:
        """
        A yanked version is chosen only when pinned with ``==``.
        """
        index = MemoryIndex()
        index.add("lib", "1.0")
        index.add("lib", "2.0", yanked="broken")
        self.assertEqual(versions(index.resolve("lib")), {"lib": "1.0"})
        self.assertEqual(versions(index.resolve("lib==2.0")), {"lib": "2.0"})
        with self.assertRaises(ResolutionFailed) as caught:
            index.resolve("lib>=1.5")
        self.assertIn("yanked: 2.0", str(caught.exception))

    def test_platform_falls_back_to_sdist(self) -> None:
        """
        A Linux-only wheel is skipped for Windows, where the same version's
        sdist is chosen.
        """
        index = MemoryIndex()
        index.add("lib", "2.0", tag="cp311-cp311-manylinux_2_17_x86_64")
        sdist = index.add("lib", "2.0", sdist=True)
        self.assertIs(index.resolve("lib", target=WINDOWS).pins["lib"].dist, sdist)
        self.assertNotEqual(index.resolve("lib").pins["lib"].dist, sdist)

    def test_platform_falls_back_to_older(self) -> None:
        """
        When the newest version has no file for the target, an older one
        that has is chosen.
        """
        index = MemoryIndex()
        index.add("lib", "1.0")
        index.add("lib", "2.0", tag="cp311-cp311-manylinux_2_17_x86_64")
        self.assertEqual(versions(index.resolve("lib", target=WINDOWS)), {"lib": "1.0"})
        self.assertEqual(versions(index.resolve("lib")), {"lib": "2.0"})

    def test_markers(self) -> None:
        """
        A dependency behind a marker is only resolved for a target where the
        marker holds.
        """
        index = MemoryIndex()
        index.add("app", "1.0", ['pywin32; sys_platform == "win32"', "lib"])
        index.add("pywin32", "306", tag="cp311-cp311-win_amd64")
        index.add("lib", "1.0")
        self.assertEqual(set(index.resolve("app").pins), {"app", "lib"})
        self.assertNotIn("pywin32", index.pages_asked)
        windows = index.resolve("app", target=WINDOWS)
        self.assertEqual(set(windows.pins), {"app", "lib", "pywin32"})

    def test_extras(self) -> None:
        """
        An extra adds its own dependencies, at the same version of the
        project; without it they are not resolved.
        """
        index = MemoryIndex()
        index.add("requests", "2.0", ["urllib3", 'pysocks; extra == "socks"'])
        index.add("requests", "1.0", ["urllib3"])
        index.add("urllib3", "2.0")
        index.add("pysocks", "1.7")
        index.add("app", "1.0", ["requests[SOCKS]<3"])
        plain = index.resolve("requests")
        self.assertEqual(set(plain.pins), {"requests", "urllib3"})
        result = index.resolve("app")
        self.assertEqual(
            versions(result),
            {"app": "1.0", "requests": "2.0", "urllib3": "2.0", "pysocks": "1.7"},
        )
        self.assertEqual(result.pins["requests"].extras, {"socks"})
        self.assertEqual(result.requires("requests"), ("pysocks", "urllib3"))
        self.assertEqual(result.requires("app"), ("requests",))

    def test_backtracking(self) -> None:
        """
        When the newest version of a project conflicts with another
        requirement, an older one is chosen.
        """
        index = MemoryIndex()
        index.add("a", "2.0", ["c>=2"])
        index.add("a", "1.0", ["c<2"])
        index.add("c", "1.0")
        index.add("c", "2.0")
        result = index.resolve("a", "c<2")
        self.assertEqual(versions(result), {"a": "1.0", "c": "1.0"})

    def test_prereleases(self) -> None:
        """
        Pre-releases are only chosen when a specifier names one or nothing
        else matches.
        """
        index = MemoryIndex()
        index.add("lib", "1.0")
        index.add("lib", "2.0b1")
        index.add("new", "0.1a1")
        self.assertEqual(versions(index.resolve("lib")), {"lib": "1.0"})
        self.assertEqual(versions(index.resolve("lib>=2.0b1")), {"lib": "2.0b1"})
        self.assertEqual(versions(index.resolve("new")), {"new": "0.1a1"})

    def test_conflict_is_explained(self) -> None:
        """
        An impossible resolution fails with who asked for what.
        """
        index = MemoryIndex()
        index.add("app", "1.0", ["lib>=5"])
        index.add("lib", "1.0")
        with self.assertRaises(ResolutionFailed) as caught:
            index.resolve("app")
        self.assertEqual(
            caught.exception.problems,
            ("no version of lib satisfies all of: lib>=5 (required by app 1.0)",),
        )

    def test_missing_projects_are_listed(self) -> None:
        """
        Every requested project the index does not have is named.
        """
        index = MemoryIndex()
        index.add("lib", "1.0")
        with self.assertRaises(ResolutionFailed) as caught:
            index.resolve("nope", "lib", "gone")
        message = str(caught.exception)
        self.assertIn("nope is not on the index", message)
        self.assertIn("gone is not on the index", message)

    def test_no_file_for_target(self) -> None:
        """
        A project without a file for the target fails with the reasons its
        files were passed over.
        """
        index = MemoryIndex()
        index.add("lib", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64")
        with self.assertRaises(ResolutionFailed) as caught:
            index.resolve("lib", target=WINDOWS)
        self.assertEqual(
            str(caught.exception),
            "no file of lib fits CPython 3.11 on win_amd64 (1 by wheel tags):"
            " lib (requested)",
        )

    def test_unknown_sdist_dependencies(self) -> None:
        """
        An sdist whose dependencies are dynamic is resolved without them, and
        the resolution says so.
        """
        index = MemoryIndex()
        index.add(
            "old",
            "1.0",
            sdist=True,
            metadata=b"Metadata-Version: 2.2\nName: old\nDynamic: Requires-Dist\n",
        )
        result = index.resolve("old")
        self.assertEqual(versions(result), {"old": "1.0"})
        self.assertEqual(len(result.errors), 1)
        self.assertIn("dependencies of old 1.0", result.errors[0])
        self.assertIn("dynamic", result.errors[0])

    def test_unknown_dependencies_of_chosen(self) -> None:
        """
        The resolution says why the dependencies of a chosen project are
        unknown; a version whose dependencies were unknown but that was
        given up for another is not said to be unknown.
        """
        dynamic = b"Metadata-Version: 2.2\nName: {}\nDynamic: Requires-Dist\n"
        index = MemoryIndex()
        index.add("a", "2.0", sdist=True, metadata=dynamic.replace(b"{}", b"a"))
        index.add("a", "1.0")
        index.add("b", "1.0", ["a<2"])
        index.add("old", "1.0", sdist=True, metadata=dynamic.replace(b"{}", b"old"))
        result = index.resolve("a", "b", "old")
        self.assertEqual(versions(result), {"a": "1.0", "b": "1.0", "old": "1.0"})
        self.assertIn("a-2.0.tar.gz", index.metadata_asked)
        self.assertEqual(list(result.unknown), ["old"])
        self.assertIn("dynamic", result.unknown["old"])

    def test_metadata_read_once(self) -> None:
        """
        Each candidate's metadata is asked for once, however often the
        resolver needs its dependencies.
        """
        index = MemoryIndex()
        index.add("a", "2.0", ["c>=2"])
        index.add("a", "1.0", ["c<2"])
        index.add("c", "1.0")
        index.add("c", "2.0")
        index.resolve("a", "c<2")
        self.assertEqual(
            sorted(Counter(index.metadata_asked).values(), reverse=True)[0], 1
        )


class DummyResolveTests(SynchronousTestCase):
    """
    Dummies in a resolution.
    """

    def setUp(self) -> None:
        self.index = MemoryIndex()
        self.index.add("app", "1.0", ["torch", "filelock"])
        self.index.add("torch", "2.3.0", ["nvidia-x", "filelock"])
        self.index.add("torch", "2.4.0", ["nvidia-x", "filelock"], yanked=True)
        self.index.add("torch", "2.5.0", requires_python=">=3.13")
        self.index.add("nvidia-x", "12.0")
        self.index.add("filelock", "3.0")

    def test_explicit_versions(self) -> None:
        """
        A dummy with explicit versions needs no page and no metadata, and
        cuts its dependencies out of the resolution.
        """
        dummies = [DummySpec("torch", ("2.1.0", "2.2.0"))]
        result = self.index.resolve("app", dummies=dummies)
        self.assertEqual(
            versions(result), {"app": "1.0", "torch": "2.2.0", "filelock": "3.0"}
        )
        self.assertTrue(result.pins["torch"].dummy)
        self.assertIsNone(result.pins["torch"].dist)
        self.assertNotIn("torch", self.index.pages_asked)
        self.assertEqual(result.requires("torch"), ())
        self.assertEqual(result.edges, {("app", "torch"), ("app", "filelock")})

    def test_auto_versions(self) -> None:
        """
        An "auto" dummy offers the upstream's versions (not yanked, allowed
        by the target's Python) with no dependencies and no metadata read.
        """
        dummies = [DummySpec("torch")]
        result = self.index.resolve("app", dummies=dummies)
        self.assertEqual(result.pins["torch"].version, "2.3.0")
        self.assertTrue(result.pins["torch"].dummy)
        self.assertNotIn("nvidia-x", result.pins)
        self.assertFalse(any(f.startswith("torch") for f in self.index.metadata_asked))

    def test_platform_independent(self) -> None:
        """
        A dummy is chosen for any target, even where the real project has no
        file.
        """
        index = MemoryIndex()
        index.add("gpu", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64")
        result = index.resolve("gpu", target=WINDOWS, dummies=[DummySpec("gpu")])
        self.assertEqual(versions(result), {"gpu": "1.0"})


class BridgeTests(SynchronousTestCase):
    """
    The bridge between the resolver's thread and the reactor thread.
    """

    def test_stop_fails_requests(self) -> None:
        """
        Stopping (at reactor shutdown) fails the requests in flight and every
        later one, so the resolver's thread ends.
        """
        pending: Deferred[Lookup] = Deferred()
        bridge = _Bridge(None, lambda name: pending, MemoryIndex(), None)  # type: ignore[arg-type]
        first = bridge._start_page("app")
        self.assertNoResult(first)
        bridge.stop()
        self.failureResultOf(first, CancelledError)
        self.failureResultOf(bridge._start_page("lib"), CancelledError)


class LoopbackIndex:
    """
    A :class:`FakeIndex` listening on 127.0.0.1 for the real reactor.

    :ivar url: The index's simple URL.
    """

    def __init__(self, index: FakeIndex) -> None:
        """
        :param index: The index to serve.
        """
        self.index = index
        self._connections = WrappingFactory(Site(index))
        factory: Any = self._connections
        self._port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.url = f"http://127.0.0.1:{self._port.getHost().port}/simple/"  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """
        Stop listening (if still listening) and wait for every connection to
        close.
        """
        if self._port.connected:  # type: ignore[attr-defined]
            await maybeDeferred(self._port.stopListening)
        for protocol in list(self._connections.protocols):
            protocol.transport.loseConnection()
        for _ in range(200):
            if not self._connections.protocols:
                return
            await deferLater(reactor, 0.01)
        raise AssertionError("connections to the fake index stayed open")


class ResolveOverHTTPTests(TestCase):
    """
    :func:`resolve` in the reactor's thread pool, with a page cache and
    metadata source talking to a fake index on 127.0.0.1.
    """

    def setUp(self) -> None:
        index = FakeIndex(mode="json")
        index.add("app", FakeFile(build_wheel("app", "1.0", requires=["lib>=1"])))
        index.add(
            "lib",
            FakeFile(build_wheel("lib", "1.0")),
            FakeFile(build_wheel("lib", "2.0")),
            FakeFile(build_wheel("lib", "3.0"), yanked="broken"),
        )
        self.upstream = LoopbackIndex(index)
        self.addCleanup(self.upstream.stop)
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        client = HTTPClient(Agent(reactor, pool=pool))
        config = ProxyConfig(
            indexes=(IndexConfig(index_name_for(self.upstream.url), self.upstream.url),)
        )
        store = PageStore.on_disk(FilePath(self.mktemp()))
        self.pages = PageCache(config.indexes[0], config, client, reactor, store)
        self.metadata = IndexMetadataSource(client, reactor)
        self.progress: list[str] = []

    async def test_resolves(self) -> None:
        """
        The resolution fetches pages and PEP 658 metadata (never a whole
        file) and reports its progress.
        """
        result = await resolve(
            [Requirement("app")],
            Target.current(),
            self.pages.get_project,
            self.metadata,
            reactor,
            progress=self.progress.append,
        )
        self.assertEqual(versions(result), {"app": "1.0", "lib": "2.0"})
        dist = result.pins["lib"].dist
        assert dist is not None
        self.assertEqual(dist.url, self.upstream.url[:-7] + "packages/" + dist.filename)
        self.assertEqual(dist.filename, "lib-2.0-py3-none-any.whl")
        self.assertIn("resolving app…", self.progress)
        self.assertIn("fetched metadata for lib 2.0", self.progress)
        requests = [path for _, path in self.upstream.index.requests]
        self.assertIn("/packages/lib-2.0-py3-none-any.whl.metadata", requests)
        self.assertFalse(any(path.endswith(".whl") for path in requests))

    async def test_not_found(self) -> None:
        """
        A project the index does not have fails the resolution with its
        name.
        """
        with self.assertRaises(ResolutionFailed) as caught:
            await resolve(
                [Requirement("app"), Requirement("nope")],
                Target.current(),
                self.pages.get_project,
                self.metadata,
                reactor,
            )
        self.assertIn("nope is not on the index", str(caught.exception))
