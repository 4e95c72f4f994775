# -*- test-case-name: tests.resolve.test_resolver -*-
"""
Resolving requirements to one version of every project they need, as an
installer would for a :class:`~twisted_pypi.resolve.target.Target`, from a simple
index: pip's resolver (:mod:`resolvelib`) with the
:class:`~twisted_pypi.resolve.candidates.IndexProvider`, whose candidates come from
project pages and whose dependencies come from core metadata.

resolvelib is synchronous, so :func:`resolve` runs it in the reactor's thread
pool and the provider asks the reactor thread for every page and metadata
file (``blockingCallFromThread``).  :func:`resolve_now` runs the same
resolution in the calling thread with synchronous sources, for tests and
tools that have everything at hand.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar, cast

from attrs import field, frozen
from packaging.requirements import Requirement
from packaging.utils import (
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version
from resolvelib import BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver
from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.internet.threads import blockingCallFromThread, deferToThreadPool

from twisted_pypi.core.lookup import Lookup, LookupFailed
from twisted_pypi.core.metadata import MetadataError, MetadataSource
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.resolve.candidates import (
    Candidate,
    IndexProvider,
    IndexUnavailable,
    ProjectNotFound,
)
from twisted_pypi.resolve.target import Target

__all__ = [
    "MAX_ROUNDS",
    "PageSource",
    "Pin",
    "Resolution",
    "ResolutionFailed",
    "resolve",
    "resolve_now",
]

_T = TypeVar("_T")

#: How many rounds (pins) the resolver may take, as pip allows.
MAX_ROUNDS = 200_000

#: Where :func:`resolve` gets project pages: ``PageCache.get_project``.
PageSource = Callable[[str], "Deferred[Lookup]"]


class ResolutionFailed(Exception):
    """
    No set of versions satisfies the requirements, or the index could not
    tell.

    :ivar problems: One readable sentence per problem.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        """
        :param problems: What went wrong, one sentence each.
        """
        super().__init__(*problems)
        self.problems = tuple(problems)

    def __str__(self) -> str:
        """The problems, one per line."""
        return "\n".join(self.problems)


@frozen
class Pin:
    """
    The version chosen for a project.

    :ivar name: The normalized project name.
    :ivar version: The version, as a string.
    :ivar dist: The chosen file, ``None`` for a dummy.
    :ivar extras: Every extra asked of it.
    """

    name: str
    version: str
    dist: DistFile | None
    extras: frozenset[str] = frozenset()

    @property
    def dummy(self) -> bool:
        """Whether a dummy stands in for this project."""
        return self.dist is None


def _copy(pins: Mapping[str, Pin]) -> dict[str, Pin]:
    """A private copy of the pins."""
    return dict(pins)


def _reasons(unknown: Mapping[str, str]) -> dict[str, str]:
    """A private copy of the reasons dependencies are unknown."""
    return dict(unknown)


@frozen
class Resolution:
    """
    What a resolution chose.

    :ivar target: What it was for.
    :ivar pins: The chosen version of each project, by normalized name.
    :ivar roots: The projects the requirements asked for directly.
    :ivar edges: ``(parent, child)`` project names: ``parent`` requires
        ``child``.
    :ivar errors: Problems that did not stop the resolution, e.g. projects
        whose dependencies are unknown; one sentence each.
    :ivar unknown: Why the dependencies of a chosen project are unknown (its
        metadata could not be read), by normalized name: the tree below it
        is missing, so what is absent from :attr:`pins` may yet be needed.
    """

    target: Target
    pins: Mapping[str, Pin] = field(converter=_copy)
    roots: tuple[str, ...] = ()
    edges: frozenset[tuple[str, str]] = frozenset()
    errors: tuple[str, ...] = ()
    unknown: Mapping[str, str] = field(factory=dict, converter=_reasons)

    def requires(self, name: str) -> tuple[str, ...]:
        """
        The projects ``name`` requires, sorted.

        :param name: A normalized project name.
        """
        return tuple(sorted(child for parent, child in self.edges if parent == name))


def _resolution(
    result: Any,
    target: Target,
    errors: Sequence[str],
    unknown: Mapping[tuple[str, Version], str],
) -> Resolution:
    """
    A :class:`Resolution` from resolvelib's result; ``unknown`` says why
    the dependencies of candidates are unknown (only the chosen ones are
    kept).
    """
    mapping: Mapping[str, Candidate] = result.mapping
    pins: dict[str, Pin] = {}
    for candidate in sorted(mapping.values(), key=lambda c: len(c.extras)):
        pin = pins.get(candidate.name)
        extras = candidate.extras | (pin.extras if pin else frozenset())
        pins[candidate.name] = Pin(
            candidate.name, str(candidate.version), candidate.dist, extras
        )
    roots: dict[str, None] = {}
    edges: set[tuple[str, str]] = set()
    for parent, child in result.graph.iter_edges():
        name = mapping[child].name
        if parent is None:
            roots.setdefault(name)
        elif mapping[parent].name != name:
            edges.add((mapping[parent].name, name))
    chosen = {
        name: why
        for (name, version), why in unknown.items()
        if name in pins and pins[name].version == str(version)
    }
    return Resolution(
        target, pins, tuple(roots), frozenset(edges), tuple(errors), chosen
    )


def resolve_now(
    requirements: Sequence[Requirement],
    provider: IndexProvider,
    max_rounds: int = MAX_ROUNDS,
) -> Resolution:
    """
    Resolve in the calling thread.

    :param requirements: What to install; those whose markers do not hold
        for the provider's target are left out.
    :param provider: Knows the index (and its dummies) and the target.
    :param max_rounds: How many pins the resolver may try.
    :raises ResolutionFailed: With readable reasons, when no resolution
        exists or the index could not answer.
    """
    wanted = [r for r in requirements if provider.target.evaluate(r.marker)]
    reporter: BaseReporter[Requirement, Candidate, str] = BaseReporter()
    try:
        for requirement in wanted:  # so that every missing root is reported
            provider.candidates(canonicalize_name(requirement.name))
        result = Resolver(provider, reporter).resolve(wanted, max_rounds=max_rounds)
    except ResolutionImpossible as e:
        raise ResolutionFailed(provider.explain(e.causes)) from None
    except ResolutionTooDeep:
        raise ResolutionFailed(
            [f"the resolver gave up after {max_rounds} rounds of backtracking"]
        ) from None
    except (IndexUnavailable, MetadataError) as e:
        raise ResolutionFailed([str(e)]) from None
    return _resolution(result, provider.target, provider.errors, provider.unknown)


class _Bridge:
    """
    Lets the resolver's thread ask the reactor thread for pages and
    metadata, and fails those requests when the reactor shuts down (so the
    thread ends and the thread pool can stop).
    """

    def __init__(
        self,
        reactor: Any,
        pages: PageSource,
        metadata: MetadataSource,
        progress: Callable[[str], object] | None,
    ) -> None:
        """
        :param reactor: The reactor whose thread runs the requests.
        :param pages: Gives project pages.
        :param metadata: Gives core metadata.
        :param progress: Told what is being fetched.
        """
        self._reactor = reactor
        self._pages = pages
        self._metadata = metadata
        self._progress = progress
        self._pending: set[Deferred[Any]] = set()
        self._stopping = False

    def _say(self, message: str) -> None:
        """Report progress, if anyone listens."""
        if self._progress is not None:
            self._progress(message)

    def stop(self) -> None:
        """
        Fail every pending and later request (in the reactor thread).
        """
        self._stopping = True
        for pending in list(self._pending):
            pending.cancel()

    def _track(self, work: Coroutine[Any, Any, _T]) -> Deferred[_T]:
        """Run ``work`` (in the reactor thread), tracked until it ends."""
        if self._stopping:
            work.close()
            return fail(CancelledError("the reactor is shutting down"))
        running = Deferred.fromCoroutine(work)
        self._pending.add(running)

        def done(result: _T) -> _T:
            """Stop tracking the finished request."""
            self._pending.discard(running)
            return result

        return running.addBoth(done)

    def _start_page(self, name: str) -> Deferred[Lookup]:
        """Start fetching a project's page (in the reactor thread)."""
        return self._track(self._page(name))

    def _start_metadata(self, dist: DistFile) -> Deferred[bytes]:
        """Start fetching a file's metadata (in the reactor thread)."""
        return self._track(self._metadata_of(dist))

    def page(self, name: str) -> Lookup:
        """
        The page that answers for a project (from the resolver's thread).

        :param name: The normalized project name.
        """
        start: Callable[[str], Deferred[Lookup] | Lookup] = self._start_page
        # Twisted's annotation leaves the Deferred in the result type.
        return cast(Lookup, blockingCallFromThread(self._reactor, start, name))

    def metadata(self, dist: DistFile) -> bytes:
        """
        A file's core metadata (from the resolver's thread).

        :param dist: The file.
        """
        start: Callable[[DistFile], Deferred[bytes] | bytes] = self._start_metadata
        return cast(bytes, blockingCallFromThread(self._reactor, start, dist))

    async def _page(self, name: str) -> Lookup:
        """
        A project's page, stale if the upstream failed and one is cached.

        :raises ProjectNotFound: If the index has no such project.
        :raises IndexUnavailable: If no page could be had.
        """
        self._say(f"resolving {name}…")
        try:
            lookup = await (await self._pages(name)).loaded()
        except ProjectNotFound:
            raise
        except LookupFailed as e:
            raise IndexUnavailable(
                f"the page of {name} could not be fetched and none is cached: {e}"
            ) from None
        if not isinstance(lookup.entry.page, ProjectPage):
            raise IndexUnavailable(f"the page of {name} is not a project page")
        if lookup.failure is not None:
            self._say(f"using the cached page of {name} ({lookup.failure})")
        return lookup

    async def _metadata_of(self, dist: DistFile) -> bytes:
        """A file's metadata, reported when it arrives."""
        data = await self._metadata.metadata(dist)
        self._say(f"fetched metadata for {_name_version(dist.filename)}")
        return data


def _name_version(filename: str) -> str:
    """``torch 2.3.1`` for a wheel or sdist of torch 2.3.1."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
    except ValueError:
        return filename
    return f"{name} {version}"


async def resolve(
    requirements: Sequence[Requirement],
    target: Target,
    pages: PageSource,
    metadata: MetadataSource,
    reactor: Any,
    *,
    progress: Callable[[str], object] | None = None,
    max_rounds: int = MAX_ROUNDS,
) -> Resolution:
    """
    Resolve ``requirements`` for ``target`` from an index, in the reactor's
    thread pool.

    :param requirements: What to install.
    :param target: What to install it for.
    :param pages: Gives the page that answers for a project, e.g.
        ``Router.get_project`` (a stale page is used when the upstream
        fails; a dummy's page gives versions with no dependencies).
    :param metadata: Gives a file's core metadata.
    :param reactor: The running reactor (``IReactorThreads``,
        ``IReactorFromThreads``, ``IReactorCore``).
    :param progress: Told, in the reactor thread, what is being fetched.
    :param max_rounds: How many pins the resolver may try.
    :raises ResolutionFailed: With readable reasons.
    """
    bridge = _Bridge(reactor, pages, metadata, progress)
    provider = IndexProvider(target, bridge.page, bridge.metadata)
    trigger = reactor.addSystemEventTrigger("before", "shutdown", bridge.stop)
    try:
        resolution: Resolution = await deferToThreadPool(
            reactor,
            reactor.getThreadPool(),
            resolve_now,
            requirements,
            provider,
            max_rounds,
        )
    finally:
        reactor.removeSystemEventTrigger(trigger)
    return resolution
