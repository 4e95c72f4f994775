"""
Tests for :mod:`twisted_pypi.app.warmcli`: the options of ``pypiproxy
warm``, and the command end to end against a fake index on 127.0.0.1, under
the supply-chain policy's options too.
"""

from __future__ import annotations

import io
import time
from urllib.parse import urljoin

import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.mirror.test_reqfile import write
from tests.mirror.test_warm import (
    APP,
    BUILDME,
    DEP_LINUX,
    DEP_WIN,
    LINUX,
    TOOL,
    WINDOWS,
)
from tests.policyfakes import DAY, NEWEST, OLD, RECENT, add_demo
from tests.realinstall import port_of
from tests.resolve.test_resolver import LoopbackIndex
from twisted_pypi.app.exportcli import ExportOptions, run_export
from twisted_pypi.app.service import make_service
from twisted_pypi.app.tap import Options as ServeOptions
from twisted_pypi.app.warmcli import WarmOptions, run_warm
from twisted_pypi.core.config import index_name_for
from twisted_pypi.core.links import local_segments, metadata_segments
from twisted_pypi.core.moments import parse_snapshot, snapshot_text
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.indexmeta import INDEXES_FILE


class WarmOptionsTests(SynchronousTestCase):
    """
    :class:`WarmOptions`.
    """

    def parse(self, *args: str) -> WarmOptions:
        """
        Parse ``args`` with a temporary cache directory.
        """
        options = WarmOptions()
        options.parseOptions(["--cache-dir", self.mktemp(), *args])
        return options

    def test_targets_cross_product(self) -> None:
        """
        The targets are every Python version given on every platform given.
        """
        options = self.parse(
            "--python-version", "3.10", "--python-version", "3.12",
            "--platform", "win_amd64", "--platform", "manylinux_2_28_x86_64",
            "attrs",
        )  # fmt: skip
        described = [t.describe() for t in options["targets"]]
        self.assertEqual(
            described,
            [
                "CPython 3.10 on win_amd64",
                "CPython 3.10 on manylinux_2_28_x86_64",
                "CPython 3.12 on win_amd64",
                "CPython 3.12 on manylinux_2_28_x86_64",
            ],
        )

    def test_default_target(self) -> None:
        """
        Without --python-version and --platform the one target is this
        interpreter on this machine; requirements come from the arguments
        and the files, files first.
        """
        folder = FilePath(self.mktemp())
        path = write(folder, "r.txt", "attrs\n")
        options = self.parse("-r", path, "requests>=2")
        self.assertEqual(len(options["targets"]), 1)
        self.assertIsNone(options["targets"][0].platform)
        self.assertEqual(
            [str(r) for r in options["requirements"]], ["attrs", "requests>=2"]
        )

    def test_refused(self) -> None:
        """
        Nothing to warm, a bad platform or Python version and a bad
        requirements file are usage errors.
        """
        folder = FilePath(self.mktemp())
        bad = write(folder, "r.txt", "--pre\n")
        for args in [
            (),
            ("--platform", "amiga", "attrs"),
            ("--python-version", "2.7", "attrs"),
            ("-r", bad),
        ]:
            self.assertRaises(usage.UsageError, self.parse, *args)

    def test_proxy_config_file(self) -> None:
        """
        warm reads the proxy's settings file: its indexes apply, and the
        settings only serve has (``listen``, ``offline``) are ignored.
        """
        folder = FilePath(self.mktemp())
        config = write(
            folder,
            "proxy.toml",
            'index = ["corp=https://pypi.example/simple/"]\n'
            'listen = ["tcp:9000"]\noffline = true\n',
        )
        options = self.parse("--config", config, "attrs")
        self.assertEqual([i.name for i in options["config"].indexes], ["corp"])

    def test_snapshot(self) -> None:
        """
        ``--snapshot`` gives the moment to warm at; a timestamp that is
        none is a usage error saying so.
        """
        options = self.parse("--snapshot", "2025-06-01T12:00:00Z", "attrs")
        self.assertEqual(options["moment"], parse_snapshot("2025-06-01T12:00:00Z"))
        self.assertIsNone(self.parse("attrs")["moment"])
        error = self.assertRaises(
            usage.UsageError, self.parse, "--snapshot", "June", "attrs"
        )
        self.assertTrue(str(error).startswith("--snapshot: 'June'"), error)


class WarmPolicyTests(TestCase):
    """
    :func:`run_warm` under the supply-chain policy, against a fake index on
    127.0.0.1 whose ``demo`` was released 30 days, 3 days and an hour ago
    (by the wall clock).
    """

    def setUp(self) -> None:
        """
        Serve ``demo`` from a fake index.
        """
        self.now = time.time()
        self.index = add_demo(FakeIndex(mode="json"), self.now)
        self.upstream = LoopbackIndex(self.index)
        self.addCleanup(self.upstream.stop)
        self.cache = FilePath(self.mktemp())

    async def warm(self, *args: str) -> tuple[int, str]:
        """
        Run the command with ``args``: its exit code and its output.
        """
        options = WarmOptions()
        options.parseOptions(
            ["--index", self.upstream.url, "--cache-dir", self.cache.path, *args]
        )
        err = io.StringIO()
        code = await run_warm(reactor, options, err)
        return code, err.getvalue()

    def fetched(self) -> list[str]:
        """
        The files (and ``.metadata``) the upstream was asked for.
        """
        return sorted(
            p.removeprefix("/packages/")
            for _, p in self.index.requests
            if p.startswith("/packages/")
        )

    async def test_min_age(self) -> None:
        """
        With ``--min-age 7d`` the newest release the policy allows is
        chosen: the month-old one; the newer ones are never fetched, nor
        their ``.metadata``.
        """
        code, out = await self.warm("--min-age", "7d", "demo")
        self.assertEqual(code, 0, out)
        self.assertEqual(self.fetched(), [OLD.filename, OLD.filename + ".metadata"])

    async def test_pinned_held_back(self) -> None:
        """
        A pin of a release the policy holds back cannot be warmed (exit
        1), and its file is not fetched.
        """
        code, out = await self.warm("--min-age", "7d", "demo==3.0")
        self.assertEqual(code, 1, out)
        self.assertIn("pypiproxy warm: could not warm everything:", out)
        self.assertEqual(self.fetched(), [])

    async def test_snapshot_and_dry_run(self) -> None:
        """
        ``--snapshot`` two days ago chooses the 3-day-old release; with
        ``--policy-dry-run`` nothing is held back: the newest is chosen.
        """
        then = snapshot_text(self.now - 2 * DAY)
        code, out = await self.warm("--snapshot", then, "demo")
        self.assertEqual(code, 0, out)
        self.assertIn(RECENT.filename, self.fetched())
        self.assertNotIn(NEWEST.filename, self.fetched())
        code, out = await self.warm("--min-age", "7d", "--policy-dry-run", "demo")
        self.assertEqual(code, 0, out)
        self.assertIn(NEWEST.filename, self.fetched())


class WarmCommandTests(TestCase):
    """
    :func:`run_warm` against a fake index on 127.0.0.1.
    """

    def setUp(self) -> None:
        """
        Serve app, its dependencies and a build tool from a fake index.
        """
        index = FakeIndex(mode="json")
        for wheel in (APP, DEP_LINUX, DEP_WIN, BUILDME, TOOL):
            index.add(wheel.filename.split("-")[0].replace("_", "-"), FakeFile(wheel))
        self.index = index
        self.upstream = LoopbackIndex(index)
        self.addCleanup(self.upstream.stop)
        self.cache = FilePath(self.mktemp())

    async def warm(self, *args: str) -> tuple[int, str]:
        """
        Run the command with ``args``: its exit code and its output.
        """
        options = WarmOptions()
        options.parseOptions(
            ["--index", self.upstream.url, "--cache-dir", self.cache.path, *args]
        )
        err = io.StringIO()
        code = await run_warm(reactor, options, err)
        return code, err.getvalue()

    def cached(self, filename: str) -> bool:
        """
        Whether the cache holds the fake index's file ``filename``.
        """
        base = filename.removesuffix(".metadata")
        url = self.upstream.url.replace("/simple/", "/packages/") + base
        segments = local_segments(index_name_for(self.upstream.url), url)
        assert segments is not None
        if base != filename:
            segments = metadata_segments(segments)
        return FileCache(self.cache, None, reactor).lookup(segments) is not None

    def file_requests(self) -> list[str]:
        """
        The paths of the file requests the upstream got.
        """
        return [p for _, p in self.index.requests if p.startswith("/packages/")]

    async def test_every_target(self) -> None:
        """
        The files of every target's resolution are cached, with their
        ``.metadata``: the dependency behind a marker for each platform, the
        sdist, and what building the sdist needs; the summary counts them.
        """
        code, out = await self.warm(
            "--platform", LINUX, "--platform", WINDOWS, "app"
        )  # fmt: skip
        self.assertEqual(code, 0, out)
        for wheel in (APP, DEP_LINUX, DEP_WIN, BUILDME, TOOL):
            self.assertTrue(self.cached(wheel.filename), wheel.filename)
            self.assertTrue(self.cached(wheel.filename + ".metadata"), wheel.filename)
        self.assertIn("warmed 5 projects for 2 targets: 10 files fetched", out)
        self.assertIn(f"(to build {BUILDME.filename})", out)
        pages = self.cache.child("pages").walk()
        self.assertIn("dep-win.page", {p.basename() for p in pages})

    async def test_one_target(self) -> None:
        """
        Warming for one platform leaves the other platform's dependency out.
        """
        code, out = await self.warm("--platform", WINDOWS, "app")
        self.assertEqual(code, 0, out)
        self.assertTrue(self.cached(DEP_WIN.filename))
        self.assertFalse(self.cached(DEP_LINUX.filename))

    async def test_idempotent(self) -> None:
        """
        A second run downloads nothing: every file is already cached.
        """
        code, out = await self.warm("--platform", LINUX, "app")
        self.assertEqual(code, 0, out)
        first = len(self.file_requests())
        self.assertEqual(first, 8)
        code, out = await self.warm("--platform", LINUX, "app")
        self.assertEqual(code, 0, out)
        self.assertEqual(len(self.file_requests()), first)
        self.assertIn("0 files fetched (0 B), 8 already cached", out)

    async def test_unresolvable(self) -> None:
        """
        A project the index does not have makes the run exit with 1 and list
        the problem with the target.
        """
        code, out = await self.warm("--platform", LINUX, "app", "nope>=1")
        self.assertEqual(code, 1)
        self.assertIn("pypiproxy warm: could not warm everything:", out)
        self.assertIn("  - CPython", out)
        self.assertIn("nope is not on the index", out)

    async def test_fetch_failure(self) -> None:
        """
        A file the upstream fails to send is listed as a problem (exit 1);
        nothing partial is left in the cache.
        """
        self.index.fail[f"/packages/{DEP_LINUX.filename}"] = 500
        code, out = await self.warm("--platform", LINUX, "app")
        self.assertEqual(code, 1)
        self.assertIn(f"could not fetch {self.upstream.url[:-7]}", out)
        self.assertIn("upstream answered 500", out)
        self.assertFalse(self.cached(DEP_LINUX.filename))
        self.assertEqual(self.cache.child("tmp").children(), [])

    async def test_metadata_missing(self) -> None:
        """
        A ``.metadata`` the upstream fails to send is only a note: the
        dependencies are read from the file, which is cached, and the run
        succeeds.
        """
        self.index.fail[f"/packages/{APP.filename}.metadata"] = 404
        code, out = await self.warm("--platform", LINUX, "app")
        self.assertEqual(code, 0, out)
        self.assertTrue(self.cached(APP.filename))
        self.assertTrue(self.cached(DEP_LINUX.filename))
        self.assertFalse(self.cached(APP.filename + ".metadata"))
        self.assertIn("installers will read the file instead", out)

    async def test_concurrency(self) -> None:
        """
        No more files than --concurrency download at once.
        """
        self.index.hold_files = True
        run = Deferred.fromCoroutine(
            self.warm("--platform", LINUX, "--concurrency", "2", "app", "dep-win")
        )
        contents = {
            f"/packages/{w.filename}": w.content
            for w in (APP, DEP_LINUX, DEP_WIN, BUILDME, TOOL)
        }
        most = lone = 0
        for _ in range(1000):
            if run.called:
                break
            await deferLater(reactor, 0.01)
            most = max(most, len(self.index.held))
            lone = lone + 1 if len(self.index.held) == 1 else 0
            if len(self.index.held) == 2 or lone > 5:
                request = self.index.held.pop(0)
                request.write(contents[request.path.decode()])
                request.finish()
        code, out = await run
        self.assertEqual(code, 0, out)
        self.assertEqual(most, 2)


class WarmThenCacheOnlyTests(TestCase):
    """
    ``export`` and ``serve --offline`` without ``--index`` after ``warm
    --index NAME=URL`` use that index.
    """

    def setUp(self) -> None:
        """
        Serve app and its dependencies from a fake index.
        """
        index = FakeIndex(mode="json")
        for wheel in (APP, DEP_LINUX, DEP_WIN, BUILDME, TOOL):
            index.add(wheel.filename.split("-")[0].replace("_", "-"), FakeFile(wheel))
        self.upstream = LoopbackIndex(index)
        self.addCleanup(self.upstream.stop)
        self.cache = FilePath(self.mktemp())

    async def warm(self) -> None:
        """
        Warm app for Linux from the fake index, named ``corp``.
        """
        options = WarmOptions()
        options.parseOptions(
            [
                "--index", f"corp={self.upstream.url}",
                "--cache-dir", self.cache.path,
                "--platform", LINUX, "app",
            ]
        )  # fmt: skip
        err = io.StringIO()
        self.assertEqual(await run_warm(reactor, options, err), 0, err.getvalue())

    async def export(self) -> FilePath[str]:
        """
        Export the cache with no ``--index``.

        :return: The exported tree.
        """
        tree = FilePath(self.mktemp())
        options = ExportOptions()
        options.parseOptions(["--cache-dir", self.cache.path, tree.path])
        err = io.StringIO()
        self.assertEqual(await run_export(reactor, options, err), 0, err.getvalue())
        return tree

    async def test_export(self) -> None:
        """
        The export holds the warmed files of the index named at warm time.
        """
        await self.warm()
        tree = await self.export()
        app = tree.descendant(["packages", "app", APP.filename])
        self.assertEqual(app.getContent(), APP.content)

    async def test_export_of_old_cache(self) -> None:
        """
        A cache warmed before the indexes were recorded (no record file)
        exports the same: the index's URL is recovered from its pages.
        """
        await self.warm()
        self.cache.child(INDEXES_FILE).remove()
        tree = await self.export()
        app = tree.descendant(["packages", "app", APP.filename])
        self.assertEqual(app.getContent(), APP.content)

    async def test_offline_serve(self) -> None:
        """
        ``serve --offline`` serves the warmed files of the index named at
        warm time, with the upstream stopped.
        """
        await self.warm()
        await self.upstream.stop()
        options = ServeOptions()
        options.parseOptions(
            [
                "--offline", "--cache-dir", self.cache.path,
                "--listen", "tcp:0:interface=127.0.0.1",
            ]
        )  # fmt: skip
        config = options["config"]
        self.assertEqual([i.name for i in config.indexes], ["corp"])
        service = make_service(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        base = f"http://127.0.0.1:{port_of(service.ports[0])}"
        url = f"{base}/simple/app/"
        response = await treq.get(url, persistent=False)
        link = (await response.text()).split('href="')[1].split("#")[0]
        self.assertEqual(response.code, 200)
        self.assertTrue(link.endswith(APP.filename), link)
        response = await treq.get(urljoin(url, link), persistent=False)
        self.assertEqual(await response.content(), APP.content)
