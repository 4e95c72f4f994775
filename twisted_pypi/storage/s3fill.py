# -*- test-case-name: tests.storage.test_s3fill -*-
"""
Filling a node's read cache from the shared store: one object fetched
whole into a spool, verified, before
:class:`~twisted_pypi.storage.s3files.S3FileStore` keeps it as the file's
local copy.

The fetch is one ``GET`` conditional on the version indexed (``If-Match``
its entity tag), streamed into the spool with backpressure.  The copy is
verified before it is kept, never served part way: its size must be the
object's, and its bytes must hash to the object's entity tag when that tag
is one S3 computes from the bytes: the MD5 of the object for a single
``PUT``, the MD5 of the parts' MD5s followed by ``-N`` for an upload in
``N`` parts of ``part_size`` bytes (our publishes).  A tag of another form
(an encrypted object's) cannot be checked: the size and ``If-Match`` vouch
for the copy then.

Why a fetch in the background on a file's first use rather than a copy of
what one response streams: clients that read ranges (pip's lazy wheels,
resumed downloads) fill the cache too, a slow client does not hold the
copy back, and the copy never depends on a client reading to the end.  The
request that started it is served from the store meanwhile.  Local copies
stay within ``--cache-size`` (least recently used evicted first); a file
larger than the whole budget is not copied.
"""

from __future__ import annotations

import hashlib
from typing import Any

from twisted.internet.interfaces import IConsumer, IProducer, IPushProducer
from zope.interface import implementer

from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.storage.interfaces import FileStat
from twisted_pypi.storage.spool import LocalSpool

__all__ = ["FillFailed", "EtagHasher", "fill_spool"]


class FillFailed(Exception):
    """
    A fetched copy is not the object: it was cut short, or its bytes do
    not match the object's size or entity tag.
    """


class EtagHasher:
    """
    Computes the entity tag S3 gives an object from its bytes, as they
    come: the MD5 of the whole object, and the multipart tag of an upload
    in parts of ``part_size`` bytes.
    """

    def __init__(self, part_size: int) -> None:
        """
        :param part_size: Bytes per part of a multipart upload.
        """
        self._part_size = part_size
        self._whole = hashlib.md5(usedforsecurity=False)
        self._part = hashlib.md5(usedforsecurity=False)
        self._in_part = 0
        self._parts: list[bytes] = []

    def update(self, data: bytes) -> None:
        """Hash more bytes."""
        self._whole.update(data)
        view = memoryview(data)
        while view:
            room = self._part_size - self._in_part
            chunk, view = view[:room], view[room:]
            self._part.update(chunk)
            self._in_part += len(chunk)
            if self._in_part == self._part_size:
                self._parts.append(self._part.digest())
                self._part = hashlib.md5(usedforsecurity=False)
                self._in_part = 0

    def matches(self, etag: str) -> bool | None:
        """
        Whether the bytes hashed have entity tag ``etag``; ``None`` if the
        tag is of a form that cannot be computed from the bytes.
        """
        tag = etag.strip('"').lower()
        digest, dash, count = tag.partition("-")
        if len(digest) != 32 or not all(c in "0123456789abcdef" for c in digest):
            return None
        if not dash:
            return self._whole.hexdigest() == digest
        parts = self._parts + ([self._part.digest()] if self._in_part else [])
        if not count.isdigit() or int(count) != len(parts):
            return None  # uploaded in parts of another size
        return hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest() == digest


@implementer(IConsumer)
class _SpoolWriter:
    """
    Writes a body into a spool, hashing it; a write that fails stops the
    body's connection and is kept to be raised.
    """

    def __init__(self, spool: LocalSpool, hasher: EtagHasher) -> None:
        """
        :param spool: Where the bytes go.
        :param hasher: What hashes them.
        """
        self._spool = spool
        self._hasher = hasher
        self._producer: IPushProducer | None = None
        self.error: OSError | None = None

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """The body's connection."""
        self._producer = IPushProducer(producer)

    def unregisterProducer(self) -> None:
        """The body ended."""
        self._producer = None

    def write(self, data: bytes) -> None:
        """Append ``data`` to the spool (a failure stops the body)."""
        if self.error is not None:
            return
        try:
            self._spool.write(data)
        except OSError as e:
            self.error = e
            if self._producer is not None:
                self._producer.stopProducing()
            return
        self._hasher.update(data)


async def fill_spool(
    client: S3Client,
    bucket: str,
    name: str,
    stat: FileStat,
    spool: LocalSpool,
    part_size: int,
) -> None:
    """
    Fetch one version of an object whole into ``spool``, and verify it.

    :param client: Talks to the store.
    :param bucket: The object's bucket.
    :param name: The object's key.
    :param stat: The version to fetch (its size and entity tag).
    :param spool: An empty spool.
    :param part_size: The part size of multipart publishes.
    :raise FillFailed: If what came is not the object.
    :raise OSError: If the spool could not be written.
    :raise S3Error: If the store failed (or the version is gone).
    """
    hasher = EtagHasher(part_size)
    if stat.size > 0:
        # As one range: some servers send a whole multipart object chunked,
        # without the length the client checks.
        body = await client.get(bucket, name, 0, stat.size, if_match=stat.etag)
        writer = _SpoolWriter(spool, hasher)
        streaming: Any = body.stream_to(writer)
        try:
            await streaming
        except Exception:
            if writer.error is not None:
                raise writer.error from None
            raise
    if spool.written != stat.size:
        raise FillFailed(f"{spool.written} bytes came of {stat.size}")
    if hasher.matches(stat.etag) is False:
        raise FillFailed("the bytes do not match the object's entity tag")
