# -*- test-case-name: tests.core.test_zipranges -*-
"""
A wheel's ``METADATA`` read through ranges of its bytes, the way uv reads
it: the zip's end records and central directory from the file's tail, then
the one member.  A few kilobytes instead of the whole wheel.

The zip format is read by :mod:`zipfile`, not by code of ours: it reads a
:class:`SparseFile` holding only the ranges fetched so far, which raises
:class:`NeedBytes` when :mod:`zipfile` asks for bytes it does not hold; the
driver (:func:`metadata_by_ranges`) fetches them and tries again.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import IO, Any, cast

from twisted_pypi.core.metadata import MetadataUnavailable, metadata_from_wheel
from twisted_pypi.core.runner import Runner, run_now

__all__ = [
    "MAX_ROUNDS",
    "MIN_READ",
    "TAIL",
    "NeedBytes",
    "RangeRead",
    "RangedMetadata",
    "SizedFile",
    "SparseFile",
    "metadata_by_ranges",
]

#: The first read: the zip's end records and, for most wheels, the whole
#: central directory (a wheel of a few dozen files has one of a few KB).  A
#: longer directory, or an archive comment hiding the end record, costs one
#: more read.
TAIL = 16 << 10

#: The smallest read after the first: a member's local header and, for most
#: ``METADATA`` files (a few KB compressed), its data in one; each further
#: read takes at least twice the one before.
MIN_READ = 8 << 10

#: Reads given up after: most wheels need one to three.
MAX_ROUNDS = 10

#: Reads ``length`` bytes at ``offset`` of the file (``offset=None``: its last
#: ``length`` bytes, or all of it when it is shorter); fires with those bytes
#: and the file's total size.
RangeRead = Callable[[int | None, int], Awaitable[tuple[bytes, int]]]


class NeedBytes(Exception):
    """
    :mod:`zipfile` asked a :class:`SparseFile` for bytes it does not hold.

    :ivar offset: Where the missing bytes start.
    :ivar length: How many were asked for (clipped to the file's end).
    """

    def __init__(self, offset: int, length: int) -> None:
        super().__init__(offset, length)
        self.offset = offset
        self.length = length


class SizedFile(io.RawIOBase):
    """
    A read-only, seekable file of a known size: the position and seeking;
    a subclass reads.
    """

    def __init__(self, size: int) -> None:
        """
        :param size: The whole file's size.
        """
        super().__init__()
        self.size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}
        position = base[whence] + offset
        if position < 0:
            raise OSError("seek before the start of the file")
        self._pos = position
        return position


class SparseFile(SizedFile):
    """
    A file of a known size of which only some ranges are held; reading
    anything else raises :class:`NeedBytes`.
    """

    def __init__(self, size: int, held: list[tuple[int, bytes]] | None = None) -> None:
        """
        :param size: The whole file's size.
        :param held: The ranges held, shared (see :meth:`view`).
        """
        super().__init__(size)
        self._held: list[tuple[int, bytes]] = [] if held is None else held

    def add(self, offset: int, data: bytes) -> None:
        """
        Hold ``data`` at ``offset``.
        """
        if data:
            self._held.append((offset, data))

    def view(self) -> SparseFile:
        """
        Another file over the same ranges, from the start, that
        :mod:`zipfile` may close (this one then still holds them).
        """
        return SparseFile(self.size, self._held)

    def read(self, size: int | None = -1) -> bytes:
        end = self.size
        if size is not None and size >= 0:
            end = min(end, self._pos + size)
        if end <= self._pos:
            return b""
        for start, data in self._held:
            if start <= self._pos and end <= start + len(data):
                chunk = data[self._pos - start : end - start]
                self._pos = end
                return chunk
        raise NeedBytes(self._pos, end - self._pos)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class RangedMetadata:
    """
    What :func:`metadata_by_ranges` read.

    :ivar metadata: The ``METADATA`` bytes.
    :ivar size: The wheel's size.
    :ivar fetched: How many bytes of the wheel were read for it.
    """

    def __init__(self, metadata: bytes, size: int, fetched: int) -> None:
        self.metadata = metadata
        self.size = size
        self.fetched = fetched


async def metadata_by_ranges(
    read: RangeRead,
    filename: str,
    run: Runner = run_now,
    tail: int = TAIL,
) -> RangedMetadata:
    """
    The ``METADATA`` of the wheel ``filename``, read by ranges.

    :param read: Reads a range of the wheel (see :data:`RangeRead`).
    :param filename: The wheel's filename (to choose its ``.dist-info``).
    :param run: Runs each attempt to read the zip (blocking: a big central
        directory takes milliseconds), away from the reactor.
    :param tail: How many bytes the first read takes from the end.
    :raises MetadataUnavailable: When the wheel has no readable
        ``METADATA`` or needs more reads than :data:`MAX_ROUNDS`.
    :raises Exception: Whatever ``read`` raises.
    """
    data, size = await read(None, tail)
    sparse = SparseFile(size)
    sparse.add(size - len(data), data)
    fetched = len(data)
    for round in range(MAX_ROUNDS):
        try:
            metadata: bytes = await run(
                lambda: metadata_from_wheel(cast(IO[bytes], sparse.view()), filename)
            )
        except NeedBytes as need:
            length = min(max(need.length, MIN_READ << round), size - need.offset)
            data, _ = await read(need.offset, length)
            if len(data) != length:
                raise MetadataUnavailable(
                    f"{filename}: asked for {length} bytes at {need.offset},"
                    f" got {len(data)}"
                ) from None
            sparse.add(need.offset, data)
            fetched += len(data)
        else:
            return RangedMetadata(metadata, size, fetched)
    raise MetadataUnavailable(f"{filename}: no METADATA in {MAX_ROUNDS} ranged reads")
