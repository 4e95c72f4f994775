# -*- test-case-name: tests.mirror.test_warm -*-
"""
``pypiproxy warm``: put into the proxy's cache everything an install of some
requirements needs, for one or more target environments, so that a proxy
started with ``--offline`` (or one whose upstream went away) can serve it.

For each target the requirements are resolved as an installer would
(:func:`~twisted_pypi.resolve.resolver.resolve`, through the same indexes, routes and
dummies as the proxy); then the chosen file of every project (the best
wheel, else the sdist) and its ``.metadata`` are fetched into the cache, a
few at a time (:class:`~twisted_pypi.mirror.fetcher.CacheFiller`).  Pages land in
the cache as the resolution reads them.  What building each chosen sdist
needs (its ``[build-system] requires``) is resolved and warmed in turn, for
the same target.  Files already cached are not downloaded again.

The targets are the cross product of the ``--python-version`` and
``--platform`` values given (each defaulting to this interpreter and this
machine).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from attrs import evolve
from packaging.requirements import Requirement
from twisted.internet.defer import CancelledError, Deferred, gatherResults
from twisted.python import usage
from twisted.python.filepath import FilePath

from twisted_pypi.app.service import upstream_clients
from twisted_pypi.app.tap import Options as ServeOptions
from twisted_pypi.core.config import ProxyConfig, parse_count
from twisted_pypi.mirror.fetcher import CacheFiller
from twisted_pypi.mirror.reqfile import (
    RequirementsError,
    build_requirements,
    parse_requirement_args,
    parse_requirements_file,
)
from twisted_pypi.resolve.resolver import ResolutionFailed, resolve
from twisted_pypi.resolve.target import (
    Target,
    compatible_platforms,
    full_python_version,
)


class WarmOptions(ServeOptions):
    """
    The options of ``pypiproxy warm``: the index, cache and dummy options of
    ``serve``, the requirements and the target environments.
    """

    synopsis = "[options] [-r FILE ...] [REQUIREMENT ...]"
    longdesc = (
        "Resolve the requirements (from -r files and the arguments) with their "
        "dependencies for every target environment, and put into the cache "
        "directory every page, .metadata and file an install there needs: the "
        "best wheel of each project, else its sdist, and what building the "
        "sdists needs. Targets are the cross product of --python-version and "
        "--platform (default: this interpreter on this machine). Safe while a "
        "proxy runs on the same cache directory; files already cached are not "
        "downloaded again. Progress and a summary go to standard error; the "
        "exit code is 1 if anything could not be resolved or fetched."
    )
    optParameters = [
        [
            "concurrency",
            None,
            4,
            "How many files to download at once.",
            lambda text: parse_count(text, 1),
        ],
    ]

    def __init__(self) -> None:
        """
        Start with no requirements files and no explicit targets.
        """
        super().__init__()
        self["requirement-files"] = []
        self["python-versions"] = []
        self["platforms"] = []

    def opt_requirement(self, path: str) -> None:
        """
        A requirements file in pip's format (repeatable).
        """
        self["requirement-files"].append(path)

    opt_r = opt_requirement

    def opt_python_version(self, version: str) -> None:
        """
        A Python version to warm for, e.g. 3.11 (repeatable) [default: this
        one].
        """
        try:
            full_python_version(version)
        except ValueError as e:
            raise usage.UsageError(f"--python-version: {e}") from None
        self["python-versions"].append(version)

    def opt_platform(self, platform: str) -> None:
        """
        A platform tag to warm for (repeatable), e.g. manylinux_2_28_x86_64,
        macosx_11_0_arm64, win_amd64 [default: this machine].
        """
        try:
            compatible_platforms(platform)
        except ValueError as e:
            raise usage.UsageError(f"--platform: {e}") from None
        self["platforms"].append(platform)

    def opt_listen(self, description: str) -> None:
        """
        Ignored: an option of serve (accepted so that warm can read the
        proxy's --config file).
        """

    def opt_offline(self) -> None:
        """
        Ignored: an option of serve (warm always asks the indexes).
        """

    def parseArgs(self, *requirements: str) -> None:
        """
        Requirements given as arguments (``requests[socks]>=2.31``).
        """
        self["requirement-args"] = requirements

    def postOptions(self) -> None:
        """
        Build the configuration (as ``serve`` does), read the requirements
        and make the targets.
        """
        super().postOptions()
        warnings: list[str] = []
        requirements: list[Requirement] = []
        try:
            for path in self["requirement-files"]:
                parsed = parse_requirements_file(path)
                requirements += parsed.requirements
                warnings += parsed.warnings
            requirements += parse_requirement_args(self["requirement-args"])
        except RequirementsError as e:
            raise usage.UsageError(str(e)) from None
        if not requirements:
            raise usage.UsageError(
                "nothing to warm: give -r requirements.txt or requirements"
            )
        self["requirements"] = tuple(requirements)
        self["warnings"] = tuple(warnings)
        targets: list[Target] = []
        for python in self["python-versions"] or [None]:
            for platform in self["platforms"] or [None]:
                target = Target.create(python, platform)
                if target not in targets:
                    targets.append(target)
        self["targets"] = tuple(targets)


class _Run:
    """
    One run of the command: resolves each target's requirements (and the
    build requirements of the sdists chosen) and has the chosen files
    fetched.
    """

    def __init__(self, filler: CacheFiller, reactor: Any) -> None:
        """
        :param filler: Fetches into the cache (its pages answer for dummies
            too).
        :param reactor: The running reactor.
        """
        self._filler = filler
        self._reactor = reactor
        self.projects: set[str] = set()
        self.problems: list[str] = []
        self.notes: list[str] = []
        self._pending: list[Deferred[Any]] = []

    async def target(
        self, target: Target, requirements: tuple[Requirement, ...]
    ) -> None:
        """
        Warm ``requirements`` for ``target``, and what building its sdists
        needs.

        :param target: The environment.
        :param requirements: What is installed there.
        """
        where = target.describe()
        todo: list[tuple[str, tuple[Requirement, ...]]] = [("", requirements)]
        seen = {frozenset(str(r) for r in requirements)}
        while todo:
            what, wanted = todo.pop(0)
            self._filler.say(f"resolving for {where}{what}…")
            try:
                resolution = await resolve(
                    wanted,
                    target,
                    self._filler.page,
                    self._filler.metadata,
                    self._reactor,
                    progress=self._filler.say,
                )
            except ResolutionFailed as e:
                self.problems += [f"{where}{what}: {p}" for p in e.problems]
                continue
            self.notes += [f"{where}{what}: {e}" for e in resolution.errors]
            pins = list(resolution.pins.values())
            self.projects.update(pin.name for pin in pins)
            self._filler.say(f"resolved {len(pins)} projects for {where}{what}")
            fetches = [(pin, self._filler.fetch_pin(pin)) for pin in pins]
            for pin, done in fetches:
                if pin.dist is None or pin.dist.filename.endswith(".whl"):
                    self._pending.append(done)
                    continue
                build = await self._build_requirements(pin.dist.filename, await done)
                key = frozenset(str(r) for r in build)
                if build and key not in seen:
                    seen.add(key)
                    todo.append((f" (to build {pin.dist.filename})", build))

    async def _build_requirements(
        self, filename: str, path: FilePath[str] | None
    ) -> tuple[Requirement, ...]:
        """
        What building a fetched sdist needs.

        :param filename: The sdist's name.
        :param path: The sdist, or ``None`` if it could not be fetched.
        """
        if path is None:
            return ()
        requires = await self._filler.run(
            lambda: build_requirements(path.getContent(), filename)
        )
        if requires is None:
            self.notes.append(f"could not read what building {filename} needs")
            return ()
        try:
            return tuple(Requirement(text) for text in requires)
        except ValueError as e:
            self.notes.append(f"{filename}: a build requirement is invalid: {e}")
            return ()

    async def finish(self) -> None:
        """
        Wait for every fetch started.
        """
        await gatherResults(self._pending)


async def run_warm(reactor: Any, options: Mapping[str, Any], err: TextIO) -> int:
    """
    Warm the cache and print a summary.

    :param reactor: The running reactor.
    :param options: Parsed :class:`WarmOptions`.
    :param err: Where progress, the summary and problems go.
    :return: 0, or 1 when something could not be resolved or fetched.
    """
    config: ProxyConfig = options["config"]
    requirements: tuple[Requirement, ...] = options["requirements"]
    targets: tuple[Target, ...] = options["targets"]
    started = reactor.seconds()

    def say(message: str) -> None:
        """Write a progress line to ``err`` at once."""
        err.write(message + "\n")
        err.flush()

    for warning in options["warnings"]:
        say(f"warning: {warning}")
    config = evolve(config, offline=False)  # the proxy's, not warm's
    clients = upstream_clients(config, reactor)
    filler = CacheFiller(config, reactor, clients, say, options["concurrency"])
    run = _Run(filler, reactor)
    try:
        for target in targets:
            await run.target(target, requirements)
        await run.finish()
    except CancelledError:
        say("pypiproxy warm: interrupted")
        return 1
    finally:
        await clients.close()
    count = len(targets)
    say(
        f"warmed {len(run.projects)} projects for {count}"
        f" target{'s' if count != 1 else ''}: {filler.describe_totals()},"
        f" in {reactor.seconds() - started:.1f} s"
    )
    for note in run.notes + filler.notes:
        say(f"note: {note}")
    problems = run.problems + filler.problems
    if problems:
        say("pypiproxy warm: could not warm everything:")
        for problem in problems:
            say(f"  - {problem}")
        return 1
    return 0


async def main(reactor: Any, options: Mapping[str, Any]) -> None:
    """
    The ``pypiproxy warm`` command, for ``twisted.internet.task.react``.

    :param reactor: The running reactor.
    :param options: Parsed :class:`WarmOptions`.
    :raises SystemExit: With code 1 when something could not be warmed.
    """
    code = await run_warm(reactor, options, sys.stderr)
    if code:
        raise SystemExit(code)
