"""
Tests for :mod:`twisted_pypi.app.policycli`: ``pypiproxy policy explain``,
its options, and the command end to end against a fake index on 127.0.0.1
(upload times relative to the wall clock, which the reactor keeps).
"""

from __future__ import annotations

import io
import time

from twisted.internet import reactor
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.fakeindex import FakeIndex
from tests.policyfakes import NEWEST, OLD, RECENT, add_demo
from tests.resolve.test_resolver import LoopbackIndex
from twisted_pypi.app.cli import Options
from twisted_pypi.app.policycli import ExplainOptions, run_explain


class ExplainOptionsTests(SynchronousTestCase):
    """
    Parsing ``pypiproxy policy explain``.
    """

    def test_subcommand(self) -> None:
        """
        ``pypiproxy policy explain PROJECT`` takes the proxy's options, the
        project (normalized) and ``--snapshot``.
        """
        options = Options()
        options.parseOptions(
            ["policy", "explain", "--cache-dir", self.mktemp(), "--min-age", "7d",
             "My_Project", "--snapshot", "2025-06-01"]
        )  # fmt: skip
        explain = options.subOptions.subOptions
        self.assertIsInstance(explain, ExplainOptions)
        self.assertEqual(explain["project"], "my-project")
        self.assertEqual(explain["config"].policy.min_age, 7 * 86400)
        self.assertEqual(explain["moment"], 1748736000.0)

    def test_errors(self) -> None:
        """
        No project, a bad name or a bad snapshot is a clear error.
        """
        for args, wanted in [
            ((), "give one project"),
            (("a b",), "not a project name"),
            (("demo", "--snapshot", "June"), "--snapshot: 'June'"),
            (("demo", "--listen", "tcp:0"), "--listen is an option of serve"),
        ]:
            options = ExplainOptions()
            with self.assertRaises(usage.UsageError) as caught:
                options.parseOptions(["--cache-dir", self.mktemp(), *args])
            self.assertIn(wanted, str(caught.exception))
        with self.assertRaises(usage.UsageError) as caught:
            Options().parseOptions(["policy"])
        self.assertIn("policy explain PROJECT", str(caught.exception))


class ExplainEndToEndTests(TestCase):
    """
    :func:`run_explain` against a fake index on 127.0.0.1.
    """

    def setUp(self) -> None:
        self.upstream = LoopbackIndex(add_demo(FakeIndex(), time.time()))
        self.addCleanup(self.upstream.stop)
        self.cache = FilePath(self.mktemp())

    async def explain(self, *args: str) -> tuple[int, str, str]:
        """Run the command with ``args``: its exit code, output, errors."""
        options = ExplainOptions()
        options.parseOptions(
            ["--index", self.upstream.url, "--cache-dir", self.cache.path, *args]
        )
        out, err = io.StringIO(), io.StringIO()
        code = await run_explain(reactor, options, out, err)
        return code, out.getvalue(), err.getvalue()

    async def test_explain(self) -> None:
        """
        Each file is shown with whether it is served and, if not, the rule
        and the reason; then a summary.
        """
        code, out, err = await self.explain(
            "--min-age", "7d", "--deny", "demo==3.0", "demo"
        )
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(lines[0], f"{OLD.filename}  [127.0.0.1:{self.port()}]")
        self.assertTrue(lines[1].strip().startswith("served (uploaded "), lines[1])
        self.assertTrue(lines[3].strip().startswith("min-age: held back: uploaded"))
        self.assertIn("younger than --min-age 7d", lines[3])
        self.assertEqual(
            lines[5].strip(), "deny: held back: denied by --deny 'demo==3.0'"
        )
        self.assertIn(RECENT.filename, lines[2])
        self.assertIn(NEWEST.filename, lines[4])
        self.assertEqual(lines[-1], "demo: 3 files, 1 served, 2 held back")

    async def test_missing(self) -> None:
        """
        A project the index does not have is an error (exit code 1).
        """
        code, out, err = await self.explain("nothing")
        self.assertEqual((code, out), (1, ""))
        self.assertIn("nothing: not found", err)

    def port(self) -> str:
        """The fake index's port."""
        return self.upstream.url.split(":")[2].split("/")[0]
