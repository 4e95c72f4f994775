"""
Tests for :mod:`twisted_pypi.app.analyzecli`: the options of ``pypiproxy
analyze``, and the command end to end against a fake index on 127.0.0.1.
"""

from __future__ import annotations

import io
import re

from twisted.internet import reactor
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.rangedindex import RangedIndex
from tests.resolve.test_resolver import LoopbackIndex
from tests.wheels import build_wheel
from twisted_pypi.app.analyzecli import AnalyzeOptions, run_analyze
from twisted_pypi.app.cli import Options
from twisted_pypi.core.config import index_name_for
from twisted_pypi.core.links import local_segments
from twisted_pypi.resolve.target import Target
from twisted_pypi.storage.filecache import FileCache


class AnalyzeOptionsTests(SynchronousTestCase):
    """
    Parsing ``pypiproxy analyze`` options.
    """

    def parse(self, *args: str) -> AnalyzeOptions:
        """
        Parse ``args`` with a temporary cache directory.
        """
        options = AnalyzeOptions()
        options.parseOptions(["--cache-dir", self.mktemp(), *args])
        return options

    def test_options(self) -> None:
        """
        Projects become requirements; the target, dummies and index come
        from the options.
        """
        options = self.parse(
            "--index",
            "http://127.0.0.1:1/simple",
            "--dummy",
            "torch",
            "--python-version",
            "3.10",
            "--platform",
            "macosx_11_0_arm64",
            "--top",
            "5",
            "app[extra]>=1",
            "other",
        )
        self.assertEqual(
            [str(r) for r in options["requirements"]], ["app[extra]>=1", "other"]
        )
        self.assertEqual(options["target"].python_version, "3.10")
        self.assertEqual(options["target"].platform, "macosx_11_0_arm64")
        self.assertEqual(options["top"], 5)
        config = options["config"]
        self.assertEqual(config.indexes[0].url, "http://127.0.0.1:1/simple/")
        self.assertEqual([d.project for d in config.dummies], ["torch"])

    def test_defaults(self) -> None:
        """
        By default the target is the running interpreter and three
        suggestions are made.
        """
        options = self.parse("app")
        self.assertEqual(options["target"], Target.current())
        self.assertEqual(options["top"], 3)

    def test_subcommand(self) -> None:
        """
        ``pypiproxy analyze`` parses its arguments with these options.
        """
        options = Options()
        options.parseOptions(["analyze", "--cache-dir", self.mktemp(), "app"])
        self.assertEqual(options.subCommand, "analyze")
        self.assertIsInstance(options.subOptions, AnalyzeOptions)
        self.assertEqual([str(r) for r in options.subOptions["requirements"]], ["app"])

    def test_usage_errors(self) -> None:
        """
        Bad values are usage errors that say what is wrong.
        """
        cases = [
            ((), "give a project"),
            (("app!",), "is not a requirement"),
            (("app @ https://x.test/a.whl",), "project name"),
            (("--platform", "beos", "app"), "--platform"),
            (("--python-version", "two", "app"), "--python-version"),
            (("--python-version", "4", "--platform", "win32", "app"), "--python-"),
            (("--top", "-1", "app"), "-1"),
            (("--listen", "tcp:1", "app"), "option of serve"),
            (("--dummy", "torch>2", "app"), "--dummy"),
        ]
        for args, message in cases:
            with self.assertRaises(usage.UsageError, msg=args) as caught:
                self.parse(*args)
            self.assertIn(message, str(caught.exception), args)


class AnalyzeEndToEndTests(TestCase):
    """
    :func:`run_analyze` against a fake index on 127.0.0.1.
    """

    def setUp(self) -> None:
        self.wheels = {
            "app": build_wheel("app", "1.0", requires=["torch", "filelock"]),
            "torch": build_wheel(
                "torch",
                "2.3.1",
                requires=["nvidia-x; sys_platform == 'linux'", "triton", "filelock"],
                padding=300_000,
            ),
            "nvidia-x": build_wheel("nvidia-x", "12.1", padding=200_000),
            "triton": build_wheel("triton", "3.0", padding=100_000),
            "filelock": build_wheel("filelock", "3.13"),
        }
        index = FakeIndex()
        for name, wheel in self.wheels.items():
            index.add(name, FakeFile(wheel))
        self.upstream = LoopbackIndex(index)
        self.addCleanup(self.upstream.stop)
        self.cache = FilePath(self.mktemp())

    async def analyze(self, *args: str) -> tuple[int, str, str]:
        """
        Run the command with ``args``: its exit code, output and progress.
        """
        options = AnalyzeOptions()
        options.parseOptions(
            ["--index", self.upstream.url, "--cache-dir", self.cache.path, *args]
        )
        out, err = io.StringIO(), io.StringIO()
        code = await run_analyze(reactor, options, out, err)
        return code, out.getvalue(), err.getvalue()

    async def test_dummy_subtree(self) -> None:
        """
        What only torch pulls in is reported as replaced, filelock (which
        the app needs too) is not, and the totals differ by exactly torch
        and its own dependencies; progress goes to standard error and the
        pages to the cache directory.
        """
        code, out, err = await self.analyze(
            "--platform", "manylinux_2_28_x86_64", "--dummy", "torch", "app"
        )
        self.assertEqual(code, 0, err)
        notes = {
            line.split()[0]: line.split("  ")[-1].strip()
            for line in out.splitlines()
            if line.startswith(tuple(self.wheels))
        }
        self.assertEqual(notes["torch"], "dummy")
        self.assertEqual(notes["nvidia-x"], "only via torch")
        self.assertEqual(notes["triton"], "only via torch")
        self.assertNotIn("via", notes["filelock"])
        totals = [
            int(match.replace(",", ""))
            for match in re.findall(r"\(([\d,]+) bytes\)", out)
        ]
        size = {name: len(wheel.content) for name, wheel in self.wheels.items()}
        self.assertEqual(totals[0], sum(size.values()))
        self.assertEqual(
            totals[0] - totals[1], size["torch"] + size["nvidia-x"] + size["triton"]
        )
        self.assertIn("resolving torch…", err)
        self.assertIn("fetched metadata for torch 2.3.1", err)
        self.assertNotIn("resolving", out)
        pages = self.cache.child("pages").walk()
        self.assertTrue(any(p.basename() == "torch.page" for p in pages))

    async def test_markers_for_target(self) -> None:
        """
        A dependency behind a marker that does not hold for the target is
        not in the report.
        """
        code, out, err = await self.analyze("--platform", "win_amd64", "app")
        self.assertEqual(code, 0, err)
        self.assertNotIn("nvidia-x", out)
        self.assertIn("triton", out)

    async def test_upstream_down(self) -> None:
        """
        With the pages in the cache directory and the metadata in the file
        cache (as the proxy leaves them), the analysis works with the
        upstream down.
        """
        code, first, err = await self.analyze("app")
        self.assertEqual(code, 0, err)
        files = FileCache(self.cache, None, reactor)
        name = index_name_for(self.upstream.url)
        base = self.upstream.url.replace("/simple/", "/packages/")
        for wheel in self.wheels.values():
            segments = local_segments(name, base + wheel.filename)
            assert segments is not None
            path = files.path_for((*segments[:-1], segments[-1] + ".metadata"))
            path.parent().makedirs(ignoreExistingDirectory=True)
            path.setContent(wheel.metadata)
        await self.upstream.stop()
        code, second, err = await self.analyze("--index-ttl", "0", "app")
        self.assertEqual(code, 0, err)
        self.assertEqual(second, first)
        self.assertIn("using the cached page of torch", err)

    async def test_failure(self) -> None:
        """
        A resolution that fails exits with 1 and says why on standard error.
        """
        code, out, err = await self.analyze("app", "nope")
        self.assertEqual(code, 1)
        self.assertEqual(out, "")
        self.assertIn("could not resolve app nope:", err)
        self.assertIn("  - nope is not on the index", err)


#: The largest file the tests below download whole for its metadata.
LIMIT = 50_000


class AnalyzeWithoutMetadataTests(TestCase):
    """
    :func:`run_analyze` against a fake index on 127.0.0.1 with no PEP 658
    metadata, whose wheels are mostly larger than the download limit.
    """

    def setUp(self) -> None:
        self.wheels = {
            "webui": build_wheel(
                "webui", "1.0", requires=["torch", "filelock"], padding=80_000
            ),
            "app": build_wheel("app", "1.0", requires=["torch", "filelock"]),
            "torch": build_wheel(
                "torch",
                "2.3.1",
                requires=["nvidia-x; sys_platform == 'linux'", "triton", "filelock"],
                padding=300_000,
            ),
            "nvidia-x": build_wheel("nvidia-x", "12.1", padding=200_000),
            "triton": build_wheel("triton", "3.0", padding=100_000),
            "filelock": build_wheel("filelock", "3.13"),
        }
        self.index = RangedIndex()
        for name, wheel in self.wheels.items():
            self.index.add(name, FakeFile(wheel))
        self.upstream = LoopbackIndex(self.index)
        self.addCleanup(self.upstream.stop)
        self.cache = FilePath(self.mktemp())

    async def analyze(self, *args: str) -> tuple[int, str, str]:
        """
        Run the command for Linux with torch as a dummy and ``args``: its
        exit code, output and progress.
        """
        options = AnalyzeOptions()
        options.parseOptions(
            [
                "--index",
                self.upstream.url,
                "--cache-dir",
                self.cache.path,
                "--platform",
                "manylinux_2_28_x86_64",
                "--dummy",
                "torch",
                *args,
            ]
        )
        out, err = io.StringIO(), io.StringIO()
        code = await run_analyze(reactor, options, out, err, max_download=LIMIT)
        return code, out.getvalue(), err.getvalue()

    def notes(self, out: str) -> dict[str, str]:
        """
        The dummies column of each project in the table.
        """
        return {
            line.split()[0]: line.split("  ")[-1].strip()
            for line in out.splitlines()
            if line.startswith(tuple(self.wheels))
        }

    async def test_ranged_reads(self) -> None:
        """
        Wheels larger than the download limit are read by ranges: the tree
        has torch, what the dummy saves includes nvidia-x and triton, and
        the upstream sent ranges of the wheels, none of them whole.
        """
        code, out, err = await self.analyze("webui")
        self.assertEqual(code, 0, err)
        notes = self.notes(out)
        self.assertEqual(notes["torch"], "dummy")
        self.assertEqual(notes["nvidia-x"], "only via torch")
        self.assertEqual(notes["triton"], "only via torch")
        self.assertNotIn("via", notes["filelock"])
        size = {name: len(wheel.content) for name, wheel in self.wheels.items()}
        totals = [
            int(match.replace(",", ""))
            for match in re.findall(r"\(([\d,]+) bytes\)", out)
        ]
        self.assertEqual(
            totals[0] - totals[1], size["torch"] + size["nvidia-x"] + size["triton"]
        )
        self.assertNotIn("unknown", out)
        self.assertNotIn("not in the dependency tree", out)
        self.assertEqual(self.index.whole, [])
        read = {filename for filename, _ in self.index.ranged}
        self.assertEqual(
            read, {self.wheels[n].filename for n in self.wheels if n != "app"}
        )

    async def test_no_ranges_within_limit(self) -> None:
        """
        When the upstream does not honour ranges, wheels within the limit
        are downloaded whole; torch, over it, has unknown dependencies, and
        the report says the dummy may save more, with why.
        """
        self.index.honour_ranges = False
        code, out, err = await self.analyze("app")
        self.assertEqual(code, 0, err)
        self.assertEqual(self.index.ranged, [])
        self.assertIn("does not honour ranges", err)
        self.assertEqual(self.notes(out)["torch"], "dummy")
        self.assertNotIn("nvidia-x", self.notes(out))
        self.assertRegex(
            out,
            r"\(--dummy torch: may save more; dependencies unknown: torch 2\.3\.1:"
            r" torch-2\.3\.1-py3-none-any\.whl is [^)]* does not honour ranges\)",
        )
        self.assertNotIn("not in the dependency tree", out)

    async def test_no_ranges_over_limit(self) -> None:
        """
        When the upstream does not honour ranges and the project asked for
        is over the limit, its tree is unknown: the report says so, never
        that the dummy is not in the dependency tree.
        """
        self.index.honour_ranges = False
        code, out, err = await self.analyze("webui")
        self.assertEqual(code, 0, err)
        self.assertIn(
            "(--dummy torch: unknown whether it is in the dependency tree;"
            " dependencies unknown: webui 1.0: webui-1.0-py3-none-any.whl is",
            out,
        )
        self.assertIn("(the dependencies of 1 package unknown)", out)
        self.assertNotIn("not in the dependency tree", out)
