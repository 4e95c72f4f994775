"""
Tests for :mod:`twisted_pypi.storage.wheelread`: a wheel's ``METADATA``
read from a spool or a stored file by a few ranges.
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConsumer
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from tests.storage.fakes3 import FakeS3
from tests.wheels import build_wheel
from twisted_pypi.core.metadata import MetadataUnavailable
from twisted_pypi.core.zipranges import metadata_by_ranges
from twisted_pypi.storage.interfaces import IFileReader, ISpoolReader
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace
from twisted_pypi.storage.wheelread import ReaderFile, spool_metadata, stored_ranges

WHEEL = build_wheel("big", "1.0", padding=1 << 20)
KEY = ("pypi", "https", "files.example", "p", WHEEL.filename)


@implementer(ISpoolReader)
class _BytesReader:
    """A spool reader over bytes, recording its reads."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads: list[tuple[int, int]] = []
        self.closed = False

    def read(self, offset: int, length: int) -> bytes:
        self.reads.append((offset, length))
        return self.data[offset : offset + length]

    def close(self) -> None:
        self.closed = True


class SpoolTests(SynchronousTestCase):
    """
    :func:`spool_metadata` and :class:`ReaderFile`.
    """

    def test_metadata(self) -> None:
        """
        The ``METADATA`` of a wheel in a spool is read with a few reads, far
        fewer bytes than the wheel, and the reader is closed.
        """
        reader = _BytesReader(WHEEL.content)
        data = spool_metadata(reader, len(WHEEL.content), WHEEL.filename)
        self.assertEqual(data, WHEEL.metadata)
        self.assertTrue(reader.closed)
        self.assertLess(sum(n for _, n in reader.reads), len(WHEEL.content) // 4)

    def test_not_a_wheel(self) -> None:
        """
        Bytes that are not a wheel give :class:`MetadataUnavailable`, and
        the reader is closed.
        """
        reader = _BytesReader(b"x" * 1000)
        self.assertRaises(
            MetadataUnavailable, spool_metadata, reader, 1000, WHEEL.filename
        )
        self.assertTrue(reader.closed)

    def test_seek_and_read(self) -> None:
        """
        A :class:`ReaderFile` seeks from its start, its position and its
        end, reads up to the end, and refuses a seek before the start.
        """
        file = ReaderFile(_BytesReader(b"0123456789"), 10)
        self.assertEqual(file.seek(-3, 2), 7)
        self.assertEqual(file.read(), b"789")
        self.assertEqual(file.read(), b"")
        file.seek(2)
        file.seek(1, 1)
        self.assertEqual(file.tell(), 3)
        self.assertEqual(file.read(2), b"34")
        self.assertRaises(OSError, file.seek, -1)


@implementer(IFileReader)
class _Counting:
    """An :class:`IFileReader` that records the ranges streamed."""

    def __init__(self, reader: IFileReader) -> None:
        self._reader = reader
        self.stat = reader.stat
        self.ranges: list[tuple[int, int]] = []

    def stream(self, consumer: IConsumer, offset: int, length: int) -> Deferred[None]:
        self.ranges.append((offset, length))
        return self._reader.stream(consumer, offset, length)

    def close(self) -> None:
        self._reader.close()


class StoredTests(SynchronousTestCase):
    """
    :func:`stored_ranges` on a shared store whose node has no local copy.
    """

    def test_metadata(self) -> None:
        """
        The ``METADATA`` of a wheel only the store holds is read by a few
        ranged reads of it, not the whole object.
        """
        s3 = FakeS3()
        place = BucketPlace("b", "")
        s3.objects["b", place.file_key(KEY)] = WHEEL.content
        store = S3FileStore(
            cast(Any, s3), place, FilePath(self.mktemp()), None, Clock()
        )
        self.successResultOf(store.find(KEY))
        opened = store.open(KEY)
        assert opened is not None
        reader = _Counting(opened)
        read = Deferred.fromCoroutine(
            metadata_by_ranges(stored_ranges(reader), WHEEL.filename)
        )
        self.assertEqual(self.successResultOf(read).metadata, WHEEL.metadata)
        self.assertLess(sum(n for _, n in reader.ranges), len(WHEEL.content) // 4)
        reader.close()

    def test_short_file(self) -> None:
        """
        A tail longer than the file reads the whole file.
        """
        s3 = FakeS3()
        place = BucketPlace("b", "")
        s3.objects["b", place.file_key(KEY)] = b"tiny"
        store = S3FileStore(
            cast(Any, s3), place, FilePath(self.mktemp()), None, Clock()
        )
        self.successResultOf(store.find(KEY))
        reader = store.open(KEY)
        assert reader is not None

        async def tail() -> tuple[bytes, int]:
            return await stored_ranges(reader)(None, 100)

        self.assertEqual(
            self.successResultOf(Deferred.fromCoroutine(tail())), (b"tiny", 4)
        )
        reader.close()
