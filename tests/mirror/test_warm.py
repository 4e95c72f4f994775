"""
Tests for ``pypiproxy warm``: the requirements-file parser and build
requirements (:mod:`twisted_pypi.mirror.reqfile`), the options, the start-up race on
``tmp/`` between processes sharing a cache, and warming against a fake index
on 127.0.0.1 (:mod:`twisted_pypi.mirror.warm`, :mod:`twisted_pypi.mirror.fetcher`).
"""

from __future__ import annotations

import io
import os
import time
from typing import cast

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock, deferLater
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.iweb import IResponse

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import FakeResponse
from tests.resolve.test_resolver import LoopbackIndex
from tests.wheels import build_sdist, build_wheel
from twisted_pypi.core.config import index_name_for
from twisted_pypi.core.links import local_segments, metadata_segments
from twisted_pypi.files.download import Downloads, FileSpec
from twisted_pypi.mirror.reqfile import (
    DEFAULT_BUILD_REQUIRES,
    RequirementsError,
    build_requirements,
    parse_requirements_file,
)
from twisted_pypi.mirror.warm import WarmOptions, run_warm
from twisted_pypi.storage.filecache import STALE_TEMP_AGE, FileCache
from twisted_pypi.upstream.stream import streaming


def write(directory: FilePath[str], name: str, text: str) -> str:
    """
    Write a file in ``directory`` (created if needed).

    :return: Its path.
    """
    directory.makedirs(ignoreExistingDirectory=True)
    directory.child(name).setContent(text.encode())
    return directory.child(name).path


class RequirementsFileTests(SynchronousTestCase):
    """
    :func:`parse_requirements_file`.
    """

    def parse(self, text: str, **others: str) -> tuple[list[str], list[str]]:
        """
        Parse ``text`` as ``requirements.txt`` beside the files ``others``
        (name to text).

        :return: The requirements as strings, and the warnings.
        """
        folder = FilePath(self.mktemp())
        for name, content in others.items():
            write(folder, name, content)
        parsed = parse_requirements_file(write(folder, "requirements.txt", text))
        return [str(r) for r in parsed.requirements], list(parsed.warnings)

    def error(self, text: str) -> str:
        """
        The message of the error that parsing ``text`` raises.
        """
        path = write(FilePath(self.mktemp()), "requirements.txt", text)
        return str(self.assertRaises(RequirementsError, parse_requirements_file, path))

    def test_requirements_comments_and_blanks(self) -> None:
        """
        Each requirement line gives one requirement with its extras,
        specifiers and marker; comments (whole lines and trailing ones) and
        blank lines give nothing.
        """
        found, warnings = self.parse(
            "# the app\n\nrequests[socks]>=2.31  # pinned below 3\n"
            "  torch==2.3.1 ; sys_platform == 'linux'\n"
        )
        self.assertEqual(
            found,
            ["requests[socks]>=2.31", 'torch==2.3.1; sys_platform == "linux"'],
        )
        self.assertEqual(warnings, [])

    def test_continuation(self) -> None:
        """
        A line ending in a backslash continues on the next line.
        """
        found, _ = self.parse("requests\\\n  >=2.31 \\\n ,<3\nattrs\n")
        self.assertEqual(found, ["requests<3,>=2.31", "attrs"])

    def test_includes(self) -> None:
        """
        ``-r``, ``-rFILE``, ``--requirement FILE`` and ``--requirement=FILE``
        include other files, relative to the including file, in order.
        """
        found, _ = self.parse(
            "first\n-r a.txt\n-rb.txt\n--requirement c.txt\n--requirement=d.txt\n",
            **{"a.txt": "alpha\n", "b.txt": "beta\n", "c.txt": "gamma\n"},
            **{"d.txt": "delta\n"},
        )
        self.assertEqual(found, ["first", "alpha", "beta", "gamma", "delta"])
        self.assertIn("cannot read", self.error("-r missing.txt\n"))

    def test_nested_include_relative_to_includer(self) -> None:
        """
        A file included from a subdirectory includes relative to itself.
        """
        folder = FilePath(self.mktemp())
        write(folder.child("sub"), "d.txt", "-r e.txt\n")
        write(folder.child("sub"), "e.txt", "delta\n")
        path = write(folder, "requirements.txt", "-r sub/d.txt\n")
        parsed = parse_requirements_file(path)
        self.assertEqual([str(r) for r in parsed.requirements], ["delta"])

    def test_include_loop(self) -> None:
        """
        A file that includes itself (through another) is refused.
        """
        folder = FilePath(self.mktemp())
        write(folder, "b.txt", "-r requirements.txt\n")
        path = write(folder, "requirements.txt", "-r b.txt\n")
        error = self.assertRaises(RequirementsError, parse_requirements_file, path)
        self.assertIn("makes a loop", str(error))

    def test_index_options_ignored(self) -> None:
        """
        Index options are ignored with one warning each, naming the file,
        line and option; their values are not taken as requirements.
        """
        found, warnings = self.parse(
            "--index-url https://example.com/simple/\n-i https://x/\n"
            "--extra-index-url=https://y/\n--no-index\n-f ./wheels\nattrs\n"
        )
        self.assertEqual(found, ["attrs"])
        self.assertEqual(len(warnings), 5)
        self.assertIn("requirements.txt:1: ignored --index-url", warnings[0])
        self.assertIn("requirements.txt:4: ignored --no-index", warnings[3])

    def test_hashes_dropped(self) -> None:
        """
        ``--hash`` options of a requirement (as pip-compile writes them, over
        continued lines) are dropped; the requirement stays.
        """
        found, _ = self.parse(
            "attrs==23.1 \\\n    --hash=sha256:aaaa \\\n    --hash sha256:bbbb\n"
        )
        self.assertEqual(found, ["attrs==23.1"])

    def test_other_options_refused(self) -> None:
        """
        Any other pip option is refused with the file, the line and the
        option.
        """
        for text, option in [
            ("attrs\n-e .\n", "-e"),
            ("--pre\n", "--pre"),
            ("-c constraints.txt\n", "-c"),
            ("attrs --config-settings x=y\n", "--config-settings"),
        ]:
            message = self.error(text)
            self.assertIn("requirements.txt:", message)
            self.assertIn(option, message)
            self.assertIn("not supported by warm", message)

    def test_urls_and_paths_refused(self) -> None:
        """
        A requirement naming a URL, or a path, is refused: warm fetches
        projects from indexes only.
        """
        self.assertIn(
            "names a URL", self.error("attrs @ https://example.com/attrs.whl\n")
        )
        self.assertIn("is a path", self.error("./local/project\n"))
        self.assertIn("is a path", self.error("attrs-23.1-py3-none-any.whl\n"))

    def test_invalid_requirement(self) -> None:
        """
        A line that is not a requirement is refused with its line number.
        """
        message = self.error("attrs\n\nnot a requirement!\n")
        self.assertIn("requirements.txt:3:", message)
        self.assertIn("is not a requirement", message)


class BuildRequirementsTests(SynchronousTestCase):
    """
    :func:`build_requirements`.
    """

    def test_declared(self) -> None:
        """
        An sdist's ``[build-system] requires`` is what building it needs.
        """
        sdist = build_sdist(
            "x", "1.0", buildable=True, build_requires=["flit_core>=3.2", "tool"]
        )
        self.assertEqual(
            build_requirements(sdist.content, sdist.filename),
            ("flit_core>=3.2", "tool"),
        )

    def test_in_tree_backend(self) -> None:
        """
        An sdist with an in-tree backend and no requirements needs nothing.
        """
        sdist = build_sdist("x", "1.0", buildable=True)
        self.assertEqual(build_requirements(sdist.content, sdist.filename), ())

    def test_no_pyproject(self) -> None:
        """
        An sdist without ``pyproject.toml`` needs what pip assumes then.
        """
        sdist = build_sdist("x", "1.0")
        self.assertEqual(
            build_requirements(sdist.content, sdist.filename), DEFAULT_BUILD_REQUIRES
        )

    def test_unreadable(self) -> None:
        """
        Bytes that are no sdist give ``None``.
        """
        self.assertIsNone(build_requirements(b"not a tarball", "x-1.0.tar.gz"))


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
LINUX, WINDOWS = "manylinux_2_17_x86_64", "win_amd64"


class WarmTests(TestCase):
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
