# -*- test-case-name: tests.web.test_statuspolicy -*-
"""
The status page's section on the supply-chain policy: its settings
(``--min-age`` and each index's own, exemptions, ``--deny`` rules, dry
run), what it held back by rule, and the latest decisions with their
reasons (newest first).  Shown when a policy is set or a snapshot held
something back.
"""

from __future__ import annotations

from twisted.web.template import Flattenable, Tag, tags

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.decisions import DRY_RUN, ENFORCED, Noted
from twisted_pypi.core.moments import format_duration
from twisted_pypi.core.policy import Policy, Rule
from twisted_pypi.core.stats import Stats
from twisted_pypi.web.statushtml import group, kv, plural, when

__all__ = ["policy_section"]


def policy_section(config: ProxyConfig, stats: Stats) -> Flattenable:
    """
    The section, or nothing when no policy is set and nothing was held back.

    :param config: The settings (the policy).
    :param stats: The running totals (the policy's record).
    """
    policy, record = config.policy, stats.policy
    if not policy.active and not record.latest:
        return ""
    now = stats.clock.seconds()
    counts: list[tuple[str, Flattenable]] = []
    for rule in Rule:
        held = record.held.get((rule.value, ENFORCED), 0)
        would = record.held.get((rule.value, DRY_RUN), 0)
        refused = record.refused.get((rule.value, ENFORCED), 0)
        if held or would or refused:
            text = f"{plural(held, 'file')} held back, {plural(refused, 'download')}"
            text += " refused"
            if would:
                text += f"; {would} would be (dry run)"
            counts.append((rule.value, text))
    badge = (
        tags.span("dry run", class_="badge idle")
        if policy.dry_run
        else tags.span("enforced", class_="badge ok")
    )
    return tags.section(
        tags.h2("Supply-chain policy ", badge),
        kv(_settings(policy)),
        group("Held back", counts),
        tags.h3("Latest decisions"),
        _latest(list(record.latest)[::-1], now),
    )


def _settings(policy: Policy) -> list[tuple[str, Flattenable]]:
    """The policy's settings, as rows."""
    ages = [f"{format_duration(policy.min_age)}" if policy.min_age else "off"]
    ages += [
        f"{format_duration(age) if age else 'off'} on {name}"
        for name, age in sorted(policy.index_min_age.items())
    ]
    rows: list[tuple[str, Flattenable]] = [("Minimum age", ", ".join(ages))]
    if policy.exempt:
        rows.append(("Exempt", ", ".join(sorted(policy.exempt))))
    if policy.deny:
        rows.append(("Denied", ", ".join(rule.text for rule in policy.deny)))
    if policy.dry_run:
        rows.append(("Dry run", "nothing is held back: decisions are only logged"))
    return rows


def _latest(noted: list[Noted], now: float) -> Tag:
    """The latest decisions, or "None yet."."""
    if not noted:
        return tags.p("None yet.", class_="muted")
    return tags.ul(
        [
            tags.li(
                tags.b(n.filename),
                " ",
                tags.span(n.index, class_="muted"),
                " ",
                when(n.at, now),
                tags.div(n.decision.message),
            )
            for n in noted
        ],
        class_="items",
    )
