"""
Tests for :mod:`twisted_pypi.core.names`.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.names import (
    is_distribution_filename,
    is_safe_segment,
    is_valid_project_name,
    normalize,
    project_of_filename,
)


class NormalizeTests(SynchronousTestCase):
    """
    PEP 503 name normalization.
    """

    def test_runs_collapse(self) -> None:
        """
        Case folds and each run of ``-``, ``_`` and ``.`` becomes one ``-``.
        """
        self.assertEqual(normalize("Foo.Bar__baz"), "foo-bar-baz")
        self.assertEqual(normalize("zope.interface"), "zope-interface")
        self.assertEqual(normalize("A-._-B"), "a-b")

    def test_valid_names(self) -> None:
        """
        Names follow the core metadata rule: letters, digits, ``.``, ``_``
        and ``-``, starting and ending with a letter or digit.
        """
        for name in ("requests", "Foo.Bar_baz", "a", "x1-2"):
            self.assertTrue(is_valid_project_name(name), name)
        for name in ("", "-a", "a-", "../etc", "a/b", "a b", "a\x00", "é"):
            self.assertFalse(is_valid_project_name(name), name)


class SegmentTests(SynchronousTestCase):
    """
    Path segments that may reach the file system.
    """

    def test_unsafe(self) -> None:
        """
        Empty, dot, dot-dot, hidden, slash, backslash, NUL and over-long
        segments are refused.
        """
        for segment in (
            "",
            ".",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "a\x00b",
            "x" * 256,
            "a\nb",
        ):
            self.assertFalse(is_safe_segment(segment), repr(segment))

    def test_safe(self) -> None:
        """
        Ordinary names, hosts with ports and digests are accepted.
        """
        for segment in (
            "packages",
            "127.0.0.1:8080",
            "[::1]:80",
            "ab",
            "x-1.0-py3-none-any.whl",
            "x" * 255,
        ):
            self.assertTrue(is_safe_segment(segment), segment)


class FilenameTests(SynchronousTestCase):
    """
    Distribution filenames.
    """

    def test_wheels_and_sdists(self) -> None:
        """
        Wheel and sdist filenames give their normalized project name.
        """
        self.assertEqual(project_of_filename("Foo_Bar-1.0-py3-none-any.whl"), "foo-bar")
        self.assertEqual(project_of_filename("foo_bar-1.0.tar.gz"), "foo-bar")
        self.assertEqual(project_of_filename("foo-bar-2.0rc1.zip"), "foo-bar")

    def test_others_refused(self) -> None:
        """
        Other files, broken names and path tricks are not distribution
        filenames.
        """
        for name in (
            "foo-1.0.exe",
            "foo-1.0.egg",
            "foo-1.0-py3.whl",
            "../foo-1.0.tar.gz",
            "foo/../bar-1.0.tar.gz",
            ".foo-1.0.tar.gz",
            "foo-1.0.tar.gz\x00",
            "notaversion.tar.gz",
        ):
            self.assertFalse(is_distribution_filename(name), name)
