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
machine).  The options and the wiring of the command are in
:mod:`twisted_pypi.app.warmcli`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from packaging.requirements import Requirement
from twisted.internet.defer import CancelledError, Deferred, gatherResults

from twisted_pypi.mirror.fetcher import CacheFiller
from twisted_pypi.mirror.places import Fetched, FetchFailed
from twisted_pypi.mirror.reqfile import build_requirements
from twisted_pypi.resolve.resolver import ResolutionFailed, resolve
from twisted_pypi.resolve.target import Target

__all__ = ["warm"]


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
        self, filename: str, fetched: Fetched | None
    ) -> tuple[Requirement, ...]:
        """
        What building a fetched sdist needs.

        :param filename: The sdist's name.
        :param fetched: The sdist, or ``None`` if it could not be fetched.
        """
        if fetched is None:
            return ()
        try:
            requires = await self._filler.read_with(
                fetched, lambda path: build_requirements(path.getContent(), filename)
            )
        except FetchFailed as e:
            self.problems.append(str(e))
            return ()
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


async def warm(
    filler: CacheFiller,
    reactor: Any,
    requirements: tuple[Requirement, ...],
    targets: tuple[Target, ...],
    say: Callable[[str], None],
) -> int:
    """
    Warm the cache for every target and tell the summary.

    :param filler: Fetches into the cache (see
        :func:`twisted_pypi.app.commandcompose.cache_filler`).
    :param reactor: The running reactor.
    :param requirements: What is installed on each target.
    :param targets: The environments.
    :param say: Told the progress, the summary and the problems.
    :return: 0, or 1 when something could not be resolved or fetched.
    """
    started = reactor.seconds()
    run = _Run(filler, reactor)
    try:
        for target in targets:
            await run.target(target, requirements)
        await run.finish()
    except CancelledError:
        say("pypiproxy warm: interrupted")
        return 1
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
