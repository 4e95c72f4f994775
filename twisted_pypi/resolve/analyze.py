# -*- test-case-name: tests.resolve.test_analyze -*-
"""
``pypiproxy analyze PROJECT``: resolve a project's dependency tree through
the configured upstream and show what it downloads, which of it the
configured dummies replace (a dummy and everything only it pulls in: torch
brings nvidia-* and triton), the totals with and without the dummies, and
which ``--dummy`` flags would save the most.

Pages go through the proxy's own page cache (so they land in its cache
directory, and a cached page serves when the upstream is down); metadata is
read from the proxy's file cache when it holds the ``.metadata`` file or the
wheel, and otherwise fetched from the upstream directly (not through a
running proxy): the PEP 658 ``.metadata``, else a wheel's ``METADATA`` read
by ranges of it, whatever its size.  A project whose metadata could not be
read leaves the tree below it unknown, and the report says so: a dummy
absent from such a tree is "unknown", not "not in the dependency tree".
The options and the wiring of the command are in
:mod:`twisted_pypi.app.analyzecli`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TextIO

from attrs import frozen
from packaging.requirements import Requirement
from twisted.internet.defer import CancelledError

from twisted_pypi.core.metadata import MetadataSource
from twisted_pypi.core.sizes import format_size
from twisted_pypi.resolve.resolver import (
    PageSource,
    Resolution,
    ResolutionFailed,
    resolve,
)
from twisted_pypi.resolve.target import Target

__all__ = [
    "Report",
    "Row",
    "Suggestion",
    "analyze",
    "build_report",
    "format_report",
    "reachable",
    "replaced_by",
    "suggest",
]


@frozen
class Row:
    """
    One line of the table.

    :ivar name: The project.
    :ivar version: Its chosen version.
    :ivar size: The chosen file's size in bytes, if the index said.
    :ivar note: ``dummy``, ``only via torch`` or empty.
    """

    name: str
    version: str
    size: int | None
    note: str = ""


@frozen
class Suggestion:
    """
    A ``--dummy`` flag worth giving.

    :ivar name: The project to replace.
    :ivar saves: The bytes it saves.
    :ivar projects: The projects it saves: itself and what only it needs.
    """

    name: str
    saves: int
    projects: tuple[str, ...]


@frozen
class Report:
    """
    Everything ``analyze`` prints.

    :ivar roots: The projects asked for.
    :ivar target: What the resolution was for.
    :ivar rows: The table, largest first.
    :ivar dummies: The dummies given.
    :ivar suggestions: ``--dummy`` flags worth adding, best first.
    :ivar errors: Problems the resolution noted.
    :ivar unknown: The projects whose dependencies are unknown (their
        metadata could not be read), with why: ``(name, version, why)``.
    :ivar below: For each dummy, the projects among :attr:`unknown` that
        are it or below it: what it saves may be more than shown.
    """

    roots: tuple[str, ...]
    target: Target
    rows: tuple[Row, ...]
    dummies: tuple[str, ...]
    suggestions: tuple[Suggestion, ...]
    errors: tuple[str, ...] = ()
    unknown: tuple[tuple[str, str, str], ...] = ()
    below: tuple[tuple[str, tuple[str, ...]], ...] = ()


def reachable(
    roots: Iterable[str], edges: Collection[tuple[str, str]], cut: Collection[str]
) -> set[str]:
    """
    The projects reachable from ``roots``, not following the requirements of
    the projects in ``cut`` (which are reached, but lead nowhere).

    :param roots: Where to start.
    :param edges: ``(parent, child)`` pairs.
    :param cut: Projects whose own requirements are ignored.
    """
    children: dict[str, list[str]] = {}
    for parent, child in edges:
        children.setdefault(parent, []).append(child)
    seen = set(roots)
    todo = list(seen)
    while todo:
        name = todo.pop()
        if name in cut:
            continue
        for child in children.get(name, ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def replaced_by(
    roots: Iterable[str], edges: Collection[tuple[str, str]], dummies: Collection[str]
) -> dict[str, tuple[str, ...]]:
    """
    What dummies replace: every dummy in the tree (mapped to ``()``) and every
    project reachable only through dummies (mapped to those dummies, sorted).

    :param roots: The projects asked for.
    :param edges: ``(parent, child)`` pairs.
    :param dummies: The dummy projects.
    """
    roots = tuple(roots)
    everything = reachable(roots, edges, ())
    kept = reachable(roots, edges, dummies)
    replaced: dict[str, tuple[str, ...]] = {
        name: () for name in sorted(kept & set(dummies))
    }
    gone = everything - kept
    for name in sorted(gone):
        via = [d for d in replaced if name in reachable((d,), edges, ())]
        replaced[name] = tuple(via)
    return replaced


def suggest(
    resolution: Resolution, dummies: Collection[str], top: int, minimum: int = 1
) -> list[Suggestion]:
    """
    The ``--dummy`` flags that save the most, greedily: each saves its
    project and everything only it still needs; the projects asked for and
    those already replaced are not suggested.

    :param resolution: The resolution without dummies.
    :param dummies: The dummies given.
    :param top: How many to suggest at most.
    :param minimum: The fewest bytes a suggestion must save.
    """
    roots, edges = resolution.roots, resolution.edges
    cut = set(dummies)
    chosen: list[Suggestion] = []
    while len(chosen) < top:
        kept = reachable(roots, edges, cut)
        best: Suggestion | None = None
        for name in sorted(kept - cut - set(roots)):
            saved = {name} | (kept - reachable(roots, edges, cut | {name}))
            size = sum(_size(resolution, project) for project in saved)
            if size >= minimum and (best is None or size > best.saves):
                best = Suggestion(name, size, (name, *sorted(saved - {name})))
        if best is None:
            break
        chosen.append(best)
        cut.add(best.name)
    return chosen


def _size(resolution: Resolution, name: str) -> int:
    """The download size of a project's chosen file; 0 if unknown."""
    dist = resolution.pins[name].dist
    if dist is None or dist.size is None:
        return 0
    return dist.size


def build_report(resolution: Resolution, dummies: Collection[str], top: int) -> Report:
    """
    The report of a resolution made without the dummies.

    :param resolution: The resolution.
    :param dummies: The dummy projects.
    :param top: How many ``--dummy`` flags to suggest; each must save at
        least 1% of the total download.
    """
    replaced = replaced_by(resolution.roots, resolution.edges, dummies)
    rows = []
    for name, pin in resolution.pins.items():
        size = pin.dist.size if pin.dist is not None else None
        note = ""
        if name in replaced:
            via = replaced[name]
            note = "dummy" if not via else "only via " + ", ".join(via)
        rows.append(Row(name, pin.version, size, note))
    rows.sort(key=lambda row: (-(row.size or -1), row.name))
    total = sum(row.size or 0 for row in rows)
    unknown = sorted(resolution.unknown.items())
    below: list[tuple[str, tuple[str, ...]]] = []
    for dummy in sorted(dummies):
        if dummy in resolution.pins:
            subtree = reachable((dummy,), resolution.edges, ())
            names = tuple(name for name, _ in unknown if name in subtree)
            if names:
                below.append((dummy, names))
    return Report(
        roots=resolution.roots,
        target=resolution.target,
        rows=tuple(rows),
        dummies=tuple(sorted(dummies)),
        suggestions=tuple(suggest(resolution, dummies, top, max(1, total // 100))),
        errors=resolution.errors,
        unknown=tuple(
            (name, resolution.pins[name].version, why) for name, why in unknown
        ),
        below=tuple(below),
    )


def _total(rows: Sequence[Row], incomplete: int = 0) -> str:
    """
    The total size and count of ``rows``, saying if it is a lower bound:
    some sizes unknown, or ``incomplete`` projects' dependencies unknown.
    """
    known = sum(row.size or 0 for row in rows)
    unknown = sum(1 for row in rows if row.size is None)
    count = f"{len(rows)} package{'s' if len(rows) != 1 else ''}"
    exact = f"{format_size(known)} ({known:,} bytes) in {count}"
    why = []
    if unknown:
        why.append(f"{unknown} of unknown size")
    if incomplete:
        why.append(
            f"the dependencies of {incomplete} package{'s' if incomplete != 1 else ''}"
            " unknown"
        )
    if why:
        return f"at least {exact} ({'; '.join(why)})"
    return exact


def _dummy_notes(report: Report) -> list[str]:
    """
    What to say of each dummy beside the totals: not in the tree (only when
    the tree is complete), or what is unknown about it.
    """
    present = {row.name for row in report.rows}
    reasons = {
        name: f"{name} {version}: {why}" for name, version, why in report.unknown
    }
    below = dict(report.below)
    notes = []
    for name in report.dummies:
        if name in below:
            why = "; ".join(reasons[n] for n in below[name])
            notes.append(
                f"(--dummy {name}: may save more; dependencies unknown: {why})"
            )
        elif name in present:
            continue
        elif reasons:
            why = "; ".join(reasons.values())
            notes.append(
                f"(--dummy {name}: unknown whether it is in the dependency tree;"
                f" dependencies unknown: {why})"
            )
        else:
            notes.append(f"(--dummy {name}: not in the dependency tree)")
    return notes


def format_report(report: Report) -> str:
    """
    The table, totals and suggestions, as printed.

    :param report: What to print.
    """
    header = Row("project", "version", None, "dummies")
    sizes = ["size", *(format_size(row.size) for row in report.rows)]
    table = [header, *report.rows]
    widths = [
        max(len(row.name) for row in table),
        max(len(row.version) for row in table),
        max(len(size) for size in sizes),
    ]
    lines = [
        f"{', '.join(report.roots)} for {report.target.describe()}:",
        "",
    ]
    for row, size in zip(table, sizes, strict=True):
        lines.append(
            f"{row.name:<{widths[0]}}  {row.version:<{widths[1]}}"
            f"  {size:>{widths[2]}}  {row.note}".rstrip()
        )
    unknown = {name for name, _, _ in report.unknown}
    lines += ["", f"total download:    {_total(report.rows, len(unknown))}"]
    if report.dummies:
        kept = [row for row in report.rows if not row.note]
        flags = " ".join(f"--dummy {name}" for name in report.dummies)
        incomplete = sum(1 for row in kept if row.name in unknown)
        lines.append(f"with the dummies:  {_total(kept, incomplete)} ({flags})")
        lines += _dummy_notes(report)
    if report.suggestions:
        lines += ["", "suggested:"]
        width = max(len(s.name) for s in report.suggestions)
        for suggestion in report.suggestions:
            lines.append(
                f"  --dummy {suggestion.name:<{width}}  saves"
                f" {format_size(suggestion.saves)}: {', '.join(suggestion.projects)}"
            )
    if report.errors:
        lines += ["", *(f"note: {error}" for error in report.errors)]
    return "\n".join(lines) + "\n"


async def analyze(
    requirements: Sequence[Requirement],
    target: Target,
    pages: PageSource,
    metadata: MetadataSource,
    reactor: Any,
    *,
    dummies: Collection[str],
    top: int,
    out: TextIO,
    say: Callable[[str], None],
) -> int:
    """
    Resolve, print the report, and give the exit code.

    :param requirements: The projects asked for.
    :param target: What to resolve for.
    :param pages: Gives a project's page.
    :param metadata: Gives a file's core metadata.
    :param reactor: The running reactor.
    :param dummies: The dummy projects given.
    :param top: How many ``--dummy`` flags to suggest.
    :param out: Where the report goes.
    :param say: Told the progress and the errors.
    :return: 0, or 1 when the resolution failed.
    """
    asked = " ".join(str(r) for r in requirements)
    say(f"analyzing {asked} for {target.describe()}…")
    try:
        resolution = await resolve(
            requirements, target, pages, metadata, reactor, progress=say
        )
    except ResolutionFailed as e:
        say(f"pypiproxy analyze: could not resolve {asked}:")
        for problem in e.problems:
            say(f"  - {problem}")
        return 1
    except CancelledError:
        say("pypiproxy analyze: interrupted")
        return 1
    out.write(format_report(build_report(resolution, dummies, top)))
    out.flush()
    return 0
