# -*- test-case-name: tests.core.test_policy -*-
"""
The supply-chain policy: which files of a project the proxy serves, and for
each one it does not, the rule that holds it back and why.

The rules, in the order they are asked:

1. ``--deny SPEC`` (a PEP 508 requirement): a file of a matching project
   and version is held back; a bare project name holds back the whole
   project.
2. A snapshot (``/snapshot/<TIMESTAMP>/simple/...``): a file uploaded after
   the snapshot's moment is held back.
3. ``--min-age DURATION`` (per index with ``--index ...,min-age=``): a file
   uploaded less than DURATION ago is held back, except for the projects of
   ``--min-age-exempt`` and the files of local indexes (``--local``) and
   uploads.

A file's age is its upload time (PEP 700 ``upload-time``), else the time the
proxy first saw it on its index (an upper bound of the upload time); a file
with neither is held back by a snapshot or a minimum age (fail closed).

With ``--policy-dry-run`` nothing but a snapshot holds a file back: the
decision the other rules would have taken is still made (``enforced`` is
false), for the log and the counts.

:func:`decide` is pure: the time is given, never read.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping

from attrs import evolve, field, frozen
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.moments import format_duration, format_moment, parse_moment
from twisted_pypi.core.names import normalize, version_of

__all__ = [
    "SERVED",
    "Decision",
    "DenyRule",
    "Policy",
    "Rule",
    "decide",
    "file_time",
    "parse_deny",
    "shown_page",
]


class Rule(enum.Enum):
    """
    A rule that may hold a file back (the value names it in metrics).
    """

    DENY = "deny"
    SNAPSHOT = "snapshot"
    MIN_AGE = "min-age"


@frozen
class Decision:
    """
    Whether a file is served, and if not, why.

    :ivar rule: The rule that holds the file back, or ``None``: served.
    :ivar reason: Why, for people (``uploaded 2026-12-01T10:00Z, younger
        than --min-age 7d``); empty when served.
    :ivar enforced: ``False`` when the rule only would hold the file back
        (``--policy-dry-run``): the file is served.
    :ivar until: When this decision may change by itself (a minimum age
        passes), or ``None``: not with time.
    """

    rule: Rule | None = None
    reason: str = ""
    enforced: bool = True
    until: float | None = None

    @property
    def held(self) -> bool:
        """
        Whether the file is held back (not served).
        """
        return self.rule is not None and self.enforced

    @property
    def message(self) -> str:
        """
        The decision in one short line: ``held back: <reason>``, ``would be
        held back: <reason>`` (dry run) or ``served``.
        """
        if self.rule is None:
            return "served"
        held = "held back" if self.enforced else "would be held back"
        return f"{held}: {self.reason}"


#: The decision for a file no rule holds back.
SERVED = Decision()


@frozen
class DenyRule:
    """
    One ``--deny`` requirement.

    :ivar text: The requirement as the user wrote it (for messages).
    :ivar project: The normalized project name.
    :ivar specifier: The versions denied; empty for every version (the
        whole project).
    """

    text: str
    project: str
    specifier: SpecifierSet = field(factory=SpecifierSet)

    def matches(self, project: str, filename: str) -> bool:
        """
        Whether a file of ``project`` falls under the rule.  A file whose
        version cannot be read falls under any rule naming its project
        (fail closed).

        :param project: The normalized project whose page lists the file.
        :param filename: The file's name.
        """
        if project != self.project:
            return False
        if not self.specifier:
            return True
        version = version_of(filename, project)
        return version is None or self.specifier.contains(version, prereleases=True)


def parse_deny(text: str) -> DenyRule:
    """
    A ``--deny`` value: a PEP 508 requirement with a name and versions only
    (``evilpkg``, ``urllib3<2``, ``requests==2.32.0``).

    :param text: The value.
    :raises ValueError: If it is not such a requirement, saying why.
    """
    try:
        requirement = Requirement(text)
    except InvalidRequirement as e:
        why = str(e).splitlines()[0] if str(e) else "not PEP 508"
        raise ValueError(f"--deny {text!r} is not a requirement: {why}") from None
    if requirement.url or requirement.marker or requirement.extras:
        raise ValueError(
            f"--deny {text!r}: give a project name and versions only,"
            " e.g. requests==2.32.0 or urllib3<2"
        )
    return DenyRule(text.strip(), normalize(requirement.name), requirement.specifier)


def _ages(value: Mapping[str, float]) -> Mapping[str, float]:
    """A copy of the per-index ages (the caller's mapping may change)."""
    return dict(value)


@frozen
class Policy:
    """
    The policy's settings; the default holds nothing back.

    :ivar min_age: Seconds a file must have been public before it is
        served (``--min-age``); 0 for no minimum.
    :ivar index_min_age: The indexes whose minimum age differs
        (``--index NAME=URL,min-age=...``), by name.
    :ivar unaged: The indexes no minimum age applies to (the local ones).
    :ivar exempt: Projects no minimum age applies to (normalized).
    :ivar deny: The ``--deny`` rules.
    :ivar dry_run: Whether the rules only log and count what they would hold
        back (snapshots still apply).
    """

    min_age: float = 0.0
    index_min_age: Mapping[str, float] = field(factory=dict, converter=_ages)
    unaged: frozenset[str] = frozenset()
    exempt: frozenset[str] = frozenset()
    deny: tuple[DenyRule, ...] = ()
    dry_run: bool = False

    @property
    def active(self) -> bool:
        """
        Whether any rule other than a snapshot may hold a file back (without
        one, pages and files are served as they always were).
        """
        return bool(
            self.deny
            or self.min_age > 0
            or any(age > 0 for age in self.index_min_age.values())
        )

    def min_age_of(self, index: str) -> tuple[float, str]:
        """
        The minimum age on an index, and how a message names its setting.

        :param index: The index's name.
        :return: Seconds (0 for none) and ``--min-age 7d`` or ``min-age 7d
            of --index NAME``.
        """
        if index in self.unaged:
            return 0.0, ""
        age = self.index_min_age.get(index)
        if age is not None:
            return age, f"min-age {format_duration(age)} of --index {index}"
        return self.min_age, f"--min-age {format_duration(self.min_age)}"

    def denial(self, project: str, filename: str) -> DenyRule | None:
        """
        The first ``--deny`` rule a file falls under, if any.

        :param project: The normalized project whose page lists the file.
        :param filename: The file's name.
        """
        for rule in self.deny:
            if rule.matches(project, filename):
                return rule
        return None

    def denied_project(self, project: str) -> DenyRule | None:
        """
        The ``--deny`` rule that holds back a whole project, if any.

        :param project: The normalized project name.
        """
        for rule in self.deny:
            if rule.project == project and not rule.specifier:
                return rule
        return None

    def denies_version(self, project: str, version: Version) -> bool:
        """
        Whether a ``--deny`` rule holds back this version of the project.
        """
        return any(
            rule.project == project and rule.specifier.contains(version, True)
            for rule in self.deny
        )


def file_time(dist: DistFile) -> tuple[float, str] | None:
    """
    When a file became public, as far as anyone knows: its upload time, else
    when the proxy first saw it.

    :return: The moment and what it is (``uploaded`` or ``first seen``), or
        ``None`` when neither is known.
    """
    moment = parse_moment(dist.upload_time)
    if moment is not None:
        return moment, "uploaded"
    moment = parse_moment(dist.first_seen)
    if moment is not None:
        return moment, "first seen"
    return None


def decide(
    policy: Policy,
    dist: DistFile,
    project: str,
    index: str,
    now: float,
    snapshot: float | None = None,
) -> Decision:
    """
    Whether a file is served.

    :param policy: The settings.
    :param dist: The file, as its page lists it.
    :param project: The normalized project whose page lists it.
    :param index: The name of the index whose page lists it.
    :param now: The current time (POSIX seconds).
    :param snapshot: The moment of the snapshot asked for, if any.
    """
    would: Decision | None = None
    denied = policy.denial(project, dist.filename)
    if denied is not None:
        unknown = denied.specifier and version_of(dist.filename, project) is None
        detail = " (version unknown)" if unknown else ""
        decision = Decision(
            Rule.DENY,
            f"denied by --deny {denied.text!r}{detail}",
            enforced=not policy.dry_run,
        )
        if decision.enforced:
            return decision
        would = decision
    known = file_time(dist)
    if snapshot is not None:
        when = f"snapshot {format_moment(snapshot)}"
        if known is None:
            return Decision(Rule.SNAPSHOT, f"upload time unknown, needed by {when}")
        if known[0] > snapshot:
            return Decision(
                Rule.SNAPSHOT, f"{known[1]} {format_moment(known[0])}, after {when}"
            )
    if would is not None:
        return would
    age, setting = policy.min_age_of(index)
    if age <= 0 or project in policy.exempt:
        return SERVED
    if known is None:
        return Decision(
            Rule.MIN_AGE,
            f"upload time unknown, needed by {setting}",
            enforced=not policy.dry_run,
        )
    moment, what = known
    if now >= moment + age:
        return SERVED
    return Decision(
        Rule.MIN_AGE,
        f"{what} {format_moment(moment)}, younger than {setting}",
        enforced=not policy.dry_run,
        until=moment + age,
    )


def shown_page(page: ProjectPage, policy: Policy, held: Collection[str]) -> ProjectPage:
    """
    A project page without the files held back: its PEP 700 ``versions``
    lose each version whose every file is held back, and each version a
    ``--deny`` rule names.

    :param page: The page as the index gave it.
    :param policy: The settings (for the ``--deny`` rules).
    :param held: The names of the files held back.
    """
    kept = tuple(f for f in page.files if f.filename not in held)
    versions = page.versions
    if versions is not None:
        shown = {_key(version_of(f.filename, page.name)) for f in kept}
        gone = {
            _key(version_of(f.filename, page.name))
            for f in page.files
            if f.filename in held
        } - shown
        versions = tuple(v for v in versions if not _hidden(v, page.name, gone, policy))
    return evolve(page, files=kept, versions=versions)


def _key(version: Version | None) -> str | None:
    """The normalized text of a version, for comparing them."""
    return None if version is None else str(version)


def _hidden(text: str, project: str, gone: set[str | None], policy: Policy) -> bool:
    """
    Whether a listed version is left out: all its files are held back, or a
    ``--deny`` rule names it.
    """
    try:
        version = Version(text)
    except InvalidVersion:
        return text in gone
    return str(version) in gone or policy.denies_version(project, version)
