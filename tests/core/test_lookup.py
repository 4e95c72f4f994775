"""
Tests for :mod:`twisted_pypi.core.lookup`: the typed failures of a lookup and
the pages it answers with.
"""

from __future__ import annotations

import json

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.links import LinkPrefixes
from twisted_pypi.core.lookup import (
    CacheStatus,
    Lookup,
    LookupFailed,
    PageEntry,
    ProjectNotFound,
    UpstreamTimedOut,
    UpstreamUnavailable,
)
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage

INDEX = IndexConfig("up", "http://upstream.test/simple/")


class FailureTests(SynchronousTestCase):
    """
    The kinds of failed lookups.
    """

    def test_kinds(self) -> None:
        """
        Every failure is a :class:`LookupFailed`; a timeout is a kind of
        unavailable upstream; "not found" is neither.
        """
        timeout = UpstreamTimedOut("no answer within 10 s")
        self.assertIsInstance(timeout, UpstreamUnavailable)
        self.assertIsInstance(timeout, LookupFailed)
        self.assertIsInstance(ProjectNotFound("demo"), LookupFailed)
        self.assertNotIsInstance(ProjectNotFound("demo"), UpstreamUnavailable)

    def test_reason(self) -> None:
        """
        An unavailable upstream says why, as its reason and its message.
        """
        failure = UpstreamUnavailable("http://upstream.test/ answered 500")
        self.assertEqual(failure.reason, "http://upstream.test/ answered 500")
        self.assertEqual(str(failure), failure.reason)

    def test_stale_lookup_carries_failure(self) -> None:
        """
        A lookup served stale carries the failure it is served despite; a
        fresh one none.
        """
        entry = entry_of(ProjectList(names=("demo",)))
        failure = UpstreamTimedOut("slow")
        self.assertIsNone(Lookup(entry).failure)
        self.assertIs(Lookup(entry, CacheStatus.STALE, failure).failure, failure)


def entry_of(page: ProjectPage | ProjectList) -> PageEntry:
    """
    A page entry whose files link under ``files/`` with base-URL prefixes.
    """
    links = LinkPrefixes.for_base_url("https://proxy.example/")
    return PageEntry(
        index=INDEX,
        page=page,
        fetched_at=0.0,
        upstream_etag=None,
        file_link=lambda dist: links.file(f"files/{dist.filename}"),
        project_link=links.project,
    )


class PageEntryTests(SynchronousTestCase):
    """
    A page's representations.
    """

    def test_renders_with_links(self) -> None:
        """
        A project page links its files, and a project list its projects,
        by the links the entry was made with.
        """
        dist = DistFile("demo-1.0.tar.gz", "http://upstream.test/demo-1.0.tar.gz")
        page = json.loads(entry_of(ProjectPage("demo", (dist,))).rendition(True).body)
        self.assertEqual(
            page["files"][0]["url"], "https://proxy.example/files/demo-1.0.tar.gz"
        )
        html = entry_of(ProjectList(names=("Demo",))).rendition(False).body
        self.assertIn(b'href="https://proxy.example/simple/demo/"', html)

    def test_rendered_once(self) -> None:
        """
        Each representation is rendered once.
        """
        entry = entry_of(ProjectList(names=("demo",)))
        self.assertIs(entry.rendition(True), entry.rendition(True))
        self.assertIsNot(entry.rendition(True), entry.rendition(False))

    def test_with_page(self) -> None:
        """
        An entry with another version of its page keeps its links, age and
        ETag, has its files indexed and the advert it was given, and renders
        anew.
        """
        dist = DistFile("demo-1.0.tar.gz", "http://upstream.test/demo-1.0.tar.gz")
        entry = entry_of(ProjectPage("demo", (dist,)))
        entry.rendition(True)
        marked = DistFile(dist.filename, dist.url, core_metadata=True)
        other = entry.with_page(ProjectPage("demo", (marked,)), "advert")
        self.assertEqual(
            (other.fetched_at, other.upstream_etag, other.advert),
            (entry.fetched_at, entry.upstream_etag, "advert"),
        )
        self.assertIsNone(other.made(True, False))
        page = json.loads(other.rendition(True).body)
        self.assertEqual(page["files"][0]["core-metadata"], True)
        self.assertEqual(
            page["files"][0]["url"], "https://proxy.example/files/demo-1.0.tar.gz"
        )
