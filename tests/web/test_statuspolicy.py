"""
Tests for :mod:`twisted_pypi.web.statuspolicy`: the status page's section on
the supply-chain policy, flattened directly.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.template import flattenString

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.policy import Decision, Policy, Rule, parse_deny
from twisted_pypi.core.stats import Stats
from twisted_pypi.web.statuspolicy import policy_section


class SectionTests(SynchronousTestCase):
    """
    :func:`policy_section`.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.stats = Stats(self.clock)

    def html(self, policy: Policy) -> str:
        """The section, flattened."""
        config = ProxyConfig(policy=policy)
        body = self.successResultOf(
            flattenString(None, policy_section(config, self.stats))
        )
        return body.decode()

    def test_none(self) -> None:
        """
        Without a policy, and nothing held back, there is no section.
        """
        self.assertEqual(self.html(Policy()), "")

    def test_settings_and_decisions(self) -> None:
        """
        The settings are listed, then the counts by rule and the latest
        decisions, newest first, each with its file, index and reason
        (escaped).
        """
        policy = Policy(
            min_age=7 * 86400,
            index_min_age={"fast": 0.0},
            exempt=frozenset({"urgent"}),
            deny=(parse_deny("evil<2"),),
        )
        self.stats.policy.decided(
            [("pypi", "a-1.whl", Decision(Rule.MIN_AGE, "uploaded <today>"))]
        )
        self.clock.advance(60)
        self.stats.policy.download("pypi", "b-1.whl", Decision(Rule.DENY, "denied"))
        html = self.html(policy)
        self.assertIn("Supply-chain policy", html)
        self.assertIn("enforced", html)
        self.assertIn("7d, off on fast", html)
        self.assertIn("urgent", html)
        self.assertIn("evil&lt;2", html)
        self.assertIn("held back: uploaded &lt;today&gt;", html)
        self.assertLess(html.index("b-1.whl"), html.index("a-1.whl"))
        self.assertIn("1 download refused", html)

    def test_dry_run_and_snapshots(self) -> None:
        """
        A dry run is shown as such; a snapshot's decisions show the section
        even without a policy.
        """
        self.assertIn("dry run", self.html(Policy(min_age=60.0, dry_run=True)))
        self.stats.policy.decided(
            [("pypi", "c-1.whl", Decision(Rule.SNAPSHOT, "after snapshot"))], 5.0
        )
        self.assertIn("c-1.whl", self.html(Policy()))
