"""
Tests for :mod:`twisted_pypi.app.output`: ``--help`` and ``--version`` whose
reader went away end quietly, from ``twistd`` as from ``pypiproxy``.
"""

from __future__ import annotations

import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.output import BROKEN_PIPE_STATUS

_TWISTD = (
    "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
)


def _run_into_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    """
    Run ``argv`` with its standard output a pipe whose reading end is
    already closed.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPIPROXY_")}
    try:
        return subprocess.run(
            argv,
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            timeout=60,
            env=env,
        )
    finally:
        os.close(write_end)


class ClosedPipeTests(SynchronousTestCase):
    """
    The real processes, writing to a closed pipe.
    """

    def check(self, *args: str) -> None:
        """
        ``twistd`` with ``args`` ends with status 1 and nothing on
        standard error.
        """
        done = _run_into_closed_pipe([sys.executable, "-c", _TWISTD, *args])
        self.assertEqual(done.stderr, b"", args)
        self.assertEqual(done.returncode, BROKEN_PIPE_STATUS, args)

    def test_twistd_help(self) -> None:
        """
        ``twistd pypiproxy --help | head`` ends quietly.
        """
        self.check("pypiproxy", "--help")

    def test_twistd_nodaemon_help(self) -> None:
        """
        ``twistd -n pypiproxy --help | head`` ends quietly.
        """
        self.check("-n", "--pidfile=", "pypiproxy", "--help")

    def test_twistd_version(self) -> None:
        """
        ``twistd pypiproxy --version | head`` ends quietly.
        """
        self.check("pypiproxy", "--version")

    def test_pypiproxy_subcommand_help(self) -> None:
        """
        ``pypiproxy export --help | head`` ends quietly, as ``serve
        --help`` does.
        """
        argv = [sys.executable, "-m", "twisted_pypi", "export", "--help"]
        done = _run_into_closed_pipe(argv)
        self.assertEqual(done.stderr, b"")
        self.assertEqual(done.returncode, BROKEN_PIPE_STATUS)


class OpenPipeTests(SynchronousTestCase):
    """
    With a reader, ``twistd pypiproxy --help`` prints the help and exits 0.
    """

    def test_help(self) -> None:
        """
        The help names the proxy's options, and the status is 0.
        """
        done = subprocess.run(
            [sys.executable, "-c", _TWISTD, "pypiproxy", "--help"],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn(b"--cache-dir", done.stdout)
        self.assertEqual(done.stderr, b"")
