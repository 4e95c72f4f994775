"""
Tests for :mod:`twisted_pypi.sources.quarantine`.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.sources.quarantine import Quarantine

WHEEL = ("up", "https", "files.test", "demo-1.0-py3-none-any.whl")
LEGACY = ("up", "https", "files.test", "Demo-0.1.win32.exe")


class QuarantineTests(SynchronousTestCase):
    """
    What a :class:`Quarantine` refuses, and when it knows.
    """

    def setUp(self) -> None:
        self.forgotten: list[tuple[str, ...]] = []
        self.quarantine = Quarantine("up", self.forgotten.append)

    def refuses(self, segments: tuple[str, ...], project: str | None) -> bool:
        """
        Whether the file at ``segments``, linked for ``project``, is refused.
        """
        names = self.quarantine.names(segments, project)
        return self.quarantine.refuses(segments, names)

    def test_fetched_quarantined(self) -> None:
        """
        Once a fetched page says the project is quarantined its files are
        refused, also a ``.metadata`` file and also when a link names
        another page (the filename names the project); a later page without
        the status lifts it.
        """
        self.assertFalse(self.refuses(WHEEL, "demo"))
        self.quarantine.fetched("demo", True)
        self.assertTrue(self.refuses(WHEEL, "demo"))
        meta = (*WHEEL[:-1], WHEEL[-1] + ".metadata")
        self.assertTrue(self.refuses(meta, "demo"))
        self.assertTrue(self.refuses(WHEEL, "other"))
        self.assertTrue(self.refuses(LEGACY, "demo"))
        self.assertFalse(self.refuses(LEGACY, "other"))
        self.quarantine.fetched("demo", False)
        self.assertFalse(self.refuses(WHEEL, "demo"))

    def test_previous_files_dropped_and_refused(self) -> None:
        """
        The files the previous page listed are deleted from the cache (with
        their ``.metadata``) and refused whatever link names them, until a
        page lifts the quarantine.
        """
        before = ProjectPage(
            "demo",
            files=(
                DistFile("Demo-0.1.win32.exe", "https://files.test/Demo-0.1.win32.exe"),
            ),
        )
        self.quarantine.fetched("demo", True, before)
        self.assertEqual(
            self.forgotten, [LEGACY, (*LEGACY[:-1], LEGACY[-1] + ".metadata")]
        )
        self.assertTrue(self.refuses(LEGACY, "other"))
        self.assertTrue(self.refuses(LEGACY, None))
        self.quarantine.fetched("demo", False)
        self.assertFalse(self.refuses(LEGACY, None))

    def test_loaded_only_adds(self) -> None:
        """
        A page read back from the store can put a project in, but never
        takes out one a fetch put in (it may be older than the fetch).
        """
        self.quarantine.loaded("demo", True)
        self.assertIn("demo", self.quarantine)
        self.quarantine.fetched("other", True)
        self.quarantine.loaded("other", False)
        self.assertIn("other", self.quarantine)
        self.assertEqual(self.quarantine.unknown(["other"]), [])

    def test_unknown(self) -> None:
        """
        A project is unknown until a page of it (or its absence) is noted;
        then known either way.
        """
        self.assertEqual(self.quarantine.unknown(["demo", "other"]), ["demo", "other"])
        self.quarantine.loaded("demo", False)
        self.quarantine.fetched("other", True)
        self.assertEqual(self.quarantine.unknown(["demo", "other"]), [])

    def test_clear_bounded(self) -> None:
        """
        Projects known not to be quarantined are remembered up to the bound,
        the least recently asked forgotten first; quarantined ones are never
        forgotten.
        """
        quarantine = Quarantine("up", max_clear=2)
        quarantine.fetched("held", True)
        for name in ("a", "b"):
            quarantine.loaded(name, False)
        self.assertEqual(quarantine.unknown(["a"]), [])  # "a" asked last
        quarantine.loaded("c", False)
        self.assertEqual(quarantine.unknown(["a", "b", "c", "held"]), ["b"])

    def test_names(self) -> None:
        """
        The names that decide are the link's project and the filename's,
        once each; a file whose name names no project has the link's only.
        """
        self.assertEqual(self.quarantine.names(WHEEL, "demo"), ("demo",))
        self.assertEqual(self.quarantine.names(WHEEL, "other"), ("other", "demo"))
        self.assertEqual(self.quarantine.names(WHEEL, None), ("demo",))
        self.assertEqual(self.quarantine.names(LEGACY, None), ())
