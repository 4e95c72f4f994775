# -*- test-case-name: tests.sources.test_policyview -*-
"""
Pages as the supply-chain policy shows them: the files it holds back left
out, PEP 700 ``versions`` rebuilt from what remains (see
:func:`twisted_pypi.core.policy.shown_page`).

The policy is applied when a response is built, never when the cache is
filled: the page cache keeps everything the upstream said, and
:class:`PolicyView` makes a filtered entry from a cached one, with
representations of its own, rendered on first use like any page's.  The set
of files held back changes with time only when a file ages past a minimum
age, so a filtered entry is kept, per cached entry and snapshot, until the
earliest such moment (or for as long as the cached entry lives); a page
that holds nothing back is served as it is, with no copy.

:class:`PolicyPages` answers for projects through the router, as the policy
(and a snapshot, if any) shows them: what ``/simple/`` and
``/snapshot/<TIMESTAMP>/simple/`` serve.  :func:`policy_pages` gives the
same to the commands that choose files as a client of the proxy would
(``warm``, ``export``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from functools import partial
from typing import Protocol

from attrs import frozen
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from twisted_pypi.core.decisions import PolicyRecord
from twisted_pypi.core.lookup import CacheStatus, Lookup, PageEntry, ProjectNotFound
from twisted_pypi.core.model import ProjectPage
from twisted_pypi.core.moments import snapshot_text
from twisted_pypi.core.policy import Decision, Policy, Rule, decide, shown_page
from twisted_pypi.core.runner import Runner, run_now

__all__ = [
    "VIEWS_PER_PAGE",
    "Answers",
    "PolicyPages",
    "PolicyView",
    "ProjectDenied",
    "policy_pages",
    "snapshot_relink",
]

#: How many views (the policy's, and one per snapshot asked for) are kept
#: per cached page; past it, the oldest is let go.
VIEWS_PER_PAGE = 8


class ProjectDenied(ProjectNotFound):
    """
    A ``--deny`` rule holds back the whole project: it is not found.

    :ivar decision: The decision, with its reason.
    """

    def __init__(self, project: str, decision: Decision) -> None:
        """
        :param project: The normalized project name.
        :param decision: Why it is held back.
        """
        super().__init__(project)
        self.decision = decision


@frozen
class _Shown:
    """
    What a view shows of a cached page.

    :ivar entry: The filtered entry, or ``None``: the cached entry as it is.
    :ivar until: When the view must be made again (a file ages past a
        minimum age), or ``None``: never by itself.
    """

    entry: PageEntry | None
    until: float | None


#: What a view is kept under: the snapshot's moment, or ``None``.
_ViewKey = float | None


class PolicyView:
    """
    Makes and keeps the filtered views of cached pages.

    :ivar policy: The settings.
    :ivar record: Where decisions are logged and counted.
    :ivar clock: The time the decisions are taken at.
    """

    def __init__(
        self,
        policy: Policy,
        clock: IReactorTime,
        record: PolicyRecord,
        run: Runner = run_now,
        base_url: str | None = None,
    ) -> None:
        """
        :param policy: The settings.
        :param clock: Gives the current time.
        :param record: Where decisions are logged and counted.
        :param run: Decides and filters big pages away from the reactor.
        :param base_url: The proxy's external URL, if its links are
            absolute (a snapshot's links then name the snapshot).
        """
        self.policy = policy
        self.clock = clock
        self.record = record
        self._run = run
        self._base_url = base_url
        self._views: dict[int, dict[_ViewKey, _Shown]] = {}
        self._making: dict[tuple[int, _ViewKey], list[Deferred[_Shown]]] = {}

    def denied(self, project: str) -> Decision | None:
        """
        The decision of a ``--deny`` rule that holds back a whole project
        (noted), if any.

        :param project: The normalized project name.
        """
        rule = self.policy.denied_project(project)
        if rule is None:
            return None
        decision = Decision(
            Rule.DENY,
            f"denied by --deny {rule.text!r}",
            enforced=not self.policy.dry_run,
        )
        self.record.decided([("-", project, decision)])
        return decision

    def shown_list(self, lookup: Lookup, snapshot: float | None) -> Deferred[Lookup]:
        """
        The project list under a snapshot: as it is, its links naming the
        snapshot when they are absolute.

        :param lookup: The router's answer.
        :param snapshot: The snapshot's moment, if any.
        """
        if snapshot_relink(self._base_url, snapshot) is None:
            return succeed(lookup)
        return self._shown(lookup, snapshot, True)

    def shown_project(
        self, lookup: Lookup, snapshot: float | None = None
    ) -> Deferred[Lookup]:
        """
        A project's page as the policy (and a snapshot, if any) shows it:
        ready at once when the view is kept, else made by the runner.  A
        dummy's page is shown as it is.

        :param lookup: The router's (or an index's) answer.
        :param snapshot: The snapshot's moment, if any.
        """
        if lookup.status is CacheStatus.DUMMY:
            return succeed(lookup)
        return self._shown(lookup, snapshot, False)

    def _shown(
        self, lookup: Lookup, snapshot: float | None, is_list: bool
    ) -> Deferred[Lookup]:
        """
        The view of a page: the one kept while it holds, else a new one.
        """
        views = self._views.get(id(lookup.entry))
        kept = views.get(snapshot) if views is not None else None
        if kept is not None and (
            kept.until is None or self.clock.seconds() < kept.until
        ):
            return succeed(_answer(kept, lookup))
        making = self._make(lookup, snapshot, is_list)
        return making.addCallback(_answer, lookup)

    def _make(
        self, lookup: Lookup, snapshot: float | None, is_list: bool
    ) -> Deferred[_Shown]:
        """
        A view, made once however many ask for it at the same time; a
        client that goes away stops waiting for it, not its making.
        """
        key = (id(lookup.entry), snapshot)
        waiter: Deferred[_Shown] = Deferred()
        waiters = self._making.get(key)
        if waiters is not None:
            waiters.append(waiter)
            return waiter
        self._making[key] = [waiter]
        making = Deferred.fromCoroutine(self._build(lookup, snapshot, is_list))
        making.addBoth(self._made, key)
        return waiter

    async def _build(
        self, lookup: Lookup, snapshot: float | None, is_list: bool
    ) -> _Shown:
        """Decide for the page's files and keep the view."""
        relink = snapshot_relink(self._base_url, snapshot)
        loaded = await lookup.entry.loaded()
        now = self.clock.seconds()
        decisions: list[tuple[str, str, Decision]] = []
        if is_list:
            assert relink is not None
            shown = _Shown(loaded.showing(loaded.page, relink), None)
        else:
            shown, decisions = await self._run(
                partial(_filter, self.policy, loaded, now, snapshot, relink)
            )
        self.record.decided(decisions, snapshot)
        self._keep(lookup.entry, snapshot, shown)
        return shown

    def _made(self, result: _Shown | Failure, key: tuple[int, _ViewKey]) -> None:
        """Give the view (or the failure) to those still waiting for it."""
        for waiter in self._making.pop(key):
            if waiter.called:  # cancelled: its client went away
                continue
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(result)

    def _keep(self, entry: PageEntry, snapshot: float | None, shown: _Shown) -> None:
        """
        Keep a view for as long as the cached entry lives (and at most
        :data:`VIEWS_PER_PAGE` of them per entry).
        """
        views = self._views.get(id(entry))
        if views is None:
            views = self._views[id(entry)] = {}
            weakref.finalize(entry, self._views.pop, id(entry), None)
        views.pop(snapshot, None)
        views[snapshot] = shown
        while len(views) > VIEWS_PER_PAGE:
            del views[next(iter(views))]


def _answer(kept: _Shown, lookup: Lookup) -> Lookup:
    """The router's answer, showing a view's entry."""
    if kept.entry is None:
        return lookup
    return Lookup(kept.entry, lookup.status, lookup.failure)


def _filter(
    policy: Policy,
    entry: PageEntry,
    now: float,
    snapshot: float | None,
    relink: Callable[[str], str] | None,
) -> tuple[_Shown, list[tuple[str, str, Decision]]]:
    """
    Decide for each file of a page and make the filtered entry (blocking:
    run by the runner).

    :return: The view, and the decision for each file.
    """
    page = entry.page
    assert isinstance(page, ProjectPage)
    decisions = list(_decisions(policy, entry, page, now, snapshot))
    held = {name for _, name, d in decisions if d.held}
    until = min((d.until for _, _, d in decisions if d.until is not None), default=None)
    if not held and relink is None:
        return _Shown(None, until), decisions
    shown = entry.showing(shown_page(page, policy, held), relink)
    shown.index_files()
    return _Shown(shown, until), decisions


def _decisions(
    policy: Policy,
    entry: PageEntry,
    page: ProjectPage,
    now: float,
    snapshot: float | None,
) -> Iterator[tuple[str, str, Decision]]:
    """``(index, filename, decision)`` for each file of a page."""
    for dist in page.files:
        index = entry.file_index(dist)
        decision = decide(policy, dist, page.name, index, now, snapshot)
        yield index, dist.filename, decision


def snapshot_relink(
    base_url: str | None, snapshot: float | None
) -> Callable[[str], str] | None:
    """
    What makes an absolute link (under ``base_url``) name a snapshot:
    ``<base>files/...`` becomes ``<base>snapshot/<TIMESTAMP>/files/...``.
    Relative links need nothing: they resolve below the snapshot's URL.

    :param base_url: The proxy's external URL, or ``None``.
    :param snapshot: The snapshot's moment, or ``None``.
    :return: The rewriting, or ``None`` when there is nothing to rewrite.
    """
    if base_url is None or snapshot is None:
        return None
    prefix = f"{base_url}snapshot/{snapshot_text(snapshot)}/"

    def relink(url: str) -> str:
        if url.startswith(base_url):
            return prefix + url[len(base_url) :]
        return url

    return relink


class Answers(Protocol):
    """
    What answers for projects: the router.
    """

    def get_project(self, project: str) -> Deferred[Lookup]:
        """
        A project's page (see
        :meth:`twisted_pypi.sources.router.Router.get_project`).
        """

    def get_list(self) -> Deferred[Lookup]:
        """The project list."""


class PolicyPages:
    """
    The router's pages as the policy (and a snapshot, if any) shows them.
    """

    def __init__(
        self, router: Answers, view: PolicyView, snapshot: float | None = None
    ) -> None:
        """
        :param router: Answers for projects.
        :param view: Filters pages.
        :param snapshot: The snapshot's moment, if any.
        """
        self._router = router
        self._view = view
        self._snapshot = snapshot

    def get_project(self, project: str) -> Deferred[Lookup]:
        """
        A project's page, as shown.

        :param project: The normalized project name.
        :return: Fires with the page, or fails with a
            :class:`~twisted_pypi.core.lookup.LookupFailed`
            (:class:`ProjectDenied` for a project ``--deny`` holds back).
        """
        return Deferred.fromCoroutine(self._project(project))

    async def _project(self, project: str) -> Lookup:
        denied = self._view.denied(project)
        if denied is not None and denied.held:
            raise ProjectDenied(project, denied)
        lookup = await self._router.get_project(project)
        return await self._view.shown_project(lookup, self._snapshot)

    def get_list(self) -> Deferred[Lookup]:
        """
        The project list (its links naming the snapshot, if any).
        """
        return self._router.get_list().addCallback(
            self._view.shown_list, self._snapshot
        )


def policy_pages(
    router: Answers,
    policy: Policy,
    clock: IReactorTime,
    snapshot: float | None = None,
    run: Runner = run_now,
) -> Answers:
    """
    The router's pages as a client of the proxy sees them under ``policy``
    (and a snapshot, if any), for the commands that choose files as such a
    client would: ``router`` itself when nothing would be held back.

    :param router: Answers for projects.
    :param policy: The settings.
    :param clock: Gives the time the decisions are taken at.
    :param snapshot: The snapshot's moment, if any.
    :param run: Decides and filters big pages away from the reactor.
    """
    if not policy.active and snapshot is None:
        return router
    view = PolicyView(policy, clock, PolicyRecord(clock), run)
    return PolicyPages(router, view, snapshot)
