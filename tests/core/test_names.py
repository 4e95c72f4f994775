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
    version_of,
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


class VersionOfTests(SynchronousTestCase):
    """
    The version of a listed file is read as installers read it.
    """

    def test_strict_names(self) -> None:
        """
        Modern wheel and sdist names give their version.
        """
        self.assertEqual(
            str(version_of("Foo_Bar-1.0-py3-none-any.whl", "foo-bar")), "1.0"
        )
        self.assertEqual(str(version_of("foo_bar-2.0rc1.tar.gz", "Foo.Bar")), "2.0rc1")

    def test_legacy_names(self) -> None:
        """
        Legacy archives and versions split only with the project's name known
        give their version.
        """
        for filename, project, version in (
            ("python-dateutil-2.4.1.tar.bz2", "python-dateutil", "2.4.1"),
            ("Pillow-3.1.0-rc1.tar.gz", "pillow", "3.1.0rc1"),
            ("kubernetes-1.0.0-alpha.2.tar.gz", "kubernetes", "1.0.0a2"),
            ("joblib-0.8.3-r1.tar.gz", "joblib", "0.8.3.post1"),
            ("pydantic-0.18-py36+-none-any.whl", "pydantic", "0.18"),
            ("Foo-1.0.TGZ", "foo", "1.0"),
        ):
            self.assertEqual(str(version_of(filename, project)), version, filename)

    def test_unknown(self) -> None:
        """
        Files of other kinds, of other projects, or with unparseable versions
        have no version.
        """
        for filename, project in (
            ("numpy-1.0-py2.7-win32.egg", "numpy"),
            ("numpy-1.9.0.win32-py2.7.exe", "numpy"),
            ("foo-dev.tar.gz", "foo"),
            ("bar-1.0.tar.gz", "foo"),
            ("foo.tar.gz", "foo"),
            ("passwd", "foo"),
        ):
            self.assertIsNone(version_of(filename, project), filename)
