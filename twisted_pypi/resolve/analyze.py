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
running proxy).
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, TextIO

from attrs import frozen
from packaging.requirements import InvalidRequirement, Requirement
from twisted.internet.defer import CancelledError
from twisted.python import usage
from twisted.python.filepath import FilePath

from twisted_pypi.app.service import make_page_caches, thread_runner, upstream_clients
from twisted_pypi.app.tap import Options as ServeOptions
from twisted_pypi.core.config import ProxyConfig, parse_count
from twisted_pypi.core.sizes import format_size
from twisted_pypi.resolve.metadata import CachedMetadataSource, IndexMetadataSource
from twisted_pypi.resolve.resolver import Resolution, ResolutionFailed, resolve
from twisted_pypi.resolve.target import PLATFORM_SYNTAX, Target, full_python_version
from twisted_pypi.storage.filecache import FileCache


class AnalyzeOptions(ServeOptions):
    """
    The options of ``pypiproxy analyze``: the upstream, cache and dummy
    options of ``serve`` plus the target and the projects.
    """

    synopsis = "[options] PROJECT[SPECIFIER] ..."
    longdesc = (
        "Resolve the projects' dependency tree through the upstream index for "
        "a Python version and platform (default: this interpreter), and print "
        "every dependency with its version and download size, which ones the "
        "--dummy projects replace (with everything only they pull in), the "
        "total download with and without the dummies, and --dummy flags for "
        "the heaviest packages. Progress goes to standard error."
    )
    optParameters = [
        [
            "python-version",
            None,
            None,
            "The Python version to resolve for, e.g. 3.11 [default: this one].",
        ],
        [
            "platform",
            None,
            None,
            f"The platform tag to resolve for, e.g. {PLATFORM_SYNTAX}"
            " [default: this machine].",
        ],
        ["top", None, 3, "How many --dummy flags to suggest.", parse_count],
    ]

    def opt_listen(self, description: str) -> None:
        """
        Not used: analyze does not listen (an option of serve).
        """
        raise usage.UsageError("--listen is an option of serve, not of analyze")

    def opt_offline(self) -> None:
        """
        Not used: analyze asks the upstream (an option of serve).
        """
        raise usage.UsageError("--offline is an option of serve, not of analyze")

    def parseArgs(self, *projects: str) -> None:
        """
        The projects to analyze, as requirements (``torch``,
        ``requests[socks]>=2.31``).
        """
        if not projects:
            raise usage.UsageError("give a project to analyze, e.g. 'analyze torch'")
        requirements = []
        for text in projects:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as e:
                raise usage.UsageError(f"{text!r} is not a requirement: {e}") from None
            if requirement.url or requirement.marker:
                raise usage.UsageError(
                    f"{text!r}: give a project name with extras and versions"
                    " only, e.g. requests[socks]>=2.31"
                )
            requirements.append(requirement)
        self["requirements"] = tuple(requirements)

    def postOptions(self) -> None:
        """
        Build the configuration (as ``serve`` does) and the target.
        """
        super().postOptions()
        python, platform = self["python-version"], self["platform"]
        try:
            if python is not None:
                full_python_version(python)
        except ValueError as e:
            raise usage.UsageError(f"--python-version: {e}") from None
        try:
            self["target"] = Target.create(python, platform)
        except ValueError as e:
            raise usage.UsageError(f"--platform: {e}") from None


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
    """

    roots: tuple[str, ...]
    target: Target
    rows: tuple[Row, ...]
    dummies: tuple[str, ...]
    suggestions: tuple[Suggestion, ...]
    errors: tuple[str, ...] = ()


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
    return Report(
        roots=resolution.roots,
        target=resolution.target,
        rows=tuple(rows),
        dummies=tuple(sorted(dummies)),
        suggestions=tuple(suggest(resolution, dummies, top, max(1, total // 100))),
        errors=resolution.errors,
    )


def _total(rows: Sequence[Row]) -> str:
    """The total size and count of ``rows``, saying if it is a lower bound."""
    known = sum(row.size or 0 for row in rows)
    unknown = sum(1 for row in rows if row.size is None)
    count = f"{len(rows)} package{'s' if len(rows) != 1 else ''}"
    exact = f"{format_size(known)} ({known:,} bytes) in {count}"
    if unknown:
        return f"at least {exact} ({unknown} of unknown size)"
    return exact


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
    lines += ["", f"total download:    {_total(report.rows)}"]
    if report.dummies:
        kept = [row for row in report.rows if not row.note]
        flags = " ".join(f"--dummy {name}" for name in report.dummies)
        lines.append(f"with the dummies:  {_total(kept)} ({flags})")
        present = {row.name for row in report.rows}
        for name in report.dummies:
            if name not in present:
                lines.append(f"(--dummy {name}: not in the dependency tree)")
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


async def run_analyze(
    reactor: Any, options: Mapping[str, Any], out: TextIO, err: TextIO
) -> int:
    """
    Resolve, print the report, and give the exit code.

    :param reactor: The running reactor.
    :param options: Parsed :class:`AnalyzeOptions`.
    :param out: Where the report goes.
    :param err: Where progress and errors go.
    :return: 0, or 1 when the resolution failed.
    """
    config: ProxyConfig = options["config"]
    requirements: tuple[Requirement, ...] = options["requirements"]
    target: Target = options["target"]

    def say(message: str) -> None:
        """Write a progress line to ``err`` at once."""
        err.write(message + "\n")
        err.flush()

    clients = upstream_clients(config, reactor)
    files = FileCache(FilePath(config.cache_dir), None, reactor)
    pages = make_page_caches(
        config, clients.pages, reactor, files, thread_runner(reactor)
    )[0]
    upstream = IndexMetadataSource(
        clients.pages,
        reactor,
        config.connect_timeout,
        config.idle_timeout,
        progress=say,
    )
    metadata = CachedMetadataSource(files, config.indexes[0].name, upstream)
    asked = " ".join(str(r) for r in requirements)
    say(f"analyzing {asked} for {target.describe()}…")
    try:
        resolution = await resolve(
            requirements, target, pages.get_project, metadata, reactor, progress=say
        )
    except ResolutionFailed as e:
        say(f"pypiproxy analyze: could not resolve {asked}:")
        for problem in e.problems:
            say(f"  - {problem}")
        return 1
    except CancelledError:
        say("pypiproxy analyze: interrupted")
        return 1
    finally:
        await clients.close()
    dummies = [spec.project for spec in config.dummies]
    out.write(format_report(build_report(resolution, dummies, options["top"])))
    out.flush()
    return 0


async def main(reactor: Any, options: Mapping[str, Any]) -> None:
    """
    The ``pypiproxy analyze`` command, for ``twisted.internet.task.react``.

    :param reactor: The running reactor.
    :param options: Parsed :class:`AnalyzeOptions`.
    :raises SystemExit: With code 1 when the resolution failed.
    """
    code = await run_analyze(reactor, options, sys.stdout, sys.stderr)
    if code:
        raise SystemExit(code)
