# -*- test-case-name: tests.resolve.test_resolver -*-
"""
The candidates of a resolution and the resolvelib provider that finds them:
one candidate per version of a project that a target can install (from the
project's page), dependencies from each candidate's core metadata, markers
evaluated for the target, extras as candidates of their own that depend on
the project itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from attrs import evolve, field, frozen
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from twisted_pypi.core.lookup import CacheStatus, Lookup, ProjectNotFound
from twisted_pypi.core.metadata import MetadataUnavailable, parse_dependencies
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.names import version_of
from twisted_pypi.resolve.target import Target

__all__ = [
    "Candidate",
    "IndexProvider",
    "IndexUnavailable",
    "ProjectNotFound",
    "candidates_for",
    "identify",
]


class IndexUnavailable(Exception):
    """
    A project's page could not be had (and none was cached).
    """


@frozen
class Candidate:
    """
    One version of a project that a resolution may choose.

    :ivar name: The normalized project name.
    :ivar version: The version.
    :ivar dist: The file to install, ``None`` for a dummy.
    :ivar extras: The extras this candidate stands for (normalized).
    :ivar yanked: Whether the file is yanked.
    """

    name: str
    version: Version
    dist: DistFile | None = field(default=None, eq=False)
    extras: frozenset[str] = frozenset()
    yanked: bool = field(default=False, eq=False)

    @property
    def dummy(self) -> bool:
        """Whether this is a dummy project's placeholder."""
        return self.dist is None


def identify(name: str, extras: Iterable[str] = ()) -> str:
    """
    The resolver's key for a project with extras: ``name`` or
    ``name[a,b]``.

    :param name: The project name (normalized here).
    :param extras: The extras.
    """
    wanted = sorted({canonicalize_name(extra) for extra in extras})
    name = canonicalize_name(name)
    return f"{name}[{','.join(wanted)}]" if wanted else name


def _parse(
    filename: str, project: str
) -> tuple[Version, frozenset[Any] | None, int] | None:
    """
    Version, tags (``None`` for an sdist) and build number of one of
    ``project``'s files; ``None`` for a file that cannot be installed for
    lack of them (another project's, an ``.egg``, a wheel with unreadable
    tags, an unknown version).  Sdists are read as installers read them:
    ``Pillow-3.1.0-rc1.tar.gz`` and ``.tar.bz2`` archives count.
    """
    if filename.endswith(".whl"):
        try:
            name, version, build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            return None
        return (version, tags, build[0] if build else 0) if name == project else None
    found = version_of(filename, project)
    return None if found is None else (found, None, 0)


def candidates_for(
    page: ProjectPage, target: Target, skipped: Counter[str] | None = None
) -> list[Candidate]:
    """
    One candidate per version on ``page`` that ``target`` can install,
    newest first: the wheel with the best tags, else an sdist; a yanked file
    only when the version has no other.

    :param page: The project's page.
    :param target: What to install for.
    :param skipped: Counts why files were passed over, if given.
    """
    skipped = Counter() if skipped is None else skipped
    best: dict[Version, tuple[tuple[bool, bool, int, int], DistFile]] = {}
    for dist in page.files:
        parsed = _parse(dist.filename, page.name)
        if parsed is None:
            skipped["not a wheel or sdist of the project"] += 1
            continue
        version, tags, build = parsed
        if not target.allows_python(dist.requires_python):
            skipped["requires-python"] += 1
            continue
        rank = 0 if tags is None else target.rank(tags)
        if rank is None:
            skipped["wheel tags"] += 1
            continue
        key = (bool(dist.yanked), tags is None, rank, -build)
        if version not in best or key < best[version][0]:
            best[version] = (key, dist)
    return [
        Candidate(page.name, version, dist, yanked=bool(dist.yanked))
        for version, (_, dist) in sorted(best.items(), reverse=True)
    ]


def _pins(requirement: Requirement) -> bool:
    """Whether ``requirement`` pins an exact version (``==X`` or ``===X``)."""
    return any(
        spec.operator == "===" or (spec.operator == "==" and "*" not in spec.version)
        for spec in requirement.specifier
    )


def _who(parent: Candidate | None) -> str:
    """Who asked for a requirement: ``requested`` or ``required by X 1.0``."""
    if parent is None:
        return "requested"
    return f"required by {parent.name} {parent.version}"


class IndexProvider(AbstractProvider[Requirement, Candidate, str]):
    """
    The resolvelib provider: candidates from pages, dependencies from core
    metadata, markers evaluated for a target.
    """

    def __init__(
        self,
        target: Target,
        pages: Callable[[str], Lookup],
        metadata: Callable[[DistFile], bytes],
    ) -> None:
        """
        :param target: What to resolve for.
        :param pages: Gives the page that answers for a project by
            normalized name (a dummy's for a dummy, whose versions have no
            dependencies and no file to fetch); raises
            :class:`~twisted_pypi.core.lookup.ProjectNotFound` or
            :class:`IndexUnavailable`.
        :param metadata: Gives a file's core metadata; raises
            :class:`~twisted_pypi.resolve.metadata.MetadataError` or
            :class:`~twisted_pypi.resolve.metadata.MetadataUnavailable`.
        """
        self.target = target
        self._pages = pages
        self._metadata = metadata
        self._candidates: dict[str, list[Candidate]] = {}
        self._requires: dict[tuple[str, Version], tuple[Requirement, ...]] = {}
        #: Projects the index does not have.
        self.missing: set[str] = set()
        #: Why files of each project were passed over.
        self.skipped: dict[str, Counter[str]] = {}
        #: Problems met that did not stop the resolution.
        self.errors: list[str] = []
        #: Why the dependencies of candidates are unknown, by name and
        #: version: their metadata could not be read.
        self.unknown: dict[tuple[str, Version], str] = {}

    def candidates(self, name: str) -> list[Candidate]:
        """
        Every candidate of a project, newest first (cached).

        :param name: The normalized project name.
        """
        if name not in self._candidates:
            self._candidates[name] = self._find(name)
        return self._candidates[name]

    def _find(self, name: str) -> list[Candidate]:
        """
        A project's candidates: the files on its page that fit the target;
        on a dummy's page, placeholders (no file to fetch, no dependencies).
        """
        try:
            lookup = self._pages(name)
        except ProjectNotFound:
            self.missing.add(name)
            return []
        page = lookup.entry.page
        assert isinstance(page, ProjectPage)
        found = candidates_for(
            page, self.target, self.skipped.setdefault(name, Counter())
        )
        if lookup.status is CacheStatus.DUMMY:
            return [evolve(candidate, dist=None) for candidate in found]
        return found

    def identify(self, requirement_or_candidate: Requirement | Candidate) -> str:
        """The key of a requirement or candidate: its name and extras."""
        return identify(requirement_or_candidate.name, requirement_or_candidate.extras)

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[
            str, Iterator[RequirementInformation[Requirement, Candidate]]
        ],
        backtrack_causes: Sequence[RequirementInformation[Requirement, Candidate]],
    ) -> tuple[bool, bool, bool, str]:
        """
        Work on what caused the last backtrack first, then pinned projects,
        then the requested ones, then by name.
        """
        infos = list(information[identifier])
        causes = {self.identify(cause.requirement) for cause in backtrack_causes}
        return (
            identifier not in causes,
            not any(_pins(info.requirement) for info in infos),
            not any(info.parent is None for info in infos),
            identifier,
        )

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Requirement]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> list[Candidate]:
        """
        The candidates satisfying every requirement, newest first: no yanked
        file unless pinned with ``==``, pre-releases only when a specifier
        asks for them or nothing else matches.
        """
        wanted = list(requirements[identifier])
        excluded = {candidate.version for candidate in incompatibilities[identifier]}
        name = identifier.partition("[")[0]
        extras = frozenset(canonicalize_name(e) for r in wanted for e in r.extras)
        pinned = any(_pins(r) for r in wanted)
        specifier = SpecifierSet()
        for requirement in wanted:
            specifier &= requirement.specifier
        usable = [
            c
            for c in self.candidates(name)
            if c.version not in excluded and (pinned or not c.yanked)
        ]
        allowed = set(specifier.filter(c.version for c in usable))
        return [evolve(c, extras=extras) for c in usable if c.version in allowed]

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        """Whether ``candidate``'s version is in ``requirement``'s range."""
        return requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        """
        The requirements of ``candidate`` whose markers hold for the target;
        for extras, the ones those extras add plus the project itself at the
        same version.
        """
        if not candidate.extras:
            base = [
                r
                for r in self._requirements(candidate)
                if self.target.evaluate(r.marker)
            ]
            return [r for r in base if self.identify(r) != candidate.name]
        added = [
            r
            for r in self._requirements(candidate)
            if any(self.target.evaluate(r.marker, extra) for extra in candidate.extras)
            and not self.target.evaluate(r.marker)
        ]
        itself = Requirement(f"{candidate.name}=={candidate.version}")
        return [
            itself,
            *(r for r in added if self.identify(r) != self.identify(candidate)),
        ]

    def _requirements(self, candidate: Candidate) -> tuple[Requirement, ...]:
        """Every requirement in a candidate's metadata (read once)."""
        key = (candidate.name, candidate.version)
        if key not in self._requires:
            self._requires[key] = self._read(candidate)
        return self._requires[key]

    def _read(self, candidate: Candidate) -> tuple[Requirement, ...]:
        """
        Read a candidate's requirements; unknown ones (and unparsable lines)
        are noted in :attr:`errors` (unknown ones in :attr:`unknown` too), a
        dummy has none.
        """
        dist = candidate.dist
        if dist is None:
            return ()
        what = f"{candidate.name} {candidate.version} ({dist.filename})"
        try:
            sdist = not dist.filename.endswith(".whl")
            dependencies = parse_dependencies(self._metadata(dist), sdist=sdist)
        except MetadataUnavailable as e:
            self.errors.append(f"the dependencies of {what} are unknown: {e}")
            self.unknown[candidate.name, candidate.version] = str(e)
            return ()
        self.errors.extend(f"{what}: {problem}" for problem in dependencies.problems)
        return dependencies.requires

    def explain(
        self, causes: Iterable[RequirementInformation[Requirement, Candidate]]
    ) -> list[str]:
        """
        Readable sentences for the causes of a failed resolution.

        :param causes: ``ResolutionImpossible.causes``.
        """
        by_project: dict[str, list[str]] = {}
        requirements: dict[str, list[Requirement]] = {}
        for cause in causes:
            project = canonicalize_name(cause.requirement.name)
            requirements.setdefault(project, []).append(cause.requirement)
            text = f"{cause.requirement} ({_who(cause.parent)})"
            wanted = by_project.setdefault(project, [])
            if text not in wanted:
                wanted.append(text)
        problems = [
            f"{name} is not on the index"
            for name in sorted(self.missing)
            if name not in by_project
        ]
        for name, wanted in by_project.items():
            asked = "; ".join(wanted)
            if name in self.missing:
                problems.append(f"{name} is not on the index: {asked}")
            elif self._candidates.get(name) == []:
                skipped = self.skipped.get(name, Counter())
                reasons = ", ".join(f"{n} by {why}" for why, n in skipped.items())
                problems.append(
                    f"no file of {name} fits {self.target.describe()}"
                    f" ({reasons or 'no files'}): {asked}"
                )
            else:
                problems.append(
                    f"no version of {name} satisfies all of: {asked}"
                    + self._yanked_hint(name, requirements[name])
                )
        return problems

    def _yanked_hint(self, name: str, requirements: Iterable[Requirement]) -> str:
        """`` (yanked: 2.0)`` when yanked versions would have matched."""
        yanked = [
            str(c.version)
            for c in self._candidates.get(name, ())
            if c.yanked
            and all(
                r.specifier.contains(c.version, prereleases=True) for r in requirements
            )
        ]
        return f" (yanked: {', '.join(yanked)})" if yanked else ""
