"""
Tests for :mod:`twisted_pypi.resolve.analyze`: what dummies replace, the report's
text, the options, and ``pypiproxy analyze`` end to end against a fake index
on 127.0.0.1.
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
from twisted_pypi.app.cli import Options
from twisted_pypi.core.config import index_name_for
from twisted_pypi.core.links import local_segments
from twisted_pypi.core.model import DistFile
from twisted_pypi.resolve.analyze import (
    AnalyzeOptions,
    build_report,
    format_report,
    reachable,
    replaced_by,
    run_analyze,
    suggest,
)
from twisted_pypi.resolve.resolver import Pin, Resolution
from twisted_pypi.resolve.target import Target
from twisted_pypi.storage.filecache import FileCache

#: app → torch → (nvidia-x, triton, filelock); app → filelock, requests;
#: requests → urllib3.
EDGES = frozenset(
    {
        ("app", "torch"),
        ("app", "filelock"),
        ("app", "requests"),
        ("torch", "nvidia-x"),
        ("torch", "triton"),
        ("torch", "filelock"),
        ("requests", "urllib3"),
    }
)

SIZES = {
    "app": 1_000,
    "torch": 800 << 20,
    "nvidia-x": 400 << 20,
    "triton": 150 << 20,
    "filelock": 16_000,
    "requests": 64_000,
    "urllib3": 128_000,
}


def resolution(sizes: dict[str, int | None] | None = None) -> Resolution:
    """
    A hand-made resolution of the app's tree.
    """
    sizes = dict(SIZES) if sizes is None else sizes
    pins = {
        name: Pin(
            name,
            "1.0",
            DistFile(f"{name.replace('-', '_')}-1.0-py3-none-any.whl", "u", size=size),
        )
        for name, size in sizes.items()
    }
    return Resolution(Target.create("3.11", "win_amd64"), pins, ("app",), EDGES)


class GraphTests(SynchronousTestCase):
    """
    :func:`reachable`, :func:`replaced_by` and :func:`suggest`.
    """

    def test_reachable_with_cut(self) -> None:
        """
        Cutting a project keeps it but not what only it leads to.
        """
        self.assertEqual(reachable(["app"], EDGES, ()), set(SIZES))
        self.assertEqual(
            reachable(["app"], EDGES, {"torch"}),
            {"app", "torch", "filelock", "requests", "urllib3"},
        )

    def test_replaced_by(self) -> None:
        """
        A dummy replaces itself and what only it pulls in; a project another
        path also needs stays.
        """
        self.assertEqual(
            replaced_by(["app"], EDGES, {"torch"}),
            {"torch": (), "nvidia-x": ("torch",), "triton": ("torch",)},
        )

    def test_replaced_by_several(self) -> None:
        """
        A project only two dummies lead to is replaced by both; a dummy that
        is not in the tree replaces nothing.
        """
        edges = EDGES | {("requests", "triton")}
        self.assertEqual(
            replaced_by(["app"], edges, {"torch", "requests", "absent"}),
            {
                "requests": (),
                "torch": (),
                "nvidia-x": ("torch",),
                "triton": ("requests", "torch"),
                "urllib3": ("requests",),
            },
        )

    def test_suggest(self) -> None:
        """
        The heaviest project with what only it needs is suggested first, and
        nothing inside an earlier suggestion is suggested again.
        """
        found = suggest(resolution(), (), 2)
        self.assertEqual(
            [(s.name, s.projects) for s in found],
            [
                ("torch", ("torch", "nvidia-x", "triton")),
                ("requests", ("requests", "urllib3")),
            ],
        )
        self.assertEqual(found[0].saves, (800 + 400 + 150) << 20)

    def test_suggest_minimum(self) -> None:
        """
        A project that saves less than the minimum is not suggested.
        """
        found = suggest(resolution(), (), 3, minimum=100_000)
        self.assertEqual([s.name for s in found], ["torch", "requests"])

    def test_suggest_skips_dummies_and_roots(self) -> None:
        """
        Projects already dummies, what they replace, and the projects asked
        for are not suggested.
        """
        found = suggest(resolution(), {"torch"}, 5)
        self.assertEqual([s.name for s in found], ["requests", "filelock"])


class ReportTests(SynchronousTestCase):
    """
    :func:`build_report` and :func:`format_report`.
    """

    def test_table(self) -> None:
        """
        The table lists every project, largest first, with what the dummies
        replace; the totals with and without them and the suggestions follow.
        """
        text = format_report(build_report(resolution(), ["requests"], 3))
        self.assertEqual(
            text,
            """\
app for CPython 3.11 on win_amd64:

project   version       size  dummies
torch     1.0      800.0 MiB
nvidia-x  1.0      400.0 MiB
triton    1.0      150.0 MiB
urllib3   1.0      125.0 KiB  only via requests
requests  1.0       62.5 KiB  dummy
filelock  1.0       15.6 KiB
app       1.0         1000 B

total download:    1.3 GiB (1,415,786,600 bytes) in 7 packages
with the dummies:  1.3 GiB (1,415,594,600 bytes) in 5 packages (--dummy requests)

suggested:
  --dummy torch  saves 1.3 GiB: torch, nvidia-x, triton
""",
        )

    def test_unknown_sizes_and_notes(self) -> None:
        """
        Unknown sizes show as ``?`` and make the totals a lower bound; a
        dummy outside the tree and the resolution's notes are mentioned.
        """
        sizes: dict[str, int | None] = dict(SIZES)
        sizes["urllib3"] = None
        report = build_report(resolution(sizes), ["absent"], 0)
        text = format_report(report)
        self.assertRegex(text, r"\nurllib3 +1\.0 +\?\n")
        self.assertIn("at least 1.3 GiB", text)
        self.assertIn("(1 of unknown size)", text)
        self.assertIn("(--dummy absent: not in the dependency tree)", text)
        self.assertNotIn("suggested", text)


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
