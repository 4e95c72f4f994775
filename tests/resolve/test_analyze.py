"""
Tests for :mod:`twisted_pypi.resolve.analyze`: what dummies replace, the
report's text, and the analysis over a page cache and metadata source
talking to a fake index on 127.0.0.1.
"""

from __future__ import annotations

import io

from attrs import evolve
from packaging.requirements import Requirement
from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, HTTPConnectionPool

from tests.fakeindex import FakeFile, FakeIndex
from tests.resolve.test_resolver import LoopbackIndex
from tests.wheels import build_wheel
from twisted_pypi.core.config import IndexConfig, ProxyConfig, index_name_for
from twisted_pypi.core.model import DistFile
from twisted_pypi.resolve.analyze import (
    analyze,
    build_report,
    format_report,
    reachable,
    replaced_by,
    suggest,
)
from twisted_pypi.resolve.metadata import IndexMetadataSource
from twisted_pypi.resolve.resolver import Pin, Resolution
from twisted_pypi.resolve.target import Target
from twisted_pypi.sources.remote import PageCache, PageStore

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


class UnknownReportTests(SynchronousTestCase):
    """
    What the report says when some projects' dependencies are unknown.
    """

    def test_absent_dummy_in_incomplete_tree(self) -> None:
        """
        A dummy absent from a tree whose dependencies are partly unknown is
        said to be unknown, with why, never "not in the dependency tree";
        the total is a lower bound.
        """
        alone = resolution({"app": 1_000})
        alone = evolve(alone, edges=frozenset(), unknown={"app": "too big"})
        text = format_report(build_report(alone, ["torch"], 3))
        self.assertIn(
            "(--dummy torch: unknown whether it is in the dependency tree;"
            " dependencies unknown: app 1.0: too big)",
            text,
        )
        self.assertNotIn("not in the dependency tree", text)
        self.assertIn(
            "total download:    at least 1000 B (1,000 bytes) in 1 package"
            " (the dependencies of 1 package unknown)",
            text,
        )

    def test_dummy_with_unknown_subtree(self) -> None:
        """
        A dummy whose own dependencies (or those of a project below it) are
        unknown may save more than shown, and the report says so with why;
        the total with the dummies, which keeps no unknown, is exact.
        """
        unknown = {"triton": "no ranges", "requests": "dynamic"}
        report = build_report(evolve(resolution(), unknown=unknown), ["torch"], 0)
        text = format_report(report)
        self.assertIn(
            "(--dummy torch: may save more; dependencies unknown:"
            " triton 1.0: no ranges)",
            text,
        )
        self.assertIn("(the dependencies of 2 packages unknown)", text)
        self.assertRegex(
            text, r"with the dummies:  at least [^\n]*\(the dependencies of 1 package"
        )
        self.assertNotIn("not in the dependency tree", text)

    def test_complete_tree(self) -> None:
        """
        With every dependency known, an absent dummy is not in the tree and
        nothing is said to be unknown.
        """
        text = format_report(build_report(resolution(), ["torch", "absent"], 0))
        self.assertIn("(--dummy absent: not in the dependency tree)", text)
        self.assertNotIn("unknown", text)


class AnalyzeTests(TestCase):
    """
    :func:`analyze` with a page cache and a metadata source talking to a
    fake index on 127.0.0.1.
    """

    def setUp(self) -> None:
        """
        app needs torch, which is large; both are on the fake index.
        """
        index = FakeIndex(mode="json")
        index.add("app", FakeFile(build_wheel("app", "1.0", requires=["torch"])))
        index.add("torch", FakeFile(build_wheel("torch", "2.0", padding=100_000)))
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
        self.said: list[str] = []

    async def analyze(self, *projects: str) -> tuple[int, str]:
        """
        Analyze ``projects`` with torch as a dummy: the exit code and the
        report.
        """
        out = io.StringIO()
        code = await analyze(
            [Requirement(p) for p in projects],
            Target.create("3.11", "win_amd64"),
            self.pages.get_project,
            self.metadata,
            reactor,
            dummies=["torch"],
            top=3,
            out=out,
            say=self.said.append,
        )
        return code, out.getvalue()

    async def test_report(self) -> None:
        """
        The report of the resolution is written, the progress is told, and
        the exit code is 0.
        """
        code, out = await self.analyze("app")
        self.assertEqual(code, 0, self.said)
        self.assertTrue(out.startswith("app for CPython 3.11 on win_amd64:\n"), out)
        self.assertRegex(out, r"\ntorch +2\.0 +[\d.]+ KiB +dummy\n")
        self.assertIn("with the dummies:", out)
        self.assertIn("analyzing app for CPython 3.11 on win_amd64…", self.said)

    async def test_failure(self) -> None:
        """
        A resolution that fails writes no report, tells each problem and
        gives 1.
        """
        code, out = await self.analyze("app", "nope")
        self.assertEqual((code, out), (1, ""))
        self.assertIn("pypiproxy analyze: could not resolve app nope:", self.said)
        problems = [line for line in self.said if line.startswith("  - ")]
        self.assertEqual(len(problems), 1, self.said)
        self.assertIn("nope is not on the index", problems[0])
