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
