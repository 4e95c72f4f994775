# -*- test-case-name: tests.storage.test_filecache -*-
"""
The storage seam: what the rest of the proxy may ask of the place that keeps
cached files and page records.

Everything that reads or writes cached files goes through an
:class:`IFileStore`; everything that loads or saves page records (upstream
pages, JSON API documents) goes through an
:class:`~twisted_pypi.storage.recordstore.IRecordStore`.  A local
directory is today's one implementation of each
(:class:`~twisted_pypi.storage.filecache.FileCache`,
:class:`~twisted_pypi.storage.records.LocalRecords`).

The file store is shaped for an object store too: a file is only ever
published whole, by committing a finished, verified local *spool* file (for
an object store, an upload); a published file is read by byte ranges, each
streamed into a consumer with backpressure (for an object store, a ranged
``GET``).  The index of what the store holds (sizes, least-recently-used
order, pins, reservations, the size budget) is kept in memory, so
:meth:`IFileStore.stat` needs no round trip; a shared store's index may
miss what another node published since, so the callers that decide between
"cached" and "download" ask :meth:`IFileStore.find`, which may ask the store.
"""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConsumer
from zope.interface import Attribute, Interface

__all__ = [
    "FileGone",
    "FileStat",
    "IFileReader",
    "IFileStore",
    "ILocalFile",
    "IReservation",
    "ISpool",
    "ISpoolReader",
    "Key",
    "ReadStopped",
    "ShortRead",
    "StoreFull",
    "StoreUnreachable",
]

#: A file's place in the store: ``(index, scheme, host, *upstream_path)``,
#: every segment safe (see :func:`twisted_pypi.core.names.is_safe_segment`).
Key = tuple[str, ...]


class ShortRead(Exception):
    """
    A stored file ended before the range being read did: it was changed or
    truncated behind the store's back.
    """


class FileGone(ShortRead):
    """
    A stored file was deleted (by another node of a shared store) since it
    was looked up: the store forgot it, and nothing of it was read, so the
    caller may treat it as not cached.
    """


class StoreFull(OSError):
    """
    The store has no room for what was being written: the disk, or the
    quota, is full.  Nothing of the write that failed was kept.
    """


class StoreUnreachable(OSError):
    """
    A shared store could not be reached, failed, or refused us: what was
    asked (a look-up, a read, a publish) may succeed later.  A publish that
    fails with it published nothing, and its spool is intact.
    """


class ReadStopped(Exception):
    """
    A range was not read to its end because its consumer stopped it (the
    client went away).
    """


@frozen
class FileStat:
    """
    What a store knows about one complete file.

    :ivar size: Its size in bytes.
    :ivar modified: When it was committed, in seconds since the epoch: its
        ``Last-Modified`` date.
    :ivar etag: An opaque strong validator (unquoted) that changes whenever
        the file is committed again.
    """

    size: int
    modified: float
    etag: str


class IReservation(Interface):
    """
    Bytes counted against a store's budget for a download in flight.
    """

    nbytes = Attribute("The number of bytes reserved.")

    def release() -> None:
        """
        Give the bytes back; calling this more than once is harmless.
        """


class ISpoolReader(Interface):
    """
    A reader of a spool file, which may still be growing.
    """

    def read(offset: int, length: int) -> bytes:
        """
        Read at most ``length`` bytes from ``offset``, at once (a spool is a
        local file; callers read it in chunks, as producers do).

        :return: The bytes; fewer than asked only at the current end.
        :raise OSError: If the file cannot be read.
        """

    def close() -> None:
        """
        Release the reader; calling this more than once is harmless.
        """


class ISpool(Interface):
    """
    A local file a download writes before the store publishes it.

    Readers opened on a spool stay readable until closed, whatever happens
    to the spool meanwhile (commit or discard).
    """

    written = Attribute("The number of bytes written so far.")

    def write(data: bytes) -> None:
        """
        Append ``data``, all or nothing; every reader sees it as soon as
        this returns.

        :raise StoreFull: If the store has no room (nothing was appended:
            the write may be tried again once there is room).
        :raise OSError: If it cannot be written for another reason.
        """

    def open_reader() -> ISpoolReader:
        """
        A new reader of the bytes written so far (before the commit) or of
        the published file (after it).

        :raise OSError: If the file cannot be opened.
        """

    def discard() -> None:
        """
        Throw the spool away; calling this more than once, or after a
        commit, is harmless.
        """


class IFileReader(Interface):
    """
    One version of a complete stored file, open for reading by ranges.
    """

    stat = Attribute("The :class:`FileStat` of the version being read.")

    def stream(consumer: IConsumer, offset: int, length: int) -> Deferred[None]:
        """
        Write ``length`` bytes from ``offset`` to ``consumer``: register with
        it as a streaming producer (honouring pause and resume), write, and
        unregister before the result fires.

        :param consumer: Where the bytes go.
        :param offset: The first byte.
        :param length: How many bytes; the range lies within the file.
        :return: A Deferred firing with ``None`` once every byte was written;
            failing with :class:`ShortRead` if the file ended early, or with
            :class:`ReadStopped` if the consumer stopped the producer.
            Cancelling it stops reading.
        """

    def close() -> None:
        """
        Release the reader; calling this more than once is harmless.
        """


class ILocalFile(Interface):
    """
    An :class:`IFileReader` over a file on this machine's file system, whose
    descriptor the kernel may copy from directly (``sendfile(2)``).  Readers
    of files that live elsewhere (an object store) do not provide it.
    """

    def fileno() -> int:
        """
        The file's open descriptor, owned by the reader: valid until the
        reader is closed, never to be closed by the caller.

        :raise ValueError: If the reader is closed.
        """

    def in_memory(offset: int, length: int) -> bool:
        """
        Whether the bytes from ``offset`` for ``length`` are in the page
        cache, so that reading or sending them would not wait for the disk
        (as far as the system can say without reading them: ``False`` where
        it cannot say).

        :raise ValueError: If the reader is closed.
        """


class IFileStore(Interface):
    """
    Complete files by :data:`Key`, with least-recently-used eviction under
    an optional size budget.

    Files that are pinned (being served or downloaded) are never evicted;
    bytes reserved by downloads in flight count toward the budget.  A file
    larger than the whole budget is still committed; then every other
    unpinned file is evicted.  Every method taking a key raises
    :class:`ValueError` for an unsafe one.
    """

    max_size = Attribute("The budget in bytes, or ``None`` for no limit.")
    total_size = Attribute("The bytes of all complete files.")
    reserved = Attribute("The bytes reserved by downloads in flight.")
    evictions = Attribute("How many files were evicted since startup.")
    space = Attribute(
        "A :class:`~twisted_pypi.storage.space.StoreSpace`: whether the store"
        " is full, and when it last was."
    )

    def scan() -> None:
        """
        Rebuild the index from what the store holds, and evict if it
        exceeds the budget.
        """

    def stat(key: Key) -> FileStat | None:
        """
        The complete file at ``key``, if the store has it.  Does not count
        as a use (see :meth:`touch`).
        """

    def find(key: Key) -> Deferred[FileStat | None]:
        """
        The complete file at ``key``, asking the store itself if the index
        does not list it (a shared store: another node may have published
        it).  Afterwards :meth:`open` knows it.  Does not count as a use.

        :return: A Deferred firing with its stat, or ``None`` if the store
            does not have it; failing with :class:`StoreUnreachable` if the
            store could not say.
        """

    def is_cached(key: Key) -> bool:
        """
        Whether the index lists a complete file at ``key`` (no I/O).
        """

    def open(key: Key) -> IFileReader | None:
        """
        Open the complete file at ``key`` for reading by ranges, or ``None``
        if the store does not have it.  Does not count as a use.
        """

    def touch(key: Key) -> None:
        """
        Mark a file as just used (the end of the least-recently-used order).
        """

    def open_spool() -> ISpool:
        """
        A new, empty spool file for a download.

        :raise StoreFull: If the store has no room for it.
        :raise OSError: If it cannot be created for another reason.
        """

    def commit(spool: ISpool, key: Key) -> Deferred[FileStat]:
        """
        Publish a finished, verified spool as the file at ``key``, atomically
        (readers see the old file or the new one, never part of one), then
        evict least-recently-used unpinned files while over budget (never
        the file just committed).

        :return: A Deferred firing with the new file's stat, or failing with
            :class:`StoreFull` if there was no room, or another
            :class:`OSError` (nothing was published either way; the spool is
            still readable until discarded).
        """

    def make_room(nbytes: int) -> bool:
        """
        A write found the store full: evict least-recently-used unpinned
        files, whatever the budget, until ``nbytes`` more can be stored.
        Nothing is evicted if evicting every unpinned file would not be
        enough.

        :param nbytes: The room wanted, in bytes.
        :return: Whether any file was evicted (then the write may be tried
            again).
        """

    def remove(key: Key) -> bool:
        """
        Delete a file (readers already open finish reading).

        :return: Whether there was one.
        """

    def entries() -> Iterable[tuple[Key, int]]:
        """
        The indexed files as ``(key, size)``, least recently used first.
        """

    def pin(key: Key) -> None:
        """
        Protect a file from eviction until a matching :meth:`unpin`.  Pins
        are counted; the file need not exist yet.
        """

    def unpin(key: Key) -> None:
        """
        Undo one :meth:`pin`.

        :raise ValueError: If the file is not pinned.
        """

    def is_pinned(key: Key) -> bool:
        """
        Whether a file is pinned.
        """

    def reserve(nbytes: int) -> IReservation:
        """
        Count ``nbytes`` against the budget for a download in flight,
        evicting unpinned files to make room; release the reservation when
        the download ends (the committed file then counts by its size).
        """
