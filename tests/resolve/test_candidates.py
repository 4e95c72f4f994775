"""
Tests for :mod:`twisted_pypi.resolve.candidates`: the candidates a project
page offers a target. The provider is exercised by the resolver's tests in
``tests/resolve/test_resolver.py``.
"""

from __future__ import annotations

from collections import Counter

from twisted.trial.unittest import SynchronousTestCase

from tests.resolve.test_resolver import LINUX, MemoryIndex
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.resolve.candidates import candidates_for


class CandidateTests(SynchronousTestCase):
    """
    :func:`candidates_for`: one candidate per installable version.
    """

    def test_best_file_per_version(self) -> None:
        """
        Each version is offered with its best-ranked wheel for the target,
        newest first; files the target cannot install are counted by reason.
        """
        index = MemoryIndex()
        index.add("np", "2.0", sdist=True)
        index.add("np", "2.0", tag="cp311-cp311-win_amd64")
        pure = index.add("np", "1.0")
        binary = index.add("np", "1.0", tag="cp311-cp311-manylinux_2_17_x86_64")
        index.add("np", "3.0", requires_python=">=3.13")
        skipped: Counter[str] = Counter()
        found = candidates_for(index.project_page("np"), LINUX, skipped)
        self.assertEqual([str(c.version) for c in found], ["2.0", "1.0"])
        self.assertTrue(found[0].dist and found[0].dist.filename.endswith(".tar.gz"))
        self.assertIs(found[1].dist, binary)
        self.assertIsNot(found[1].dist, pure)
        self.assertEqual(skipped, Counter({"wheel tags": 1, "requires-python": 1}))

    def test_legacy_names(self) -> None:
        """
        Sdists whose names packaging's filename parser refuses are offered
        with the version installers read (``.tar.bz2``, ``-rc1``); files
        without a usable version or tags, or of another project, are passed
        over without failing.
        """
        names = (
            "Pillow-3.1.0-rc1.tar.gz",
            "pillow-2.9.0.tar.bz2",
            "Pillow-2.0-py2.7-win32.egg",
            "Pillow-2.0.win32.exe",
            "pillow-0.1-py36+-none-any.whl",
            "Other-9.0.tar.gz",
            "README",
        )
        page = ProjectPage(
            name="pillow",
            files=tuple(DistFile(n, f"https://h/{n}") for n in names),
        )
        skipped: Counter[str] = Counter()
        found = candidates_for(page, LINUX, skipped)
        self.assertEqual(
            [(str(c.version), c.dist and c.dist.filename) for c in found],
            [("3.1.0rc1", names[0]), ("2.9.0", names[1])],
        )
        self.assertEqual(skipped, Counter({"not a wheel or sdist of the project": 5}))
