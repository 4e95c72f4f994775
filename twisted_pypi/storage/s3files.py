# -*- test-case-name: tests.storage.test_s3files -*-
"""
Cached files kept in an S3 bucket that several proxy nodes share: the
:class:`~twisted_pypi.storage.interfaces.IFileStore` of ``--store
s3://BUCKET[/PREFIX]``.

The node's cache directory stays local and does two jobs: its ``tmp/``
holds the spools of downloads in flight (as with the local store), and its
``files/`` is a bounded read cache of store objects (``--cache-size``, the
least recently used evicted first).  :class:`S3FileStore` is therefore a
:class:`~twisted_pypi.storage.filecache.FileCache` (spools, pins,
reservations, the size budget and eviction are the local cache's) whose
notion of "cached" is the bucket's:

- **The index.**  What the bucket holds is kept in memory
  (:mod:`~twisted_pypi.storage.s3index`): filled by listing the bucket at
  :meth:`~S3FileStore.scan` (in the background: the node serves meanwhile),
  updated by every commit, and completed on a miss by
  :meth:`~S3FileStore.find`, which asks the bucket (``HEAD``): another node
  may have published the file since.  :meth:`~S3FileStore.stat` and
  :meth:`~S3FileStore.is_cached` read the index alone (no I/O).
- **Commit** publishes a verified spool with one create-only upload (one
  ``PUT``, or a multipart upload completed at once): readers never see part
  of a file, and when another node published the same file first (found
  by a ``HEAD`` before the upload, as when this node streamed the file from
  the node that downloaded it, or ``AlreadyExists``) that counts as
  success, without a second upload: both were verified against the same
  index hash.  The spool then becomes the local copy.  If the
  bucket cannot be reached the commit fails with
  :class:`~twisted_pypi.storage.interfaces.StoreUnreachable`, having
  published nothing: the download sends the verified file to its clients
  without caching it.
- **Reading** uses the local copy when there is one of the object's size,
  else ranged ``GET`` requests (:mod:`~twisted_pypi.storage.objectreader`);
  either way the validators (``ETag``, ``Last-Modified``) are the object's,
  so every node answers a client's conditional and ranged requests alike.
  When the bucket cannot be reached, a file with a local copy is still
  served from it.
- **The read cache.**  The first use (:meth:`~S3FileStore.touch`) of a
  file with no local copy fetches its object whole in the background
  (:mod:`~twisted_pypi.storage.s3fill`, which says why), verified, so that
  later requests are served from the local disk, within ``--cache-size``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import CooperativeTask, cooperate
from twisted.logger import Logger
from twisted.python.filepath import FilePath
from zope.interface import implementer

from twisted_pypi.core.names import is_safe_segment
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.errors import AlreadyExists, NotFound, S3Error
from twisted_pypi.objectstore.multipart import (
    DEFAULT_PART_SIZE,
    DEFAULT_THRESHOLD,
    put_file,
)
from twisted_pypi.objectstore.objects import ObjectInfo
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.interfaces import (
    FileStat,
    IFileReader,
    IFileStore,
    ISpool,
    Key,
    StoreUnreachable,
)
from twisted_pypi.storage.layout import STALE_TEMP_AGE
from twisted_pypi.storage.objectreader import ObjectReader
from twisted_pypi.storage.s3fill import FillFailed, fill_spool
from twisted_pypi.storage.s3index import ObjectIndex
from twisted_pypi.storage.s3place import BucketPlace
from twisted_pypi.storage.spool import LocalSpool

__all__ = ["S3FileStore"]

_log = Logger()


@implementer(IFileStore)
class S3FileStore(FileCache):
    """
    Files in a shared bucket, with the node's cache directory as their
    spools and bounded read cache (see the module's description).

    :ivar client: Talks to the store.
    :ivar place: The bucket and prefix.
    :ivar listing: The listing of the bucket started by :meth:`scan`
        (it never fails), or ``None`` before.
    :ivar closing: Closes the client's idle connections, if set (see
        :meth:`close`).
    """

    def __init__(
        self,
        client: S3Client,
        place: BucketPlace,
        root: FilePath[str],
        max_size: int | None,
        clock: IReactorTime,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
        cooperator: Callable[[Iterator[None]], CooperativeTask] = cooperate,
    ) -> None:
        """
        :param client: Talks to the store.
        :param place: The bucket and prefix.
        :param root: The node's cache directory.
        :param max_size: The local read cache's budget in bytes, or ``None``.
        :param clock: Gives the time of use of local copies.
        :param threshold: Files larger than this are uploaded in parts.
        :param part_size: Bytes per part.
        :param cooperator: Schedules the reads of uploaded spools.
        """
        super().__init__(root, max_size, clock)
        self.client = client
        self.place = place
        self.listing: Deferred[None] | None = None
        self.closing: Callable[[], Deferred[Any]] | None = None
        self._objects = ObjectIndex(client, place)
        self._filling: dict[Key, Deferred[None]] = {}
        self._threshold = threshold
        self._part_size = part_size
        self._cooperator = cooperator

    def __repr__(self) -> str:
        """The bucket and the local directory."""
        return f"<S3FileStore {self.place} local={self.root.path}>"

    def scan(self, stale_after: float = STALE_TEMP_AGE) -> None:
        """
        Rebuild the index of local copies (see :meth:`FileCache.scan`), and
        start listing the bucket into the index of what it holds (see
        :attr:`listing`).
        """
        super().scan(stale_after)
        self.listing = self._objects.list_bucket()

    def stat(self, key: Sequence[str]) -> FileStat | None:
        """
        The file at ``key`` as the index lists it (no I/O; see
        :meth:`find`).

        :raise ValueError: If a segment is unsafe.
        """
        return self._objects.get(_checked(key))

    def is_cached(self, key: Sequence[str]) -> bool:
        """Whether the index lists the file (no I/O)."""
        return tuple(key) in self._objects

    def find(self, key: Sequence[str]) -> Deferred[FileStat | None]:
        """
        The file at ``key``: from the index, else from a ``HEAD`` of its
        object (then indexed).  If the store cannot be reached, a local
        copy is the answer.

        :return: See :meth:`IFileStore.find`.
        :raise ValueError: If a segment is unsafe.
        """
        checked = _checked(key)
        known = self._objects.get(checked)
        if known is not None:
            return succeed(known)
        return Deferred.fromCoroutine(self._head(checked))

    async def _head(self, key: Key) -> FileStat | None:
        """Ask the store about one file, else the local copy (see :meth:`find`)."""
        try:
            return await self._objects.head(key)
        except S3Error as e:
            local = super().stat(key)
            if local is not None:
                return local
            raise StoreUnreachable(f"the store {self.place} failed: {e}") from None

    def lookup(self, segments: Sequence[str]) -> FilePath[str] | None:
        """
        The local copy of a file, if there is one (for the tools that read
        cached files by path).
        """
        return None if super().stat(segments) is None else self.path_for(segments)

    def open(self, key: Sequence[str]) -> IFileReader | None:
        """
        Open a file the index lists: its local copy if it has the object's
        size, else the object itself; a file the index does not list only
        by its local copy (the store could not be asked).  Does not count
        as a use.

        :raise ValueError: If a segment is unsafe.
        """
        checked = _checked(key)
        known = self._objects.get(checked)
        local = super().open(checked)
        if known is None:
            return local
        if local is not None:
            if local.stat.size == known.size:
                local.stat = known
                return local
            local.close()
        return ObjectReader(
            self.client,
            self.place.bucket,
            self.place.file_key(checked),
            known,
            lambda: self._objects.forget(checked, known),
        )

    def touch(self, key: Sequence[str]) -> None:
        """
        Mark a file as just used; a file with no local copy starts being
        fetched into the read cache (see the module's description).
        """
        super().touch(key)
        checked = _checked(key)
        known = self._objects.get(checked)
        if (
            known is None
            or checked in self._filling
            or FileCache.is_cached(self, checked)
            or (self.max_size is not None and known.size > self.max_size)
        ):
            return
        filling = Deferred.fromCoroutine(self._fill(checked, known))
        self._filling[checked] = filling
        filling.addBoth(self._filled, checked)

    def _filled(self, ignored: object, key: Key) -> None:
        """A fetch into the read cache ended."""
        del self._filling[key]

    def filled(self, key: Sequence[str]) -> Deferred[None]:
        """
        A Deferred firing once the fetch of ``key`` into the read cache in
        flight, if any, ended (well or not).
        """
        filling = self._filling.get(tuple(key))
        if filling is None:
            return succeed(None)
        done: Deferred[None] = Deferred()

        def fire(result: object) -> object:
            done.callback(None)
            return result

        filling.addBoth(fire)
        return done

    async def _fill(self, key: Key, known: FileStat) -> None:
        """Fetch an object whole and keep it as the local copy."""
        name = self.place.file_key(key)
        reservation = self.reserve(known.size)
        spool: LocalSpool | None = None
        try:
            spool = self.open_spool()
            await fill_spool(
                self.client, self.place.bucket, name, known, spool, self._part_size
            )
            if self._objects.get(key) == known:
                await FileCache.commit(self, spool, key)
        except (S3Error, FillFailed, OSError) as e:
            _log.info("No local copy of {key} kept: {error}", key=name, error=str(e))
        finally:
            reservation.release()
            if spool is not None:
                spool.discard()

    def commit(self, spool: ISpool, key: Sequence[str]) -> Deferred[FileStat]:
        """
        Publish a verified spool as the file's object, create-only (an
        object another node published first is as good), then keep the
        spool as the local copy.

        :return: A Deferred firing with the object's stat, or failing with
            :class:`StoreUnreachable` (nothing was published; the spool is
            intact).
        :raise ValueError: If a segment is unsafe.
        :raise TypeError: If the spool is not one of this store's.
        """
        checked = _checked(key)
        if not isinstance(spool, LocalSpool):
            raise TypeError(f"not a local spool: {spool!r}")
        return Deferred.fromCoroutine(self._publish(spool, checked))

    async def _publish(self, spool: LocalSpool, key: Key) -> FileStat:
        """Upload, index, keep a local copy (see :meth:`commit`)."""
        bucket, name = self.place.bucket, self.place.file_key(key)
        try:
            info = await self._published(bucket, name)
            if info is None:
                await self._upload(spool, bucket, name)
                info = await self.client.head(bucket, name)
        except S3Error as e:
            raise StoreUnreachable(f"cannot publish to {self.place}: {e}") from None
        stat = self._objects.add(key, info)
        try:
            await super().commit(spool, key)
        except OSError as e:
            _log.info("No local copy of {key} kept: {error}", key=name, error=str(e))
            spool.discard()
        return stat

    async def _published(self, bucket: str, name: str) -> ObjectInfo | None:
        """
        The object if another node published it already (a node that
        streamed the file from another waits for that node's publish before
        committing: :meth:`twisted_pypi.files.cluster.FileSource.settle`),
        so that it is not uploaded a second time; ``None`` if it is missing.
        """
        try:
            info = await self.client.head(bucket, name)
        except NotFound:
            return None
        _log.info(
            "{key} was in the store already (published by another node)", key=name
        )
        return info

    async def _upload(self, spool: LocalSpool, bucket: str, name: str) -> None:
        """Upload the spool, create-only (see :meth:`commit`)."""
        try:
            await put_file(
                self.client,
                bucket,
                name,
                spool.path,
                spool.written,
                create_only=True,
                threshold=self._threshold,
                part_size=self._part_size,
                cooperator=self._cooperator,
            )
        except AlreadyExists:
            _log.info("{key} was published by another node during the upload", key=name)

    def remove(self, key: Sequence[str]) -> bool:
        """
        Forget a file, delete its local copy, and delete its object (in the
        background: a failure is logged; other nodes forget it when they
        next find it missing).

        :return: Whether the index or the local cache had it.
        """
        checked = _checked(key)
        listed = self._objects.remove(checked)
        filling = self._filling.get(checked)
        if filling is not None:
            filling.cancel()
        local = super().remove(checked)
        name = self.place.file_key(checked)
        deleting = self.client.delete(self.place.bucket, name)
        deleting.addErrback(
            lambda f: _log.warn(
                "Cannot delete {key} from the store: {error}",
                key=name,
                error=f.getErrorMessage(),
            )
        )
        return listed or local

    def close(self) -> Deferred[Any]:
        """
        Stop the listing, and close the client's idle connections.
        """
        if self.listing is not None and not self.listing.called:
            self.listing.cancel()
        for filling in list(self._filling.values()):
            filling.cancel()
        return self.closing() if self.closing is not None else succeed(None)

    @property
    def store_files(self) -> int:
        """How many files the index lists."""
        return len(self._objects)


def _checked(key: Sequence[str]) -> Key:
    """
    ``key`` as a tuple of safe segments.

    :raise ValueError: If it is empty or a segment is unsafe.
    """
    checked = tuple(key)
    if not checked or not all(is_safe_segment(s) for s in checked):
        raise ValueError(f"unsafe cache key: {checked!r}")
    return checked
