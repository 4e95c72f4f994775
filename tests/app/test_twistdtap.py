"""
Tests for :mod:`twisted_pypi.app.twistdtap`: what ``twistd pypiproxy`` runs.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app import tap, twistdtap


class TwistdOptionsTests(SynchronousTestCase):
    """
    ``twistd pypiproxy``'s options are the proxy's, with a bad one told in
    one line.
    """

    def test_same_service(self) -> None:
        """
        The options are those of ``pypiproxy serve`` and the service is made
        the same way.
        """
        options = twistdtap.Options()
        options.parseOptions(["--cache-dir", self.mktemp(), "--index-ttl", "60"])
        self.assertIsInstance(options, tap.Options)
        self.assertIs(twistdtap.makeService, tap.makeService)

    def test_bad_option(self) -> None:
        """
        A bad option ends the program with one line saying what was wrong
        and where to read the usage, not with a ``UsageError`` that twistd
        would answer with its whole usage.
        """
        with self.assertRaises(SystemExit) as caught:
            twistdtap.Options().parseOptions(["--bogus"])
        self.assertEqual(
            str(caught.exception.code),
            "twistd pypiproxy: error: option --bogus not recognized"
            " (see 'twistd pypiproxy --help')",
        )
