"""
Tests for :mod:`twisted_pypi.core.zipranges`: a wheel's ``METADATA`` read by
ranges of its bytes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from tests.wheels import build_wheel
from twisted_pypi.core.metadata import MetadataUnavailable
from twisted_pypi.core.zipranges import (
    MIN_READ,
    NeedBytes,
    RangedMetadata,
    SparseFile,
    metadata_by_ranges,
)


class _Reads:
    """
    Answers range reads of ``content`` and records them.
    """

    def __init__(self, content: bytes) -> None:
        self.content = content
        self.reads: list[tuple[int | None, int]] = []

    async def __call__(self, offset: int | None, length: int) -> tuple[bytes, int]:
        self.reads.append((offset, length))
        if offset is None:
            return self.content[-length:], len(self.content)
        return self.content[offset : offset + length], len(self.content)


def _metadata_first(padding: int) -> tuple[bytes, bytes]:
    """
    A wheel whose METADATA is its first member, followed by ``padding``
    incompressible bytes, and that METADATA.
    """
    metadata = b"Metadata-Version: 2.1\nName: far\nVersion: 1.0\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("far-1.0.dist-info/METADATA", metadata)
        archive.writestr("far_data.bin", hashlib.shake_256(b"far").digest(padding))
    return buffer.getvalue(), metadata


def _read(reads: _Reads, filename: str) -> RangedMetadata:
    """Run :func:`metadata_by_ranges` to its end (the reads answer at once)."""
    d = Deferred.fromCoroutine(metadata_by_ranges(reads, filename))
    results: list[object] = []
    d.addBoth(results.append)
    [result] = results
    if isinstance(result, RangedMetadata):
        return result
    result.raiseException()  # type: ignore[attr-defined]
    raise AssertionError("unreachable")


class SparseFileTests(SynchronousTestCase):
    """
    :class:`SparseFile` serves the ranges it holds and asks for the rest.
    """

    def test_held_and_missing(self) -> None:
        """
        Bytes inside a held range are read; a read reaching outside raises
        :class:`NeedBytes` naming the missing start and the length asked
        for, clipped to the file's end.
        """
        sparse = SparseFile(100)
        sparse.add(90, b"0123456789")
        sparse.seek(-5, io.SEEK_END)
        self.assertEqual(sparse.read(), b"56789")
        sparse.seek(80)
        with self.assertRaises(NeedBytes) as caught:
            sparse.read(50)
        self.assertEqual((caught.exception.offset, caught.exception.length), (80, 20))

    def test_view(self) -> None:
        """
        A view reads the same ranges from the start, a range added later
        included, and closing it leaves the file open.
        """
        sparse = SparseFile(10)
        sparse.seek(5)
        view = sparse.view()
        sparse.add(0, b"0123456789")
        self.assertEqual(view.read(3), b"012")
        view.close()
        self.assertFalse(sparse.closed)
        self.assertEqual(sparse.read(), b"56789")

    def test_seek(self) -> None:
        """
        Seeking is from the start, the position or the end; before the
        start is an error.
        """
        sparse = SparseFile(10)
        self.assertEqual(sparse.seek(-4, io.SEEK_END), 6)
        self.assertEqual(sparse.seek(2, io.SEEK_CUR), 8)
        self.assertRaises(OSError, sparse.seek, -1)


class MetadataByRangesTests(SynchronousTestCase):
    """
    :func:`metadata_by_ranges` reads a wheel's METADATA with a few small
    reads.
    """

    def test_small_wheel(self) -> None:
        """
        A wheel shorter than the first read is read whole, in one read.
        """
        wheel = build_wheel("small", "1.0", requires=["dep>=1"])
        reads = _Reads(wheel.content)
        result = _read(reads, wheel.filename)
        self.assertEqual(result.metadata, wheel.metadata)
        self.assertEqual(result.size, len(wheel.content))
        self.assertEqual(len(reads.reads), 1)

    def test_big_wheel(self) -> None:
        """
        A wheel of 3 MB is read in two reads that fetch a small part of it:
        its tail, then the METADATA member, far from the end.
        """
        content, metadata = _metadata_first(3 << 20)
        reads = _Reads(content)
        result = _read(reads, "far-1.0-py3-none-any.whl")
        self.assertEqual(result.metadata, metadata)
        self.assertEqual(len(reads.reads), 2)
        self.assertEqual(reads.reads[1][0], 0)
        self.assertLess(result.fetched, 4 * MIN_READ)
        self.assertEqual(result.fetched, sum(n for _, n in reads.reads))

    def test_long_central_directory(self) -> None:
        """
        A wheel whose central directory is longer than the first read (many
        members) has it fetched with one more read, before the member's.
        """
        modules = {f"pkg/m{i:05}_{'x' * 60}.py": "" for i in range(2000)}
        wheel = build_wheel("many", "1.0", modules=modules)
        reads = _Reads(wheel.content)
        result = _read(reads, wheel.filename)
        self.assertEqual(result.metadata, wheel.metadata)
        self.assertEqual(len(reads.reads), 3)  # tail, directory, member
        self.assertLess(result.fetched, len(wheel.content))

    def test_not_a_zip(self) -> None:
        """
        Bytes that are not a zip give :class:`MetadataUnavailable`.
        """
        reads = _Reads(b"not a zip" * 1000)
        self.assertRaises(MetadataUnavailable, _read, reads, "a-1.0-py3-none-any.whl")

    def test_no_metadata(self) -> None:
        """
        A zip without the project's METADATA gives
        :class:`MetadataUnavailable`.
        """
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("a.py", "")
        reads = _Reads(buffer.getvalue())
        self.assertRaises(MetadataUnavailable, _read, reads, "a-1.0-py3-none-any.whl")

    def test_short_answer(self) -> None:
        """
        A read answered with fewer bytes than asked gives
        :class:`MetadataUnavailable`, not a wrong METADATA.
        """
        content, _ = _metadata_first(1 << 20)
        reads = _Reads(content)

        async def short(offset: int | None, length: int) -> tuple[bytes, int]:
            data, size = await reads(offset, length)
            return (data if offset is None else data[:-1]), size

        d = Deferred.fromCoroutine(
            metadata_by_ranges(short, "far-1.0-py3-none-any.whl")
        )
        self.failureResultOf(d, MetadataUnavailable)

    def test_archive_comment(self) -> None:
        """
        A zip whose long archive comment hides its end record from the first
        read is still read, with more reads.
        """
        content, metadata = _metadata_first(1 << 20)
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
        buffer = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(content)) as source,
            zipfile.ZipFile(buffer, "w") as archive,
        ):
            for name in names:
                archive.writestr(source.getinfo(name), source.read(name))
            archive.comment = b"c" * 60_000
        reads = _Reads(buffer.getvalue())
        result = _read(reads, "far-1.0-py3-none-any.whl")
        self.assertEqual(result.metadata, metadata)
        self.assertGreater(len(reads.reads), 2)
