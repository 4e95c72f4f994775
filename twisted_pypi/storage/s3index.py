# -*- test-case-name: tests.storage.test_s3index -*-
"""
What a shared store's bucket holds (see :mod:`~twisted_pypi.storage.s3files`):
the file objects under ``PREFIX/files/``, kept in memory by file key, each
with its size, date and entity tag.

The index is filled by listing the bucket
(:meth:`ObjectIndex.list_bucket`, in the background: the node serves
meanwhile), completed one file at a time by a ``HEAD``
(:meth:`ObjectIndex.head`: another node may have published the file since),
updated by this node's commits, and corrected when a read finds an object
deleted or replaced (:meth:`ObjectIndex.forget`).
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.errors import NotFound, S3Error
from twisted_pypi.objectstore.objects import ObjectInfo
from twisted_pypi.storage.interfaces import FileStat, Key
from twisted_pypi.storage.s3place import BucketPlace

__all__ = ["ObjectIndex"]

_log = Logger()


class ObjectIndex:
    """
    The file objects of a bucket, by file key (see the module's
    description).

    :ivar client: Talks to the store.
    :ivar place: The bucket and prefix.
    """

    def __init__(self, client: S3Client, place: BucketPlace) -> None:
        """
        :param client: Talks to the store.
        :param place: The bucket and prefix.
        """
        self.client = client
        self.place = place
        self._objects: dict[Key, FileStat] = {}

    def __len__(self) -> int:
        """How many files the index lists."""
        return len(self._objects)

    def __contains__(self, key: Key) -> bool:
        """Whether the index lists the file at ``key``."""
        return key in self._objects

    def get(self, key: Key) -> FileStat | None:
        """The file at ``key`` as the index lists it, if it does."""
        return self._objects.get(key)

    def add(self, key: Key, info: ObjectInfo) -> FileStat:
        """
        Index the object of the file at ``key``.

        :param info: What the store said of it.
        :return: The file's stat.
        """
        stat = self._objects[key] = FileStat(info.size, info.modified, info.etag)
        return stat

    def remove(self, key: Key) -> bool:
        """
        Forget the file at ``key``.

        :return: Whether the index listed it.
        """
        return self._objects.pop(key, None) is not None

    def forget(self, key: Key, stat: FileStat) -> None:
        """
        A read found the object deleted or replaced: drop it from the index
        (unless it was indexed again since), so that the next look-up asks
        the store.

        :param stat: The stat the read was of.
        """
        if self._objects.get(key) == stat:
            del self._objects[key]
            _log.info(
                "{key} is no longer in the store (deleted by another node)",
                key=self.place.file_key(key),
            )

    def head(self, key: Key) -> Deferred[FileStat | None]:
        """
        Ask the store about one file (a ``HEAD`` of its object), and index
        what it says.

        :return: A Deferred firing with the file's stat, or ``None`` if
            the store does not have it; or failing with the
            :class:`~twisted_pypi.objectstore.errors.S3Error` of a store
            that could not be asked.
        """
        return Deferred.fromCoroutine(self._head(key))

    async def _head(self, key: Key) -> FileStat | None:
        """See :meth:`head`."""
        try:
            info = await self.client.head(self.place.bucket, self.place.file_key(key))
        except NotFound:
            return None
        return self.add(key, info)

    def list_bucket(self) -> Deferred[None]:
        """
        List every file object of the bucket into the index (objects
        indexed meanwhile are kept as they are).

        :return: A Deferred firing once the listing ended; it never fails
            (a store that cannot be listed is logged: files are then looked
            up one by one).
        """
        return Deferred.fromCoroutine(self._list())

    async def _list(self) -> None:
        """See :meth:`list_bucket`."""
        token: str | None = None
        count = 0
        try:
            while True:
                page = await self.client.list_objects(
                    self.place.bucket, self.place.files_prefix, token
                )
                for listed in page.objects:
                    key = self.place.key_of(listed.key)
                    if key is not None:
                        found = FileStat(listed.size, listed.modified, listed.etag)
                        self._objects.setdefault(key, found)
                        count += 1
                token = page.next_token
                if token is None:
                    break
        except S3Error as e:
            _log.warn(
                "Cannot list the store {place}: {error}; files are looked up"
                " one by one",
                place=str(self.place),
                error=str(e),
            )
            return
        _log.info(
            "The store {place} holds {count} files", place=str(self.place), count=count
        )
