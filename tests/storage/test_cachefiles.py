"""
Tests for :mod:`twisted_pypi.storage.cachefiles`: a cache directory's
complete files, as ``pypiproxy cache`` works on them.
"""

from __future__ import annotations

import hashlib

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.cachefiles import LocalFiles

SEGMENTS = ("pypi", "https", "files.example", "packages", "demo-1.0.tar.gz")


class LocalFilesTests(SynchronousTestCase):
    """
    :class:`LocalFiles` over a cache directory's ``files/``.
    """

    def setUp(self) -> None:
        """A cache directory holding one file, and a partial download."""
        self.root = FilePath(self.mktemp())
        path = self.root.child("files").preauthChild("/".join(SEGMENTS))
        path.parent().makedirs()
        path.setContent(b"demo bytes")
        self.root.child("tmp").makedirs()
        self.root.child("tmp").child("dl.part").setContent(b"partial")
        self.files = LocalFiles(self.root)

    def test_walk_and_digest(self) -> None:
        """
        Walking finds the complete file with its size (not the partial
        download); its digest is that of its bytes.
        """
        self.assertEqual(self.files.walk(), [(SEGMENTS, 10)])
        self.assertEqual(
            self.files.digest(SEGMENTS, "sha256"),
            hashlib.sha256(b"demo bytes").hexdigest(),
        )
        self.assertIsNone(self.files.digest((*SEGMENTS[:-1], "gone.whl"), "sha256"))

    def test_remove(self) -> None:
        """
        Removing the file deletes it and the directories it leaves empty;
        removing it again says it was not there.
        """
        self.assertTrue(self.files.remove(SEGMENTS))
        self.assertEqual(self.files.walk(), [])
        self.assertFalse(self.root.child("files").child("pypi").exists())
        self.assertFalse(self.files.remove(SEGMENTS))
