"""
Tests for :mod:`twisted_pypi.storage.dirplace`: a private index's
directory, published to create-only (the listing is covered through
:class:`~twisted_pypi.sources.local.LocalIndex` in
``tests/sources/test_local.py``).
"""

from __future__ import annotations

import os

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.wheels import build_wheel
from twisted_pypi.storage.dirplace import DirectoryPlace, publish_file
from twisted_pypi.storage.privateplace import NameTaken, inspect_file

WHEEL = build_wheel("dirplace", "1.0", requires_python=">=3.9")


class PublishTests(SynchronousTestCase):
    """
    :func:`publish_file` and :meth:`DirectoryPlace.publish`.
    """

    def setUp(self) -> None:
        self.dir = FilePath(self.mktemp())
        self.dir.makedirs()
        self.spool = self.dir.child(".upload-1")
        self.spool.setContent(WHEEL.content)

    def test_published(self) -> None:
        """
        The spool gets its name; the conflict check is given the names in
        the directory.
        """
        seen: list[list[str]] = []
        publish_file(
            self.spool.path,
            self.dir.path,
            WHEEL.filename,
            lambda n: seen.append(list(n)),
        )
        self.assertEqual(self.dir.child(WHEEL.filename).getContent(), WHEEL.content)
        self.assertEqual(seen, [[".upload-1"]])

    def test_name_taken(self) -> None:
        """
        An existing name, or a conflict the check finds, is :class:`NameTaken`
        naming the file in the way, and nothing changes.
        """
        self.dir.child(WHEEL.filename).setContent(b"old")
        error = self.assertRaises(
            NameTaken, publish_file, self.spool.path, self.dir.path, WHEEL.filename,
            lambda names: None,
        )  # fmt: skip
        self.assertEqual(error.existing, WHEEL.filename)
        error = self.assertRaises(
            NameTaken, publish_file, self.spool.path, self.dir.path, "other.whl",
            lambda names: "in-the-way.whl",
        )  # fmt: skip
        self.assertEqual(error.existing, "in-the-way.whl")
        self.assertEqual(self.dir.child(WHEEL.filename).getContent(), b"old")
        self.assertEqual(
            sorted(os.listdir(self.dir.path)), [".upload-1", WHEEL.filename]
        )

    def test_place_publish(self) -> None:
        """
        :meth:`DirectoryPlace.publish` publishes a file with its facts; the
        next look lists it with them.
        """
        place = DirectoryPlace(self.dir.path)
        facts = inspect_file(self.spool.path, WHEEL.filename, "dirplace")
        self.successResultOf(place.publish(self.spool.path, facts, lambda n: None))
        listing = self.successResultOf(place.scan({}))
        assert listing is not None
        listed = listing.files[WHEEL.filename]
        self.assertEqual(
            (listed.sha256, listed.requires_python, listed.metadata),
            (WHEEL.sha256, ">=3.9", WHEEL.metadata),
        )
