"""
The installed package: the twistd plugin and the console script.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys

from twisted.trial.unittest import SkipTest, SynchronousTestCase


def installed_script(name: str) -> str:
    """
    The path of a console script installed beside the running interpreter;
    skips the test unless the project is really installed (its twistd plugin
    file is in site-packages: a bare checkout, or an editable install, which
    hides the plugin, does not count).
    """
    plugin = os.path.join("twisted", "plugins", "twisted_pypi_plugin.py")
    if not any(
        os.path.exists(os.path.join(directory, plugin))
        for directory in site.getsitepackages()
    ):
        raise SkipTest(
            "twisted-pypi is not installed (non-editable) in this environment; "
            "run the suite through tox"
        )
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        raise SkipTest(f"{name} is not installed beside {sys.executable}")
    return path


class InstalledTests(SynchronousTestCase):
    """
    What ``pip install .`` gives a user.
    """

    def run_script(self, *args: str) -> subprocess.CompletedProcess[str]:
        """
        Run an installed script outside the source tree, so that only the
        installed package can answer.
        """
        cwd = self.mktemp()
        os.makedirs(cwd)
        return subprocess.run(
            list(args),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": ""},
        )

    def test_twistd_lists_plugin(self) -> None:
        """
        ``twistd --help`` lists the ``pypiproxy`` command.
        """
        result = self.run_script(installed_script("twistd"), "--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("pypiproxy", result.stdout)

    def test_twistd_plugin_help(self) -> None:
        """
        ``twistd pypiproxy --help`` shows the proxy's options.
        """
        result = self.run_script(installed_script("twistd"), "pypiproxy", "--help")
        self.assertEqual(result.returncode, 0, result.stderr)
        for option in (
            "--listen",
            "--index",
            "--cache-dir",
            "--cache-size",
            "--index-ttl",
            "--base-url",
        ):
            self.assertIn(option, result.stdout)

    def test_console_script_bad_option(self) -> None:
        """
        ``pypiproxy serve`` with a bad value exits with status 2 and says
        what is wrong in one line, without a traceback.
        """
        result = self.run_script(
            installed_script("pypiproxy"), "serve", "--cache-size", "huge"
        )
        self.assertEqual(result.returncode, 2)
        self.assertIn("not a size", result.stderr)
        self.assertEqual(result.stderr.count("\n"), 1, result.stderr)
