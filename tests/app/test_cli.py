"""
Tests for :mod:`twisted_pypi.app.cli`: the ``pypiproxy`` command line, its
usage errors and exit codes (``passwd`` is tested in
``tests/upload/test_users.py``, ``cache`` in ``tests/storage/test_cachedir.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi import __version__
from twisted_pypi.app.cli import main


class CommandTests(SynchronousTestCase):
    """
    ``pypiproxy`` (:func:`twisted_pypi.app.cli.main`).
    """

    def run_main(self, *argv: str) -> tuple[int | str | None, str, str]:
        """
        Run ``pypiproxy argv...`` until it exits.

        :return: The exit code, standard output and standard error.
        """
        out, err = StringIO(), StringIO()
        self.patch(sys, "stdout", out)
        self.patch(sys, "stderr", err)
        exit = self.assertRaises(SystemExit, main, list(argv))
        return exit.code, out.getvalue(), err.getvalue()

    def test_no_command(self) -> None:
        """
        Without a command, it exits with status 2, the usage and an error
        that asks for a command.
        """
        code, out, err = self.run_main()
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        self.assertIn("pypiproxy <command> [options]", err)
        self.assertIn("serve", err)
        self.assertIn("pypiproxy: error: a command is required", err)

    def test_bad_option(self) -> None:
        """
        An unknown option exits with status 2 and names the option.
        """
        code, _, err = self.run_main("--bogus")
        self.assertEqual(code, 2)
        self.assertIn("pypiproxy: error:", err)
        self.assertIn("bogus", err)

    def test_bad_serve_option(self) -> None:
        """
        A bad ``serve`` option value exits with status 2 and says what is
        wrong with it in one line, pointing at the command's help.
        """
        code, _, err = self.run_main("serve", "--index", "ftp://example.com/simple/")
        self.assertEqual(code, 2)
        self.assertIn("pypiproxy: error: --index 'ftp://example.com/simple/'", err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("(see 'pypiproxy serve --help')", err)
        code, _, err = self.run_main("serve", "--cache-size", "huge")
        self.assertEqual(code, 2)
        self.assertIn("not a size", err)

    def test_version(self) -> None:
        """
        ``--version`` prints the version and exits with status 0.
        """
        code, out, err = self.run_main("--version")
        self.assertEqual(code, 0)
        self.assertEqual(out, f"twisted-pypi {__version__}\n")
        self.assertEqual(err, "")

    def test_subcommand_version(self) -> None:
        """
        ``--version`` after any command prints twisted-pypi's version, not
        Twisted's (which ``usage.Options`` would print).
        """
        for command in ("serve", "analyze", "warm", "export"):
            code, out, _ = self.run_main(command, "--version")
            self.assertEqual((code, out), (0, f"twisted-pypi {__version__}\n"))

    def test_reader_gone(self) -> None:
        """
        When the reader of the output goes away (``pypiproxy --help | head``
        with a closed pipe), the command ends quietly: no traceback, no
        "Exception ignored" message.
        """
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "twisted_pypi", "serve", "--help"],
                stdout=write_end,
                stderr=subprocess.PIPE,
                timeout=60,
            )
        finally:
            os.close(write_end)
        self.assertEqual(done.stderr, b"")
        self.assertEqual(done.returncode, 1)

    def test_help(self) -> None:
        """
        ``--help`` prints the usage, listing every command, and exits with
        status 0.
        """
        code, out, err = self.run_main("--help")
        self.assertEqual(code, 0)
        self.assertIn("pypiproxy <command> [options]", out)
        for command in ["serve", "analyze", "passwd", "warm", "export", "cache"]:
            self.assertIn(command, out)
        self.assertEqual(err, "")

    def test_unknown_command(self) -> None:
        """
        An unknown command exits with status 2, the usage and an error that
        names it.
        """
        code, out, err = self.run_main("frobnicate")
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        self.assertIn("pypiproxy <command> [options]", err)
        self.assertIn("pypiproxy: error:", err)
        self.assertIn("frobnicate", err)

    def test_bad_passwd_arguments(self) -> None:
        """
        ``passwd`` without its two arguments exits with status 2 and says
        what it expects.
        """
        code, _, err = self.run_main("passwd", "users.txt")
        self.assertEqual(code, 2)
        self.assertIn("pypiproxy: error: expected two arguments: FILE USER", err)
