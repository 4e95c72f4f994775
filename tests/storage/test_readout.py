"""
Tests for :mod:`twisted_pypi.storage.readout`: stored files read whole
through the seam.
"""

from __future__ import annotations

import os
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.storage.fakes3 import FakeS3
from twisted_pypi.storage.interfaces import StoreUnreachable
from twisted_pypi.storage.readout import copy_to_path, read_bytes
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace

KEY = ("pypi", "https", "files.example", "packages", "demo-1.0.tar.gz")


class ReadoutTests(SynchronousTestCase):
    """
    :func:`read_bytes` and :func:`copy_to_path` on a shared store whose
    node has no local copy.
    """

    def setUp(self) -> None:
        self.s3 = FakeS3()
        self.place = BucketPlace("b", "")
        self.s3.objects["b", self.place.file_key(KEY)] = b"stored bytes"
        self.store = S3FileStore(
            cast(Any, self.s3), self.place, FilePath(self.mktemp()), None, Clock()
        )

    def test_read_bytes(self) -> None:
        """
        A file only the store holds is read whole (found with a ``HEAD``);
        a file it does not hold reads as ``None``.
        """
        got = Deferred.fromCoroutine(read_bytes(self.store, KEY))
        self.assertEqual(self.successResultOf(got), b"stored bytes")
        other = (*KEY[:-1], "other-1.0.tar.gz")
        missing = Deferred.fromCoroutine(read_bytes(self.store, other))
        self.assertIsNone(self.successResultOf(missing))

    def test_copy_to_path(self) -> None:
        """
        A stored file is copied to a local file.
        """
        self.successResultOf(self.store.find(KEY))
        reader = self.store.open(KEY)
        assert reader is not None
        path = self.mktemp()
        self.successResultOf(Deferred.fromCoroutine(copy_to_path(reader, path)))
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"stored bytes")

    def test_copy_cut_short(self) -> None:
        """
        A copy that fails part way is deleted: no partial file is left.
        """
        self.successResultOf(self.store.find(KEY))
        reader = self.store.open(KEY)
        assert reader is not None
        self.s3.cut = 3
        path = self.mktemp()
        copying = Deferred.fromCoroutine(copy_to_path(reader, path))
        self.failureResultOf(copying, StoreUnreachable)
        self.assertFalse(os.path.exists(path))
