"""
Tests for :mod:`twisted_pypi.sources.policyview`: pages filtered by the
supply-chain policy, and how long a filtered page (with its renditions) is
kept.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.decisions import ENFORCED, PolicyRecord
from twisted_pypi.core.lookup import CacheStatus, Lookup, PageEntry
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.moments import parse_moment
from twisted_pypi.core.policy import Policy, parse_deny
from twisted_pypi.sources.policyview import (
    VIEWS_PER_PAGE,
    PolicyPages,
    PolicyView,
    ProjectDenied,
)

DAY = 86400.0

#: The tests' "now": 2026-12-08T10:00:00Z.
NOW = parse_moment("2026-12-08T10:00:00Z") or 0.0

INDEX = IndexConfig("pypi", "https://upstream.test/simple/")


def dist(version: str, days_ago: float) -> DistFile:
    """A wheel of ``demo`` uploaded ``days_ago`` days before :data:`NOW`."""
    moment = NOW - days_ago * DAY
    return DistFile(
        f"demo-{version}-py3-none-any.whl",
        f"https://files.test/demo-{version}-py3-none-any.whl",
        size=10,
        upload_time=_iso(moment),
    )


def _iso(moment: float) -> str:
    """An upload time as PyPI writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(moment))


#: Releases uploaded 30 days, 3 days and 1 hour ago.
OLD, RECENT, NEWEST = dist("1.0", 30), dist("2.0", 3), dist("3.0", 1 / 24)


def entry(*files: DistFile) -> PageEntry:
    """A cached page of ``demo`` listing ``files`` (every release by default)."""
    files = files or (OLD, RECENT, NEWEST)
    page = ProjectPage(
        name="demo",
        files=files,
        versions=("1.0", "2.0", "3.0"),
        api_version=(1, 1),
    )
    return PageEntry(
        index=INDEX,
        page=page,
        fetched_at=0.0,
        upstream_etag=None,
        file_link=lambda d: f"../../files/pypi/{d.filename}",
        project_link=lambda name: f"{name}/",
    )


class CountingRunner:
    """
    A runner that counts its runs and, when ``held``, keeps them waiting
    until :meth:`release`.
    """

    def __init__(self) -> None:
        self.runs = 0
        self.held = False
        self.waiting: list[tuple[Callable[[], Any], Deferred[Any]]] = []

    def __call__(self, work: Callable[[], Any]) -> Deferred[Any]:
        """Run ``work`` (now, or on :meth:`release`)."""
        self.runs += 1
        if not self.held:
            return succeed(work())
        d: Deferred[Any] = Deferred()
        self.waiting.append((work, d))
        return d

    def release(self) -> None:
        """Run the waiting work."""
        for work, d in self.waiting:
            d.callback(work())
        self.waiting = []


class _ViewTests(SynchronousTestCase):
    """
    A :class:`PolicyView` on a ``Clock`` at :data:`NOW`.
    """

    policy = Policy(min_age=7 * DAY)

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(NOW)
        self.record = PolicyRecord(self.clock)
        self.runner = CountingRunner()
        self.view = self.make_view()

    def make_view(self, base_url: str | None = None) -> PolicyView:
        """A view of :attr:`policy`."""
        return PolicyView(self.policy, self.clock, self.record, self.runner, base_url)

    def shown(
        self,
        lookup: Lookup,
        snapshot: float | None = None,
        view: PolicyView | None = None,
    ) -> PageEntry:
        """The entry the view shows for ``lookup``."""
        shown = self.successResultOf(
            (view or self.view).shown_project(lookup, snapshot)
        )
        self.assertIs(shown.status, lookup.status)
        return shown.entry

    def names(self, shown: PageEntry) -> list[str]:
        """The filenames the JSON rendition of ``shown`` lists."""
        body = json.loads(shown.rendition(True).body)
        return [f["filename"] for f in body["files"]]


class FilterTests(_ViewTests):
    """
    What a view shows.
    """

    def test_held_back_left_out(self) -> None:
        """
        The files held back are absent from both representations and from
        ``versions``; the cached page is unchanged.
        """
        cached = entry()
        shown = self.shown(Lookup(cached, CacheStatus.HIT))
        self.assertEqual(self.names(shown), [OLD.filename])
        self.assertEqual(json.loads(shown.rendition(True).body)["versions"], ["1.0"])
        html = shown.rendition(False).body.decode()
        self.assertIn(OLD.filename, html)
        self.assertNotIn(RECENT.filename, html)
        self.assertEqual(len(self.names(cached)), 3)
        self.assertIsNotNone(
            shown.file_at(("pypi", "https", "files.test", OLD.filename))
        )
        self.assertIsNone(
            shown.file_at(("pypi", "https", "files.test", RECENT.filename))
        )
        self.assertEqual(self.record.held, {("min-age", ENFORCED): 2})

    def test_nothing_held_back(self) -> None:
        """
        A page that holds nothing back is shown as it is: the cached entry
        itself, no copy, no renditions of its own.
        """
        cached = entry(OLD)
        self.assertIs(self.shown(Lookup(cached)), cached)

    def test_dummy(self) -> None:
        """
        A dummy's page is shown as it is, without deciding anything.
        """
        lookup = Lookup(entry(), CacheStatus.DUMMY)
        self.assertIs(self.shown(lookup), lookup.entry)
        self.assertEqual(self.runner.runs, 0)


class KeepTests(_ViewTests):
    """
    How long a view is kept.
    """

    def test_kept_until_a_file_ages(self) -> None:
        """
        The filtered entry, and so its renditions, is made once and kept
        until the first held-back file becomes old enough; then it is made
        again, with that file.
        """
        lookup = Lookup(entry())
        first = self.shown(lookup)
        rendition = first.rendition(True)
        self.clock.advance(4 * DAY - 1)
        self.assertIs(self.shown(lookup), first)
        self.assertIs(self.shown(lookup).rendition(True), rendition)
        self.assertEqual(self.runner.runs, 1)
        self.clock.advance(1)
        second = self.shown(lookup)
        self.assertEqual(self.names(second), [OLD.filename, RECENT.filename])
        self.assertEqual(self.runner.runs, 2)

    def test_made_once_for_many(self) -> None:
        """
        Requests that come while a view is being made wait for it: the
        work is done once and they all get the same entry.
        """
        self.runner.held = True
        lookup = Lookup(entry())
        first = self.view.shown_project(lookup)
        second = self.view.shown_project(lookup)
        self.assertNoResult(first)
        self.assertNoResult(second)
        self.runner.release()
        self.assertIs(
            self.successResultOf(first).entry, self.successResultOf(second).entry
        )
        self.assertEqual(self.runner.runs, 1)

    def test_client_gone(self) -> None:
        """
        A client that goes away while the view is made stops waiting, but
        the view is still made, kept and given to the others.
        """
        self.runner.held = True
        lookup = Lookup(entry())
        first = self.view.shown_project(lookup)
        second = self.view.shown_project(lookup)
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.runner.release()
        shown = self.successResultOf(second).entry
        self.assertEqual(self.names(shown), [OLD.filename])
        self.assertIs(self.shown(lookup), shown)
        self.assertEqual(self.runner.runs, 1)

    def test_new_page_new_view(self) -> None:
        """
        A page the upstream changed (a new cached entry) gets a view of its
        own; a view goes with its cached entry.
        """
        old = entry()
        self.shown(Lookup(old))
        new = entry(OLD, RECENT)
        self.assertEqual(self.names(self.shown(Lookup(new))), [OLD.filename])
        self.assertEqual(self.runner.runs, 2)
        del old, new
        gc.collect()
        self.assertEqual(self.view._views, {})

    def test_snapshots_apart(self) -> None:
        """
        Each snapshot has its view of a page, beside the policy's own; only
        the latest few are kept.
        """
        lookup = Lookup(entry())
        snapshot = NOW - 10 * DAY
        then = self.shown(lookup, snapshot)
        self.assertEqual(self.names(then), [OLD.filename])
        self.assertIsNot(self.shown(lookup), then)
        self.assertIs(self.shown(lookup, snapshot), then)
        for n in range(VIEWS_PER_PAGE):
            self.shown(lookup, snapshot + n + 1)
        self.assertIsNot(self.shown(lookup, snapshot), then)


class SnapshotLinkTests(_ViewTests):
    """
    A snapshot's links.
    """

    policy = Policy()

    def test_absolute_links(self) -> None:
        """
        With a base URL, a snapshot's page links its files (and the list its
        projects) below the snapshot, so that the download is checked
        against it too; without, links are relative and stay as they are.
        """
        base = "https://pypi.example/"
        cached = entry()
        cached = cached.showing(cached.page, lambda url: base + url[len("../../") :])
        view = self.make_view(base)
        snapshot = NOW - 10 * DAY
        shown = self.shown(Lookup(cached), snapshot, view)
        body = json.loads(shown.rendition(True).body)
        self.assertEqual(
            [f["url"] for f in body["files"]],
            [f"{base}snapshot/2026-11-28T10:00:00Z/files/pypi/{OLD.filename}"],
        )
        listing = entry().showing(ProjectList(names=("Demo",)), lambda u: base + u)
        shown_list = self.successResultOf(view.shown_list(Lookup(listing), snapshot))
        self.assertIn(
            f'href="{base}snapshot/2026-11-28T10:00:00Z/demo/"',
            shown_list.entry.rendition(False).body.decode(),
        )
        plain = Lookup(entry().showing(ProjectList(names=("demo",))))
        self.assertIs(
            self.successResultOf(self.view.shown_list(plain, snapshot)), plain
        )


class Answers:
    """A router that answers with one page for any project."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.asked: list[str] = []

    def get_project(self, project: str) -> Deferred[Lookup]:
        """The page."""
        self.asked.append(project)
        return succeed(self.lookup)

    def get_list(self) -> Deferred[Lookup]:
        """The page, as a list."""
        return succeed(self.lookup)


class PolicyPagesTests(_ViewTests):
    """
    :class:`PolicyPages`.
    """

    policy = Policy(deny=(parse_deny("demo"),))

    def test_denied_project(self) -> None:
        """
        A project a bare ``--deny`` names is not found, with the reason, and
        the router is not even asked.
        """
        router = Answers(Lookup(entry()))
        failure = self.failureResultOf(
            PolicyPages(router, self.view).get_project("demo"), ProjectDenied
        )
        assert isinstance(failure.value, ProjectDenied)
        self.assertEqual(
            failure.value.decision.message, "held back: denied by --deny 'demo'"
        )
        self.assertEqual(router.asked, [])

    def test_dry_run(self) -> None:
        """
        In a dry run the denied project is served whole, the decision
        noted.
        """
        self.policy = Policy(deny=(parse_deny("demo"),), dry_run=True)
        router = Answers(Lookup(entry()))
        shown = self.successResultOf(
            PolicyPages(router, self.make_view()).get_project("demo")
        )
        self.assertEqual(len(self.names(shown.entry)), 3)
        self.assertEqual(self.record.held[("deny", "dry-run")], 4)
