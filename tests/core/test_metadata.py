"""
Tests for :mod:`twisted_pypi.core.metadata`: parsing dependencies, reading
metadata out of wheels and sdists, and checking hashes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile

from twisted.trial.unittest import SynchronousTestCase

from tests.wheels import build_sdist, build_wheel
from twisted_pypi.core.metadata import (
    MetadataError,
    MetadataUnavailable,
    check_hashes,
    metadata_from_sdist,
    metadata_from_wheel,
    parse_dependencies,
)

WHEEL = build_wheel("demo", "1.0", requires=["lib>=1", "extra-dep; extra == 'x'"])
SDIST = build_sdist("demo", "1.0", requires=["lib>=1"], metadata_version="2.2")


class ParseDependenciesTests(SynchronousTestCase):
    """
    :func:`parse_dependencies`.
    """

    def test_wheel(self) -> None:
        """
        Every ``Requires-Dist`` line becomes a requirement, markers kept.
        """
        found = parse_dependencies(WHEEL.metadata)
        self.assertEqual(
            [str(r) for r in found.requires], ["lib>=1", 'extra-dep; extra == "x"']
        )
        self.assertEqual(found.problems, ())

    def test_invalid_line(self) -> None:
        """
        A line that is no requirement is reported and skipped.
        """
        found = parse_dependencies(b"Requires-Dist: lib\nRequires-Dist: ???\n")
        self.assertEqual([str(r) for r in found.requires], ["lib"])
        self.assertEqual(len(found.problems), 1)
        self.assertIn("'???'", found.problems[0])

    def test_sdist_reliable(self) -> None:
        """
        An sdist's metadata 2.2 without ``Dynamic: Requires-Dist`` is
        trusted, even listing nothing.
        """
        self.assertEqual(
            [str(r) for r in parse_dependencies(SDIST.metadata, sdist=True).requires],
            ["lib>=1"],
        )
        empty = build_sdist("x", "1", metadata_version="2.2").metadata
        self.assertEqual(parse_dependencies(empty, sdist=True).requires, ())

    def test_sdist_dynamic(self) -> None:
        """
        An sdist that declares its dependencies dynamic has unknown ones.
        """
        metadata = build_sdist(
            "x", "1", metadata_version="2.2", dynamic=["Requires-Dist"]
        ).metadata
        with self.assertRaises(MetadataUnavailable) as caught:
            parse_dependencies(metadata, sdist=True)
        self.assertIn("dynamic", str(caught.exception))

    def test_old_sdist(self) -> None:
        """
        An sdist with metadata older than 2.2 is trusted when it lists
        dependencies, and unknown when it lists none.
        """
        listed = build_sdist("x", "1", requires=["lib"]).metadata
        self.assertEqual(len(parse_dependencies(listed, sdist=True).requires), 1)
        with self.assertRaises(MetadataUnavailable):
            parse_dependencies(build_sdist("x", "1").metadata, sdist=True)


class ArchiveTests(SynchronousTestCase):
    """
    Reading metadata out of files, and checking hashes.
    """

    def test_wheel(self) -> None:
        """
        A wheel's ``METADATA`` is read from its ``.dist-info``.
        """
        self.assertEqual(
            metadata_from_wheel(WHEEL.content, WHEEL.filename), WHEEL.metadata
        )

    def test_not_a_wheel(self) -> None:
        """
        Bytes that are no zip make the metadata unavailable.
        """
        with self.assertRaises(MetadataUnavailable) as caught:
            metadata_from_wheel(b"nope", WHEEL.filename)
        self.assertIn(WHEEL.filename, str(caught.exception))

    def test_tar_sdist(self) -> None:
        """
        A ``.tar.gz`` sdist's top-level ``PKG-INFO`` is read.
        """
        self.assertEqual(
            metadata_from_sdist(SDIST.content, SDIST.filename), SDIST.metadata
        )

    def test_zip_sdist(self) -> None:
        """
        A ``.zip`` sdist's top-level ``PKG-INFO`` is read, not a nested one.
        """
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("demo-1.0/src/demo.egg-info/PKG-INFO", b"nested")
            archive.writestr("demo-1.0/PKG-INFO", b"Name: demo\n")
        self.assertEqual(
            metadata_from_sdist(buffer.getvalue(), "demo-1.0.zip"), b"Name: demo\n"
        )

    def test_sdist_without_pkg_info(self) -> None:
        """
        An sdist without ``PKG-INFO`` makes the metadata unavailable.
        """
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("demo-1.0/setup.py", b"")
        with self.assertRaises(MetadataUnavailable):
            metadata_from_sdist(buffer.getvalue(), "demo-1.0.zip")

    def test_hashes(self) -> None:
        """
        Known hashes must match; unknown hash names are ignored.
        """
        digest = hashlib.sha256(b"data").hexdigest()
        check_hashes(b"data", {"sha256": digest, "whirlpool": "00"}, "it")
        with self.assertRaises(MetadataError) as caught:
            check_hashes(b"other", {"sha256": digest}, "demo.metadata")
        self.assertIn(
            "demo.metadata does not match its sha256 hash", str(caught.exception)
        )
