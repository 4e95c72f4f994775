"""
Tests for :mod:`twisted_pypi.app.policyoptions`: the supply-chain policy's
options, from the command line, the environment and the TOML file.
"""

from __future__ import annotations

from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.tap import Options
from twisted_pypi.core.policy import Policy, parse_deny


class PolicyOptionsTests(SynchronousTestCase):
    """
    The policy the proxy's options set.
    """

    def parse(self, *args: str, environ: dict[str, str] | None = None) -> Policy:
        """The policy of ``args`` (with a temporary cache directory)."""
        options = Options()
        options.environ = environ or {}
        options.parseOptions(["--cache-dir", self.mktemp(), *args])
        policy: Policy = options["config"].policy
        return policy

    def error(self, *args: str, environ: dict[str, str] | None = None) -> str:
        """The message of the error ``args`` give."""
        with self.assertRaises(usage.UsageError) as caught:
            self.parse(*args, environ=environ)
        return str(caught.exception)

    def test_default(self) -> None:
        """
        Without any of the options, no policy is active.
        """
        self.assertEqual(self.parse(), Policy())
        self.assertFalse(self.parse().active)

    def test_all(self) -> None:
        """
        Each option sets its part of the policy; a per-index ``min-age=``
        is kept by index name, and the local indexes are never aged.
        """
        local = FilePath(self.mktemp())
        local.makedirs()
        policy = self.parse(
            "--min-age", "7d",
            "--min-age-exempt", "Urgent_Fix",
            "--deny", "evilpkg",
            "--deny", "urllib3<2",
            "--policy-dry-run",
            "--index", "fast=https://f.test/simple/,min-age=0",
            "--index", "https://slow.test/simple/",
            "--local", f"wheels={local.path}",
        )  # fmt: skip
        self.assertEqual(
            policy,
            Policy(
                min_age=7 * 86400,
                index_min_age={"fast": 0.0},
                unaged=frozenset({"wheels"}),
                exempt=frozenset({"urgent-fix"}),
                deny=(parse_deny("evilpkg"), parse_deny("urllib3<2")),
                dry_run=True,
            ),
        )

    def test_environment(self) -> None:
        """
        ``PYPIPROXY_*`` variables set them too (repeatable ones separated by
        spaces).
        """
        policy = self.parse(
            environ={"PYPIPROXY_MIN_AGE": "36h", "PYPIPROXY_DENY": "a b==1"}
        )
        self.assertEqual(policy.min_age, 36 * 3600)
        self.assertEqual([r.text for r in policy.deny], ["a", "b==1"])

    def test_errors(self) -> None:
        """
        A bad value is one line naming the option (or the variable).
        """
        for args, wanted in [
            (("--min-age", "7"), "--min-age: '7' is not a duration"),
            (("--deny", "a b"), "--deny 'a b' is not a requirement"),
            (("--deny", "x[y]"), "--deny 'x[y]': give a project name"),
            (("--min-age-exempt", "no such"), "--min-age-exempt: 'no such'"),
            (("--index", "https://h/simple/,min-age=x"), "--index: min-age: 'x'"),
        ]:
            message = self.error(*args)
            self.assertIn(wanted, message)
            self.assertNotIn("\n", message)
        message = self.error(environ={"PYPIPROXY_MIN_AGE": "soon"})
        self.assertTrue(message.startswith("PYPIPROXY_MIN_AGE: --min-age:"), message)
