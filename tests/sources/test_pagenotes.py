"""
Tests for :mod:`twisted_pypi.sources.pagenotes`: what the page cache notes
of the pages it makes (quarantine, files without an upload time, records
without first-seen times).
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase

from tests.sources.test_remote import INDEX
from twisted_pypi.core.lookup import PageEntry
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.policy import Decision
from twisted_pypi.core.stats import Stats
from twisted_pypi.sources.pagenotes import PageNotes
from twisted_pypi.sources.pagerecords import Built
from twisted_pypi.sources.quarantine import REFUSED

WHEEL = ("up", "https", "files.test", "demo-1.0-py3-none-any.whl")
OLD_FILE = DistFile("demo-0.9.tar.gz", "https://files.test/demo-0.9.tar.gz")


def entry(status: str | None = None, loaded: bool = True) -> PageEntry:
    """
    An entry of ``demo``'s page with that PEP 792 status; ``loaded``:
    parsed in memory, else a light entry of a page kept on disk.
    """
    page = ProjectPage("demo", status=status)
    return PageEntry(
        index=INDEX,
        page=page if loaded else None,
        fetched_at=0.0,
        upstream_etag=None,
        file_link=lambda dist: dist.url,
        project_link=lambda name: name,
    )


class PageNotesTests(SynchronousTestCase):
    """
    :class:`PageNotes` of one index.
    """

    def setUp(self) -> None:
        self.forgotten: list[tuple[str, ...]] = []
        self.stats = Stats(Clock())
        self.notes = PageNotes("up", self.forgotten.append, self.stats)
        self.asked: list[str] = []
        self.pages: dict[str, PageEntry] = {}

    def cached(self, name: str) -> Deferred[PageEntry | None]:
        """The cached page of ``name`` (noted as asked for)."""
        self.asked.append(name)
        return succeed(self.pages.get(name))

    def refusal(self, project: str | None = "demo") -> Decision | None:
        """Why the notes refuse ``demo``'s wheel, at once."""
        return self.successResultOf(self.notes.refusal(WHEEL, project, self.cached))

    def test_quarantine_fetched(self) -> None:
        """
        A fetched page saying the project is quarantined has its files
        refused at once, and the files its previous page listed dropped; a
        later fetched page without the status lifts it.
        """
        before = ProjectPage("demo", files=(OLD_FILE,))
        self.notes.note("demo", Built(entry("quarantined"), True, purge=before), True)
        self.assertEqual(self.refusal(), REFUSED)
        self.assertEqual(
            self.forgotten[0], ("up", "https", "files.test", "demo-0.9.tar.gz")
        )
        self.notes.note("demo", Built(entry()), True)
        self.assertIsNone(self.refusal())
        self.assertEqual(self.asked, [])

    def test_unknown_looked_up_once(self) -> None:
        """
        A project nothing was noted of has its cached page read once, its
        status then known without reading it again.
        """
        self.pages["demo"] = entry("quarantined")
        self.assertEqual(self.refusal(), REFUSED)
        self.assertEqual(self.refusal(), REFUSED)
        self.assertEqual(self.asked, ["demo"])

    def test_loaded_only_adds(self) -> None:
        """
        A page read back from the store without the status does not lift a
        quarantine a fetch saw.
        """
        self.notes.note("demo", Built(entry("quarantined"), True), True)
        self.notes.note("demo", Built(entry()), False)
        self.assertEqual(self.refusal(), REFUSED)

    def test_undated(self) -> None:
        """
        A page listing files without an upload time marks the index (in the
        notes and its stats), and one line says how many were first seen at
        that fetch.
        """
        self.assertFalse(self.notes.undated)
        with capturedLogs() as events:
            self.notes.note("demo", Built(entry(), undated=2, new=2), True)
        self.assertTrue(self.notes.undated)
        self.assertTrue(self.stats.upstream("up").undated)
        lines = [formatEvent(e) for e in events]
        self.assertEqual(len(lines), 1)
        self.assertIn("demo lists 2 new file(s) without an upload time", lines[0])

    def test_bare(self) -> None:
        """
        The record before a new version of a page is known to keep no
        first-seen times when there was no page, or the page is kept on disk
        and its record had none; not for a page in memory, or one whose
        record had times.
        """
        self.assertTrue(self.notes.bare("demo", None))
        light = entry(loaded=False)
        self.assertFalse(self.notes.bare("demo", light))
        self.notes.note("demo", Built(light), True)
        self.assertTrue(self.notes.bare("demo", light))
        self.notes.note("demo", Built(light, undated=1), True)
        self.assertFalse(self.notes.bare("demo", light))
        self.notes.note("demo", Built(light), False)
        self.assertTrue(self.notes.bare("demo", light))
        self.notes.note("demo", Built(entry()), True)
        self.assertFalse(self.notes.bare("demo", light))
