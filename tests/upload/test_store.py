"""
Tests for :mod:`twisted_pypi.upload.store`: a checked upload is given its
name in the index's directory, never replacing a file, and nothing else is
left behind (the web tests, ``tests/web/test_upload.py``, cover races and
file systems without hard links).
"""

from __future__ import annotations

import io
import os

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.uploadforms import CONTENT_TYPE, SDIST, WHEEL, sdist_with, upload_body
from twisted_pypi.upload.errors import UploadError
from twisted_pypi.upload.store import Stored, store_upload

#: The largest file the tests accept.
MAX_SIZE = 64 * 1024


class StoreTests(SynchronousTestCase):
    """
    Storing uploads into a temporary directory.
    """

    def setUp(self) -> None:
        directory = FilePath(self.mktemp())
        directory.makedirs()
        self.directory = directory

    def store(self, body: bytes) -> Stored:
        """
        Store the upload form ``body``.
        """
        return store_upload(
            io.BytesIO(body), CONTENT_TYPE, self.directory.path, MAX_SIZE
        )

    def test_stored(self) -> None:
        """
        The file is stored under its name with its bytes, and only it.
        """
        stored = self.store(upload_body(WHEEL))
        self.assertEqual(
            stored, Stored(WHEEL.filename, len(WHEEL.content), WHEEL.sha256)
        )
        self.assertEqual(os.listdir(self.directory.path), [WHEEL.filename])
        self.assertEqual(
            self.directory.child(WHEEL.filename).getContent(), WHEEL.content
        )

    def test_same_distribution(self) -> None:
        """
        Another spelling of a stored release's sdist is refused with 409.
        """
        self.store(upload_body(SDIST, name="demo-pkg"))
        zipped = sdist_with(SDIST.metadata, "demo_pkg-1.0.zip", zipped=True)
        error = self.assertRaises(UploadError, self.store, upload_body(zipped))
        self.assertEqual(error.code, 409)
        self.assertEqual(os.listdir(self.directory.path), [SDIST.filename])

    def test_nothing_left(self) -> None:
        """
        A refused upload leaves no temporary file.
        """
        body = upload_body(WHEEL, sha256_digest="0" * 64)
        e = self.assertRaises(UploadError, self.store, body)
        self.assertEqual(e.code, 400)
        self.assertEqual(os.listdir(self.directory.path), [])
