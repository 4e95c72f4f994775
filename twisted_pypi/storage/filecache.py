# -*- test-case-name: tests.storage.test_filecache -*-
"""
The file cache in a local directory: today's one
:class:`~twisted_pypi.storage.interfaces.IFileStore`.

Layout under the cache root: see :mod:`~twisted_pypi.storage.layout`;
partial downloads are the :class:`~twisted_pypi.storage.spool.SpoolDirectory`'s.
A write that finds the disk full tells the cache's
:class:`~twisted_pypi.storage.space.StoreSpace`; a download then asks the
cache to :meth:`~FileCache.make_room`, whatever the budget.

The in-memory :class:`~twisted_pypi.storage.lru.LruIndex` lists the complete
files.  A file's modification time is set once, when it is committed, and is
its validator for HTTP (``Last-Modified``, ``ETag``); the time of last use is
recorded in the file's *access* time, and the least recently used files are
evicted, by :class:`~twisted_pypi.storage.lrufiles.LruFiles`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from functools import partial

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.filepath import FilePath
from zope.interface import implementer

from twisted_pypi.core.names import is_safe_segment
from twisted_pypi.core.runner import Runner
from twisted_pypi.storage.interfaces import (
    FileStat,
    IFileReader,
    IFileStore,
    ISpool,
    Key,
)
from twisted_pypi.storage.layout import (
    FILES_DIR,
    STALE_TEMP_AGE,
    TMP_DIR,
    free_bytes,
    move_into_place,
)
from twisted_pypi.storage.lru import LruIndex, Reservation
from twisted_pypi.storage.lrufiles import LruFiles
from twisted_pypi.storage.rangereader import (
    DEFAULT_CHUNK_SIZE,
    file_stat,
    open_path,
)
from twisted_pypi.storage.space import StoreSpace, as_store_full, is_full_error
from twisted_pypi.storage.spool import LocalSpool, SpoolDirectory, Write

__all__ = ["STALE_TEMP_AGE", "FileCache"]

_log = Logger()


@implementer(IFileStore)
class FileCache:
    """
    Complete files in a local directory, with LRU eviction under an
    optional size budget (see :class:`IFileStore`).

    :ivar root: The cache root directory.
    :ivar clock: Gives the time recorded as a file's last use.
    :ivar read_chunk_size: Bytes read per write when a file is streamed.
    :ivar space: Whether the disk is full.
    :ivar spools: The directory of partial downloads (``tmp/``).
    """

    def __init__(
        self,
        root: FilePath[str],
        max_size: int | None,
        clock: IReactorTime,
        read_chunk_size: int = DEFAULT_CHUNK_SIZE,
        *,
        spool_write: Write = os.write,
        free_space: Callable[[str], int | None] = free_bytes,
        run: Runner | None = None,
    ) -> None:
        """
        :param root: The cache root directory.
        :param max_size: The budget in bytes, or ``None`` for no limit.
        :param clock: Gives the time recorded as a file's last use.
        :param read_chunk_size: Bytes read per write when a file is streamed.
        :param spool_write: Writes to a spool's descriptor (:func:`os.write`).
        :param free_space: The bytes still free on the file system holding
            a path, if it says (:func:`~twisted_pypi.storage.layout.free_bytes`).
        :param run: Reads a chunk of a streamed file that is not in the page
            cache away from the reactor (see
            :func:`~twisted_pypi.storage.rangereader.open_path`); ``None`` to
            read on the calling thread (the commands, which have no reactor
            to keep responsive).
        """
        self.root = root
        self.clock = clock
        self.read_chunk_size = read_chunk_size
        self._run = run
        self._files = self.files_dir.path
        self.space = StoreSpace(clock)
        self.spools = SpoolDirectory(
            root.child(TMP_DIR), self.space, clock, spool_write
        )
        self._index = LruIndex(max_size)
        self._lru = LruFiles(
            self._index,
            self.files_dir,
            self.path_for,
            clock,
            partial(free_space, root.path),
        )

    @property
    def max_size(self) -> int | None:
        """The budget in bytes, or ``None`` for no limit."""
        return self._index.max_size

    @max_size.setter
    def max_size(self, value: int | None) -> None:
        self._index.max_size = value

    @property
    def evictions(self) -> int:
        """How many files were evicted since startup."""
        return self._lru.evictions

    @property
    def total_size(self) -> int:
        """The bytes of all complete files in the index."""
        return self._index.total_size

    @property
    def reserved(self) -> int:
        """The bytes reserved by downloads in flight."""
        return self._index.reserved

    @property
    def files_dir(self) -> FilePath[str]:
        """The directory of complete files."""
        return self.root.child(FILES_DIR)

    @property
    def tmp_dir(self) -> FilePath[str]:
        """The directory of partial downloads."""
        return self.root.child(TMP_DIR)

    def area(self, name: str) -> FilePath[str]:
        """
        A directory under the cache root for other data (such as index pages),
        created if needed.  The file cache neither scans nor evicts there.

        :param name: The directory's name, a safe segment other than
            ``files`` and ``tmp``.
        :return: The directory.
        :raise ValueError: If ``name`` is unsafe or reserved.
        """
        if not is_safe_segment(name) or name in (FILES_DIR, TMP_DIR):
            raise ValueError(f"not a usable area name: {name!r}")
        directory = self.root.child(name)
        directory.makedirs(ignoreExistingDirectory=True)
        return directory

    def scan(self, stale_after: float = STALE_TEMP_AGE) -> None:
        """
        Rebuild the index from disk: delete the partial downloads no live
        process owns, then register every complete file with its size,
        ordered by last use (the later of its access and modification
        times).  Missing directories
        are created.  Evicts if the files exceed the budget.

        :param stale_after: Only partial downloads not written for this many
            seconds (by the wall clock: file times are) are deleted.
        """
        self.files_dir.makedirs(ignoreExistingDirectory=True)
        self.tmp_dir.makedirs(ignoreExistingDirectory=True)
        self.spools.sweep(stale_after)
        self._lru.load()
        _log.info(
            "File cache holds {count} files, {size} bytes",
            count=len(self._index),
            size=self.total_size,
        )
        self._lru.within_budget()

    def path_for(self, segments: Sequence[str]) -> FilePath[str]:
        """
        The local path of a complete file (for the local tools that copy or
        link cached files; serving goes through :meth:`open`).

        :param segments: The file's key.
        :return: ``root/files/<segments...>``.
        :raise ValueError: If there are no segments or one is unsafe.
        """
        return FilePath(self._file_path(segments))

    def _file_path(self, segments: Sequence[str]) -> str:
        """
        :meth:`path_for` as a string, joined without ``FilePath``'s
        normalization (every request for a cached file asks it: the safe
        segments cannot climb out of ``files/``).

        :raise ValueError: If there are no segments or one is unsafe.
        """
        if not segments or not all(is_safe_segment(s) for s in segments):
            raise ValueError(f"unsafe cache path: {segments!r}")
        return os.path.join(self._files, *segments)

    def stat(self, key: Sequence[str]) -> FileStat | None:
        """
        The complete file at ``key``, if the cache has it.  Does not count
        as a use (see :meth:`touch`).  A file found on disk that the index
        did not know is registered; an indexed file that vanished is
        forgotten.

        :raise ValueError: If a segment is unsafe.
        """
        key = tuple(key)
        try:
            st = os.stat(self._file_path(key))
        except OSError:
            self._observed(key, None)
            return None
        if not stat.S_ISREG(st.st_mode):
            self._observed(key, None)
            return None
        self._observed(key, st.st_size)
        return file_stat(st)

    def find(self, key: Sequence[str]) -> Deferred[FileStat | None]:
        """
        :meth:`stat`, as :meth:`IFileStore.find` answers: the disk is the
        whole store, so it has the answer at once.
        """
        return succeed(self.stat(key))

    def lookup(self, segments: Sequence[str]) -> FilePath[str] | None:
        """
        The local path of the complete file at ``segments``, if the cache has
        it; like :meth:`stat` otherwise.

        :raise ValueError: If a segment is unsafe.
        """
        return None if self.stat(segments) is None else self.path_for(segments)

    def open(self, key: Sequence[str]) -> IFileReader | None:
        """
        Open the complete file at ``key`` for reading by ranges, or ``None``
        if the cache does not have it.  Does not count as a use.

        :raise ValueError: If a segment is unsafe.
        """
        key = tuple(key)
        try:
            reader = open_path(self._file_path(key), self.read_chunk_size, self._run)
        except OSError:
            self._observed(key, None)
            return None
        self._observed(key, reader.stat.size)
        return reader

    def _observed(self, key: Key, size: int | None) -> None:
        """
        Bring the index in line with what the disk says of one file.

        :param key: The file.
        :param size: Its size, or ``None`` if it is not there.
        """
        if size is None:
            self._index.forget(key)
            return
        use = self._index.get(key)
        if use is None:
            self._index.add(key, size, self.clock.seconds())
        elif use.size != size:
            self._index.resize(key, size)

    def is_cached(self, key: Sequence[str]) -> bool:
        """
        Whether the index lists a complete file at ``key`` (no disk access).
        """
        return tuple(key) in self._index

    def touch(self, key: Sequence[str]) -> None:
        """
        Mark a complete file as just used: it moves to the end of the LRU
        order, and its access time on disk is set (at most once per
        :data:`~twisted_pypi.storage.lrufiles.TOUCH_INTERVAL`) so the order
        survives a restart.  Its modification time is left alone.
        """
        self._lru.touch(tuple(key))

    def open_spool(self) -> LocalSpool:
        """
        A new, empty, uniquely named, locked spool file in ``tmp/``.

        :raise StoreFull: If the disk has no room for it.
        :raise OSError: If it cannot be created for another reason.
        """
        return self.spools.open()

    def commit(self, spool: ISpool, key: Sequence[str]) -> Deferred[FileStat]:
        """
        Move a finished spool file into place (atomically, by renaming it)
        and account for it, then evict least-recently-used unpinned files
        while over budget.  The file just committed is not evicted by its
        own commit.

        :param spool: A spool :meth:`open_spool` made, complete and verified.
        :param key: The file's key.
        :return: A Deferred that has the file's stat, or an :class:`OSError`
            if it could not be moved into place (a :class:`StoreFull` if
            there was no room for its directories).
        :raise ValueError: If a segment is unsafe.
        :raise TypeError: If the spool is not one of this cache's.
        """
        key = tuple(key)
        path = self.path_for(key)
        if not isinstance(spool, LocalSpool):
            raise TypeError(f"not a local spool: {spool!r}")
        try:
            # Still open, so still locked: no sweep can take it meanwhile.
            move_into_place(spool.path, path)
            st = os.stat(path.path)
        except OSError as e:
            if not is_full_error(e):
                return fail()
            self.space.found_full(path.path, e)
            return fail(as_store_full(e))
        spool.published(path.path)
        self._index.add(key, st.st_size, self.clock.seconds())
        self._lru.within_budget(keep=key)
        return succeed(file_stat(st))

    def pin(self, key: Sequence[str]) -> None:
        """Protect a file from eviction until a matching :meth:`unpin`."""
        self._index.pin(tuple(key))

    def unpin(self, key: Sequence[str]) -> None:
        """
        Undo one :meth:`pin`.

        :raise ValueError: If the file is not pinned.
        """
        self._index.unpin(tuple(key))

    def is_pinned(self, key: Sequence[str]) -> bool:
        """Whether a file is pinned."""
        return self._index.is_pinned(tuple(key))

    def reserve(self, nbytes: int) -> Reservation:
        """
        Count ``nbytes`` against the budget for a download in flight,
        evicting unpinned files to make room.

        :param nbytes: The download's expected size.
        :return: A reservation to release when the download ends (before
            committing the file, which then counts by its real size).
        """
        reservation = self._index.reserve(nbytes)
        self._lru.within_budget()
        return reservation

    def make_room(self, nbytes: int) -> bool:
        """
        Evict least-recently-used unpinned files, whatever the budget, until
        they add up to ``nbytes`` (the room a write found missing); none if
        the file system says even evicting them all would not be enough.

        :param nbytes: The room wanted.
        :return: Whether any file was evicted.
        """
        return self._lru.make_room(nbytes)

    def entries(self) -> Iterable[tuple[Key, int]]:
        """
        The indexed files, least recently used first.

        :return: ``(segments, size)`` pairs.
        """
        return self._index.entries()

    def remove(self, key: Sequence[str]) -> bool:
        """
        Delete a cached file (clients already reading it finish reading).

        :return: Whether there was such a file.
        """
        key = tuple(key)
        if key not in self._index and self.stat(key) is None:
            return False
        self._lru.delete(key)
        return True
