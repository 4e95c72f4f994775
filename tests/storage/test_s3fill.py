"""
Tests for :mod:`twisted_pypi.storage.s3fill`: an object fetched whole into
a spool, verified by size and entity tag.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.storage.fakes3 import FakeS3
from tests.storage.memorys3 import MemoryS3, memory_client
from twisted_pypi.objectstore.errors import StoreUnavailable
from twisted_pypi.storage.interfaces import FileStat
from twisted_pypi.storage.s3fill import EtagHasher, FillFailed, fill_spool
from twisted_pypi.storage.spool import LocalSpool


def md5(data: bytes) -> str:
    """The hex MD5 of ``data``."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class EtagHasherTests(SynchronousTestCase):
    """
    :class:`EtagHasher` computes S3's entity tags from the bytes.
    """

    def hashed(self, data: bytes, part_size: int = 4, step: int = 3) -> EtagHasher:
        """``data`` hashed in slices of ``step`` bytes."""
        hasher = EtagHasher(part_size)
        for start in range(0, len(data), step):
            hasher.update(data[start : start + step])
        return hasher

    def test_single_put(self) -> None:
        """
        The tag of a single ``PUT`` is the object's MD5 (quoted or not, in
        any case); other bytes do not match.
        """
        data = b"0123456789"
        self.assertTrue(self.hashed(data).matches(md5(data)))
        self.assertTrue(self.hashed(data).matches(f'"{md5(data).upper()}"'))
        self.assertFalse(self.hashed(b"0123456788").matches(md5(data)))

    def test_multipart(self) -> None:
        """
        The tag of an upload in parts is the MD5 of the parts' MD5s and
        their count; a count for another part size cannot be checked.
        """
        data = b"0123456789"
        parts = [data[0:4], data[4:8], data[8:]]
        digest = md5(
            b"".join(hashlib.md5(p, usedforsecurity=False).digest() for p in parts)
        )
        self.assertTrue(self.hashed(data).matches(f"{digest}-3"))
        self.assertFalse(self.hashed(b"x123456789").matches(f"{digest}-3"))
        self.assertIsNone(self.hashed(data).matches(f"{digest}-2"))

    def test_other_forms(self) -> None:
        """
        A tag S3 does not compute from the bytes (an encrypted object's)
        cannot be checked.
        """
        self.assertIsNone(self.hashed(b"abc").matches("etag-3-1f"))
        self.assertIsNone(self.hashed(b"abc").matches(""))


class FillSpoolTests(SynchronousTestCase):
    """
    :func:`fill_spool`.
    """

    def setUp(self) -> None:
        self.tmp = self.mktemp()
        os.makedirs(self.tmp)
        self.spool = LocalSpool(self.tmp)
        self.addCleanup(self.spool.discard)

    def test_memory_s3(self) -> None:
        """
        An object whose tag is its MD5 is fetched whole and verified.
        """
        s3 = MemoryS3()
        etag = s3.put("b/k", b"the bytes")
        client = memory_client(s3, Clock())
        stat = FileStat(9, 0.0, etag)
        d = Deferred.fromCoroutine(fill_spool(client, "b", "k", stat, self.spool, 4))
        self.successResultOf(d)
        with open(self.spool.path, "rb") as f:
            self.assertEqual(f.read(), b"the bytes")

    def test_corrupt(self) -> None:
        """
        Bytes that do not hash to the object's tag fail with
        :class:`FillFailed`.
        """
        s3 = MemoryS3()
        etag = s3.put("b/k", b"the bytes")
        s3.objects["b/k"] = (b"the bytez", etag)
        client = memory_client(s3, Clock())
        stat = FileStat(9, 0.0, etag)
        d = Deferred.fromCoroutine(fill_spool(client, "b", "k", stat, self.spool, 4))
        self.assertIn("entity tag", str(self.failureResultOf(d, FillFailed).value))

    def test_cut_short(self) -> None:
        """
        A body cut short fails the fill with the store's error.
        """
        s3 = FakeS3(cut=4)
        s3.objects["b", "k"] = b"the bytes"
        stat = FileStat(9, 0.0, s3._info("b", "k").etag)
        d = Deferred.fromCoroutine(
            fill_spool(cast(Any, s3), "b", "k", stat, self.spool, 4)
        )
        self.failureResultOf(d, StoreUnavailable)

    def test_wrong_size(self) -> None:
        """
        An object of another size than indexed fails with
        :class:`FillFailed`.
        """
        s3 = FakeS3()
        s3.objects["b", "k"] = b"the bytes"
        stat = FileStat(10, 0.0, s3._info("b", "k").etag)
        d = Deferred.fromCoroutine(
            fill_spool(cast(Any, s3), "b", "k", stat, self.spool, 4)
        )
        self.failureResultOf(d, FillFailed)
