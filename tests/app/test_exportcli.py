"""
Tests for :mod:`twisted_pypi.app.exportcli`: the options of ``pypiproxy
export`` and the command's summary and notes, and the supply-chain policy's
options applied to what it exports.
"""

from __future__ import annotations

import io
import os

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.app.cachefill import fill_cache
from tests.fakes import MemoryProxy
from tests.policyfakes import DAY, NEWEST, NOW, OLD, RECENT, PolicyProxyCase
from twisted_pypi.app.exportcli import ExportOptions, run_export
from twisted_pypi.core.moments import parse_snapshot, snapshot_text


class ExportOptionsTests(SynchronousTestCase):
    """
    :class:`ExportOptions`.
    """

    def test_directory(self) -> None:
        """
        The one argument is the directory, made absolute (serve's --listen
        and --offline are accepted and ignored); none or two are usage
        errors.
        """
        cache = self.mktemp()
        fill_cache(cache)
        options = ExportOptions()
        options.parseOptions(
            ["--cache-dir", cache, "--listen", "tcp:1", "--offline", "out"]
        )
        self.assertEqual(options["directory"], os.path.abspath("out"))
        for args in ([], ["a", "b"]):
            self.assertRaises(
                usage.UsageError,
                ExportOptions().parseOptions,
                ["--cache-dir", "c", *args],
            )

    def test_snapshot(self) -> None:
        """
        ``--snapshot`` gives the moment to export at; a timestamp that is
        none is a usage error saying so.
        """
        cache = self.mktemp()
        fill_cache(cache)
        options = ExportOptions()
        options.parseOptions(["--cache-dir", cache, "--snapshot", "2025-06-01", "o"])
        self.assertEqual(options["moment"], parse_snapshot("2025-06-01"))
        error = self.assertRaises(
            usage.UsageError,
            ExportOptions().parseOptions,
            ["--cache-dir", cache, "--snapshot", "June", "o"],
        )
        self.assertTrue(str(error).startswith("--snapshot: 'June'"), error)


class RunExportPolicyTests(PolicyProxyCase):
    """
    :func:`run_export` under the supply-chain policy's options, over a cache
    a proxy filled with ``demo`` 1.0 (a month old), 2.0 (three days old) and
    3.0 (an hour old).
    """

    def exported(self, *args: str, wheels: bool = True) -> list[str]:
        """
        Run the command at the tests' "now" with ``args``: the wheels of
        ``demo`` it exported (with ``wheels=False``, every file of it).
        """
        out = FilePath(self.mktemp())
        options = ExportOptions()
        options.parseOptions(
            [
                "--index", MemoryProxy.UPSTREAM,
                "--cache-dir", self.cache_dir.path,
                *args, out.path,
            ]
        )  # fmt: skip
        err = io.StringIO()
        clock = Clock()
        clock.advance(NOW)
        work = run_export(clock, options, err)
        self.assertEqual(self.successResultOf(Deferred.fromCoroutine(work)), 0)
        exported = out.descendant(["packages", "demo"]).listdir()
        return sorted(n for n in exported if n.endswith(".whl") or not wheels)

    def test_policy_and_snapshot(self) -> None:
        """
        ``--min-age`` leaves out what it holds back at the time of the
        export (the files and their ``.metadata``), ``--snapshot`` what was
        uploaded after the snapshot.
        """
        proxy = self.proxy()
        proxy.get("/simple/demo/")
        for wheel in (OLD, RECENT, NEWEST):
            self.assertEqual(proxy.get(proxy.file_path(wheel.filename)).code, 200)
        self.assertEqual(len(self.exported()), 3)
        self.assertEqual(self.exported("--min-age", "7d"), [OLD.filename])
        self.assertEqual(
            self.exported("--min-age", "7d", wheels=False),
            [OLD.filename, OLD.filename + ".metadata"],
        )
        self.assertEqual(
            self.exported("--snapshot", snapshot_text(NOW - 2 * DAY)),
            [OLD.filename, RECENT.filename],
        )


class RunExportTests(SynchronousTestCase):
    """
    :func:`run_export` on a cache directory.
    """

    def run_export(self, *args: str) -> tuple[int, str]:
        """
        Run the command with ``args`` on :attr:`cache`: its exit code and
        what it wrote to standard error.
        """
        options = ExportOptions()
        options.parseOptions(["--cache-dir", self.cache.path, *args])
        err = io.StringIO()
        work = run_export(Clock(), options, err)
        code: int = self.successResultOf(Deferred.fromCoroutine(work))
        return code, err.getvalue()

    def setUp(self) -> None:
        """
        A cache directory holding pages of an index named ``other`` only.
        """
        self.cache = FilePath(self.mktemp())
        self.cache.child("pages").child("other").makedirs()

    def test_summary_and_other_indexes(self) -> None:
        """
        The summary names the directory, and a note names the indexes whose
        pages the cache holds but the options do not give.
        """
        self.cache.child("pages").child("mine").makedirs()
        out = FilePath(self.mktemp())
        code, err = self.run_export(
            "--index", "mine=http://127.0.0.1:9/simple/", out.path
        )
        self.assertEqual(code, 0, err)
        self.assertEqual(
            err,
            "exported 0 projects (0 written, 0 unchanged, 0 removed);"
            f" 0 files linked, 0 copied to {out.path}\n"
            "note: the cache also holds pages of other; give export the --index"
            " options of the proxy to export them\n",
        )

    def test_failure(self) -> None:
        """
        A directory that cannot be written exits with 1 and says why.
        """
        blocker = FilePath(self.mktemp())
        blocker.setContent(b"a file")
        code, err = self.run_export(
            "--index", "other=http://127.0.0.1:9/simple/", blocker.child("out").path
        )
        self.assertEqual(code, 1)
        self.assertTrue(err.startswith("pypiproxy export: "), err)
