"""
Tests for :mod:`twisted_pypi.core.policy`: the decision for each file, the
``--deny`` rules and the page shown without the files held back.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.moments import parse_moment
from twisted_pypi.core.policy import (
    SERVED,
    Decision,
    Policy,
    Rule,
    decide,
    file_time,
    parse_deny,
    shown_page,
)

DAY = 86400.0

#: The tests' "now": 2026-12-08T10:00:00Z.
NOW = parse_moment("2026-12-08T10:00:00Z") or 0.0


def dist(
    filename: str, uploaded: str | None, first_seen: str | None = None
) -> DistFile:
    """A file listed with these times."""
    return DistFile(
        filename,
        f"https://files.test/{filename}",
        upload_time=uploaded,
        first_seen=first_seen,
    )


#: A file uploaded a day ago, and one 30 days ago.
YOUNG = dist("demo-2.0-py3-none-any.whl", "2026-12-07T10:00:00.000000Z")
OLD = dist("demo-1.0-py3-none-any.whl", "2026-11-08T10:00:00Z")


def week(**kwargs: object) -> Policy:
    """A policy of ``--min-age 7d`` and ``kwargs``."""
    return Policy(min_age=7 * DAY, **kwargs)  # type: ignore[arg-type]


class MinAgeTests(SynchronousTestCase):
    """
    ``--min-age`` and what exempts a file from it.
    """

    def test_young_held_back(self) -> None:
        """
        A file uploaded less than the minimum age ago is held back until it
        is that old, with a reason naming its upload time and the option.
        """
        decision = decide(week(), YOUNG, "demo", "pypi", NOW)
        self.assertEqual(decision.rule, Rule.MIN_AGE)
        self.assertTrue(decision.held)
        self.assertEqual(
            decision.message,
            "held back: uploaded 2026-12-07T10:00Z, younger than --min-age 7d",
        )
        self.assertEqual(decision.until, NOW + 6 * DAY)
        self.assertIs(decide(week(), YOUNG, "demo", "pypi", NOW + 6 * DAY), SERVED)

    def test_old_served(self) -> None:
        """
        A file older than the minimum age is served; without a minimum age
        every file is.
        """
        self.assertIs(decide(week(), OLD, "demo", "pypi", NOW), SERVED)
        self.assertIs(decide(Policy(), YOUNG, "demo", "pypi", NOW), SERVED)
        self.assertFalse(Policy().active)
        self.assertTrue(week().active)

    def test_first_seen(self) -> None:
        """
        Without an upload time, the time the proxy first saw the file is its
        age, and the reason says so.
        """
        seen = dist("demo-2.0.tar.gz", None, "2026-12-06T10:00:00Z")
        decision = decide(week(), seen, "demo", "pypi", NOW)
        self.assertEqual(
            decision.reason,
            "first seen 2026-12-06T10:00Z, younger than --min-age 7d",
        )
        self.assertEqual(file_time(seen), (NOW - 2 * DAY, "first seen"))

    def test_no_time_fails_closed(self) -> None:
        """
        A file with neither time is held back while a minimum age applies,
        for good (nothing makes it older), and served without one.
        """
        unknown = dist("demo-2.0.tar.gz", None)
        decision = decide(week(), unknown, "demo", "pypi", NOW)
        self.assertTrue(decision.held)
        self.assertIsNone(decision.until)
        self.assertEqual(decision.reason, "upload time unknown, needed by --min-age 7d")
        self.assertIs(decide(Policy(), unknown, "demo", "pypi", NOW), SERVED)

    def test_per_index(self) -> None:
        """
        An index's own minimum age wins over ``--min-age`` (also to turn it
        off), and the reason names the index.
        """
        policy = week(index_min_age={"fast": 0.0, "slow": 30 * DAY})
        self.assertIs(decide(policy, YOUNG, "demo", "fast", NOW), SERVED)
        slow = decide(policy, OLD, "demo", "slow", NOW - 1)
        self.assertEqual(
            slow.reason,
            "uploaded 2026-11-08T10:00Z, younger than min-age 30d of --index slow",
        )
        self.assertTrue(Policy(index_min_age={"slow": DAY}).active)

    def test_local_and_exempt(self) -> None:
        """
        The files of a local index and of an exempt project are never held
        back by age.
        """
        policy = week(unaged=frozenset({"wheels"}), exempt=frozenset({"urgent"}))
        self.assertIs(decide(policy, YOUNG, "demo", "wheels", NOW), SERVED)
        self.assertIs(decide(policy, YOUNG, "urgent", "pypi", NOW), SERVED)
        self.assertTrue(decide(policy, YOUNG, "demo", "pypi", NOW).held)


class DenyTests(SynchronousTestCase):
    """
    ``--deny`` rules.
    """

    def test_parse(self) -> None:
        """
        A PEP 508 requirement with a name and versions is a rule; anything
        else (not PEP 508, extras, markers, URLs) is refused in one line
        naming the option.
        """
        rule = parse_deny("Requests==2.32.0")
        self.assertEqual((rule.project, str(rule.specifier)), ("requests", "==2.32.0"))
        self.assertEqual(str(parse_deny(" evilpkg ").specifier), "")
        self.assertEqual(parse_deny(" evilpkg ").text, "evilpkg")
        for text in ("a b", "x[socks]", 'x; python_version<"3"', "x @ https://e/x"):
            with self.assertRaises(ValueError) as caught:
                parse_deny(text)
            message = str(caught.exception)
            self.assertTrue(message.startswith("--deny "), message)
            self.assertNotIn("\n", message)

    def test_version(self) -> None:
        """
        A rule with versions holds back the files of those versions only
        (pre-releases included), before any other rule; the reason names
        the rule as written.
        """
        policy = Policy(deny=(parse_deny("demo>=2.0"),))
        decision = decide(policy, YOUNG, "demo", "pypi", NOW)
        self.assertEqual(decision.rule, Rule.DENY)
        self.assertEqual(decision.message, "held back: denied by --deny 'demo>=2.0'")
        self.assertIs(decide(policy, OLD, "demo", "pypi", NOW), SERVED)
        rc = dist("demo-3.0rc1-py3-none-any.whl", None)
        self.assertTrue(decide(policy, rc, "demo", "pypi", NOW).held)
        self.assertIs(decide(policy, OLD, "other", "pypi", NOW), SERVED)

    def test_project(self) -> None:
        """
        A bare name holds back every file of the project, and the whole
        project.
        """
        policy = Policy(deny=(parse_deny("Demo"),))
        self.assertTrue(decide(policy, OLD, "demo", "pypi", NOW).held)
        rule = policy.denied_project("demo")
        self.assertIsNotNone(rule)
        self.assertIsNone(Policy(deny=(parse_deny("demo<2"),)).denied_project("demo"))

    def test_unknown_version(self) -> None:
        """
        A file whose version cannot be read falls under a rule with versions
        naming its project (fail closed), and the reason says why.
        """
        policy = Policy(deny=(parse_deny("demo==1.0"),))
        odd = dist("demo-latest.egg", "2020-01-01T00:00:00Z")
        decision = decide(policy, odd, "demo", "pypi", NOW)
        self.assertEqual(
            decision.reason, "denied by --deny 'demo==1.0' (version unknown)"
        )


class SnapshotTests(SynchronousTestCase):
    """
    Snapshots.
    """

    def test_after(self) -> None:
        """
        A file uploaded after the snapshot is held back, one before it is
        served; whatever the policy, even in a dry run.
        """
        moment = NOW - 10 * DAY
        for policy in (Policy(), Policy(dry_run=True)):
            decision = decide(policy, YOUNG, "demo", "pypi", NOW, moment)
            self.assertEqual(decision.rule, Rule.SNAPSHOT)
            self.assertTrue(decision.held)
            self.assertEqual(
                decision.reason,
                "uploaded 2026-12-07T10:00Z, after snapshot 2026-11-28T10:00Z",
            )
            self.assertIs(decide(policy, OLD, "demo", "pypi", NOW, moment), SERVED)

    def test_unknown(self) -> None:
        """
        A file with no known time is not in a snapshot; one first seen
        before it is.
        """
        moment = NOW - DAY
        self.assertTrue(
            decide(Policy(), dist("x-1.tar.gz", None), "x", "i", NOW, moment).held
        )
        seen = dist("x-1.tar.gz", None, "2026-11-01T00:00:00Z")
        self.assertIs(decide(Policy(), seen, "x", "i", NOW, moment), SERVED)

    def test_combined(self) -> None:
        """
        A snapshot combines with the other rules: a file in the snapshot is
        still held back by ``--deny``, and by the minimum age (counted to
        now).
        """
        moment = NOW - DAY
        policy = week(deny=(parse_deny("demo==1.0"),))
        self.assertEqual(decide(policy, OLD, "demo", "i", NOW, moment).rule, Rule.DENY)
        recent = dist("demo-1.5-py3-none-any.whl", "2026-12-06T10:00:00Z")
        self.assertEqual(
            decide(policy, recent, "demo", "i", NOW, moment).rule, Rule.MIN_AGE
        )


class DryRunTests(SynchronousTestCase):
    """
    ``--policy-dry-run``.
    """

    def test_not_enforced(self) -> None:
        """
        In a dry run the decision is still taken, with its rule and reason,
        but the file is not held back.
        """
        policy = week(dry_run=True, deny=(parse_deny("other"),))
        decision = decide(policy, YOUNG, "demo", "pypi", NOW)
        self.assertEqual(decision.rule, Rule.MIN_AGE)
        self.assertFalse(decision.held)
        self.assertTrue(decision.message.startswith("would be held back: uploaded"))
        denied = decide(policy, YOUNG, "other", "pypi", NOW)
        self.assertEqual((denied.rule, denied.held), (Rule.DENY, False))
        self.assertEqual(SERVED.message, "served")
        self.assertEqual(Decision(), SERVED)


class ShownPageTests(SynchronousTestCase):
    """
    The page without the files held back.
    """

    def page(self) -> ProjectPage:
        """``demo`` in three versions, 2.0 with a wheel and an sdist."""
        return ProjectPage(
            name="demo",
            files=(
                OLD,
                dist("demo-2.0.tar.gz", None),
                YOUNG,
                dist("demo-3.0-py3-none-any.whl", None),
            ),
            versions=("1.0", "2.0", "3.0", "4.0"),
            api_version=(1, 1),
            meta_extra={"_last-serial": 3},
        )

    def test_versions(self) -> None:
        """
        The files held back are gone; a version loses its place in
        ``versions`` only when every one of its files is held back; the rest
        of the page is kept.
        """
        page = self.page()
        shown = shown_page(page, Policy(), {YOUNG.filename})
        self.assertEqual([f.filename for f in shown.files], [
            OLD.filename, "demo-2.0.tar.gz", "demo-3.0-py3-none-any.whl",
        ])  # fmt: skip
        self.assertEqual(shown.versions, ("1.0", "2.0", "3.0", "4.0"))
        shown = shown_page(page, Policy(), {YOUNG.filename, "demo-2.0.tar.gz"})
        self.assertEqual(shown.versions, ("1.0", "3.0", "4.0"))
        self.assertEqual(shown.meta_extra, {"_last-serial": 3})
        self.assertEqual(shown.api_version, (1, 1))

    def test_denied_versions(self) -> None:
        """
        A version a ``--deny`` rule names leaves ``versions`` even when it
        lists no file.
        """
        policy = Policy(deny=(parse_deny("demo>=4"),))
        self.assertEqual(
            shown_page(self.page(), policy, set()).versions, ("1.0", "2.0", "3.0")
        )
