# -*- test-case-name: tests.storage.test_filecache -*-
"""
The on-disk cache of distribution files.

Layout under the cache root:

``files/<segments...>``
    Complete, verified files, one per upstream file; the segments are the
    ones :func:`twisted_pypi.core.links.local_segments` gives.
``tmp/``
    Partial downloads under unique names.  At startup only those untouched
    for :data:`STALE_TEMP_AGE` are deleted: another process (``pypiproxy
    warm``, another proxy) may be writing the others into the same cache.
``<other areas>/``
    Directories other parts of the proxy own (for example ``pages/``), see
    :meth:`FileCache.area`.  The file cache never scans or evicts there.

The cache keeps an in-memory index of the complete files (size, last use)
in least-recently-used order.  A file's modification time is set once, when
it is committed, and is its validator for HTTP (``Last-Modified``, ``ETag``);
the time of last use is recorded in the file's *access* time, so the LRU order
survives restarts without ever changing what clients see as the file's
version.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from attrs import define, field
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.filepath import FilePath

from twisted_pypi.core.names import is_safe_segment

#: The directory of complete files, under the cache root.
FILES_DIR = "files"

#: The directory of partial downloads, under the cache root.
TMP_DIR = "tmp"

#: How long, in seconds, a partial download must have gone unwritten before
#: :meth:`FileCache.scan` deletes it.  A download in progress writes at least
#: once per idle timeout (30 s by default) or fails, so an older one is a
#: leftover of a process that died; a younger one may belong to a process
#: still running on the same cache directory.
STALE_TEMP_AGE = 600.0

#: The least time, in seconds, between two updates of one file's access time
#: on disk; the in-memory order is updated on every use.
TOUCH_INTERVAL = 60.0

_log = Logger()

Key = tuple[str, ...]


def write_atomically(target: FilePath[str], data: bytes) -> None:
    """
    Replace ``target`` with a file holding ``data``, so that readers see
    either the old content or the new, never a mixture.

    :param target: The file to write; its parent directory is created if
        needed.
    :param data: The new content.
    """
    parent = target.parent()
    parent.makedirs(ignoreExistingDirectory=True)
    fd, name = tempfile.mkstemp(dir=parent.path, prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(name, target.path)
    except BaseException:
        try:
            os.remove(name)
        except OSError:
            pass
        raise


@define
class _Entry:
    """
    What the index knows about one complete file.

    :ivar size: The file's size in bytes.
    :ivar synced: When the file's access time on disk was last set, in
        seconds since the epoch (by the cache's clock).
    """

    size: int
    synced: float


@define
class Reservation:
    """
    Bytes set aside for a download in flight, counted against the budget
    until :meth:`release` is called.

    :ivar nbytes: The number of bytes reserved.
    """

    _cache: FileCache
    nbytes: int
    _released: bool = False

    def release(self) -> None:
        """Give the bytes back.  Calling this more than once is harmless."""
        if not self._released:
            self._released = True
            self._cache._release(self.nbytes)


@define
class FileCache:
    """
    Complete files on disk, with LRU eviction under an optional size budget.

    Files that are pinned (being served or downloaded) are never evicted;
    bytes reserved by downloads in flight count toward the budget.  A file
    larger than the whole budget is still committed; then every other
    unpinned file is evicted.

    :ivar root: The cache root directory.
    :ivar max_size: The budget in bytes, or ``None`` for no limit.
    :ivar clock: Gives the time recorded as a file's last use.
    :ivar total_size: The bytes of all complete files in the index.
    :ivar reserved: The bytes reserved by downloads in flight.
    :ivar evictions: How many files were evicted since startup.
    """

    root: FilePath[str]
    max_size: int | None
    clock: IReactorTime
    total_size: int = field(default=0, init=False)
    reserved: int = field(default=0, init=False)
    evictions: int = field(default=0, init=False)
    _entries: OrderedDict[Key, _Entry] = field(factory=OrderedDict, init=False)
    _pins: dict[Key, int] = field(factory=dict, init=False)

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
        Rebuild the index from disk: delete leftover partial downloads, then
        register every complete file with its size, ordered by last use (the
        later of its access and modification times).  Missing directories
        are created.  Evicts if the files exceed the budget.

        :param stale_after: Only partial downloads not written for this many
            seconds (by the wall clock: file times are) are deleted; younger
            ones may belong to another process using the same cache.
        """
        self.files_dir.makedirs(ignoreExistingDirectory=True)
        self.tmp_dir.makedirs(ignoreExistingDirectory=True)
        self._delete_stale_temps(stale_after)
        found: list[tuple[int, Key, int]] = []
        top = self.files_dir.path
        for dirpath, dirnames, filenames in os.walk(top):
            relative = os.path.relpath(dirpath, top)
            parents = () if relative == os.curdir else tuple(relative.split(os.sep))
            dirnames[:] = [d for d in dirnames if is_safe_segment(d)]
            for name in filenames:
                if not is_safe_segment(name):
                    continue
                st = os.lstat(os.path.join(dirpath, name))
                if stat.S_ISREG(st.st_mode):
                    used = max(st.st_atime_ns, st.st_mtime_ns)
                    found.append((used, (*parents, name), st.st_size))
        found.sort()
        self._entries.clear()
        self.total_size = 0
        for used, key, size in found:
            self._entries[key] = _Entry(size, used / 1e9)
            self.total_size += size
        _log.info(
            "File cache holds {count} files, {size} bytes",
            count=len(self._entries),
            size=self.total_size,
        )
        self._evict()

    def _delete_stale_temps(self, stale_after: float) -> None:
        """
        Delete the partial downloads in ``tmp/`` last written more than
        ``stale_after`` seconds ago.
        """
        now = time.time()
        for leftover in self.tmp_dir.children():
            try:
                if now - os.lstat(leftover.path).st_mtime < stale_after:
                    continue
                leftover.remove()
            except FileNotFoundError:
                continue  # its process committed or discarded it meanwhile
            except OSError as e:
                _log.warn("Cannot delete {path}: {error}", path=leftover.path, error=e)

    def path_for(self, segments: Sequence[str]) -> FilePath[str]:
        """
        The path of a complete file.

        :param segments: The file's segments, for example
            ``(index_name, scheme, host, *upstream_path)``.
        :return: ``root/files/<segments...>``.
        :raise ValueError: If there are no segments or one is unsafe.
        """
        if not segments or not all(is_safe_segment(s) for s in segments):
            raise ValueError(f"unsafe cache path: {segments!r}")
        path = self.files_dir
        for segment in segments:
            path = path.child(segment)
        return path

    def lookup(self, segments: Sequence[str]) -> FilePath[str] | None:
        """
        The complete file for ``segments``, if the cache has it.  Does not
        count as a use (see :meth:`touch`).  A file found on disk that the
        index did not know is registered; an indexed file that vanished is
        forgotten.

        :param segments: The file's segments.
        :return: Its path, or ``None``.
        :raise ValueError: If a segment is unsafe.
        """
        key = tuple(segments)
        path = self.path_for(key)
        try:
            st = os.stat(path.path)
        except OSError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            self._forget(key)
            return None
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Entry(st.st_size, self.clock.seconds())
            self.total_size += st.st_size
        elif entry.size != st.st_size:
            self.total_size += st.st_size - entry.size
            entry.size = st.st_size
        return path

    def is_cached(self, segments: Sequence[str]) -> bool:
        """
        Whether the index lists a complete file for ``segments`` (no disk
        access).

        :param segments: The file's segments.
        """
        return tuple(segments) in self._entries

    def touch(self, segments: Sequence[str]) -> None:
        """
        Mark a complete file as just used: it moves to the end of the LRU
        order, and its access time on disk is set (at most once per
        :data:`TOUCH_INTERVAL`) so the order survives a restart.  Its
        modification time is left alone.

        :param segments: The file's segments.
        """
        key = tuple(segments)
        entry = self._entries.get(key)
        if entry is None:
            return
        self._entries.move_to_end(key)
        now = self.clock.seconds()
        if now - entry.synced < TOUCH_INTERVAL:
            return
        entry.synced = now
        path = self.path_for(key).path
        try:
            mtime_ns = os.stat(path).st_mtime_ns
            os.utime(path, ns=(int(now * 1e9), mtime_ns))
        except OSError as e:
            _log.warn("Cannot record use of {path}: {error}", path=path, error=e)

    def open_temp(self) -> tuple[FilePath[str], int]:
        """
        Create a new, empty, uniquely named file for a partial download.

        :return: Its path and a file descriptor open for writing, which the
            caller must close.
        """
        self.tmp_dir.makedirs(ignoreExistingDirectory=True)
        fd, name = tempfile.mkstemp(dir=self.tmp_dir.path, prefix="dl-", suffix=".part")
        return FilePath(name), fd

    def discard(self, temp: FilePath[str]) -> None:
        """
        Delete a partial download; a missing file is not an error.

        :param temp: A path :meth:`open_temp` returned.
        """
        try:
            os.remove(temp.path)
        except FileNotFoundError:
            pass

    def commit(self, temp: FilePath[str], segments: Sequence[str]) -> FilePath[str]:
        """
        Move a finished download into place (atomically) and account for it,
        then evict least-recently-used unpinned files while over budget.  The
        file just committed is not evicted by its own commit.

        :param temp: A path :meth:`open_temp` returned, whose content is
            complete and verified.
        :param segments: The file's segments.
        :return: The file's final path.
        :raise ValueError: If a segment is unsafe.
        :raise OSError: If the file cannot be moved into place.
        """
        key = tuple(segments)
        path = self.path_for(key)
        path.parent().makedirs(ignoreExistingDirectory=True)
        try:
            os.replace(temp.path, path.path)
        except FileNotFoundError:
            # Another process sharing the cache pruned the directory, empty
            # after an eviction, in between: make it again.
            path.parent().makedirs(ignoreExistingDirectory=True)
            os.replace(temp.path, path.path)
        size = os.stat(path.path).st_size
        self._forget(key)
        self._entries[key] = _Entry(size, self.clock.seconds())
        self.total_size += size
        self._evict(keep=key)
        return path

    def pin(self, segments: Sequence[str]) -> None:
        """
        Protect a file from eviction until a matching :meth:`unpin`.  Pins
        are counted; the file need not exist yet.

        :param segments: The file's segments.
        """
        key = tuple(segments)
        self._pins[key] = self._pins.get(key, 0) + 1

    def unpin(self, segments: Sequence[str]) -> None:
        """
        Undo one :meth:`pin`.

        :param segments: The file's segments.
        :raise ValueError: If the file is not pinned.
        """
        key = tuple(segments)
        count = self._pins.get(key, 0)
        if count <= 0:
            raise ValueError(f"not pinned: {key!r}")
        if count == 1:
            del self._pins[key]
        else:
            self._pins[key] = count - 1

    def is_pinned(self, segments: Sequence[str]) -> bool:
        """
        Whether a file is pinned.

        :param segments: The file's segments.
        """
        return tuple(segments) in self._pins

    def reserve(self, nbytes: int) -> Reservation:
        """
        Count ``nbytes`` against the budget for a download in flight,
        evicting unpinned files to make room.

        :param nbytes: The download's expected size.
        :return: A reservation to release when the download ends (before
            committing the file, which then counts by its real size).
        """
        self.reserved += nbytes
        self._evict()
        return Reservation(self, nbytes)

    def entries(self) -> Iterable[tuple[Key, int]]:
        """
        The indexed files, least recently used first.

        :return: ``(segments, size)`` pairs.
        """
        return [(key, entry.size) for key, entry in self._entries.items()]

    def _release(self, nbytes: int) -> None:
        """Give back reserved bytes (see :class:`Reservation`)."""
        self.reserved -= nbytes

    def _forget(self, key: Key) -> None:
        """Drop a file from the index (not from disk)."""
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.total_size -= entry.size

    def _evict(self, keep: Key | None = None) -> None:
        """
        Delete least-recently-used unpinned files while over budget.

        :param keep: A file never to evict in this round.
        """
        if self.max_size is None:
            return
        while self.total_size + self.reserved > self.max_size:
            victim = next(
                (k for k in self._entries if k != keep and k not in self._pins), None
            )
            if victim is None:
                return
            size = self._entries[victim].size
            self.evictions += 1
            path = self._delete(victim)
            _log.info(
                "Evicted {path} ({size} bytes) to stay within {max_size} bytes",
                path=path.path,
                size=size,
                max_size=self.max_size,
            )

    def remove(self, segments: Sequence[str]) -> bool:
        """
        Delete a cached file (clients already reading it finish reading).

        :param segments: The file's place in the cache.
        :return: Whether there was such a file.
        """
        key = tuple(segments)
        if key not in self._entries and self.lookup(key) is None:
            return False
        self._delete(key)
        return True

    def _delete(self, key: Key) -> FilePath[str]:
        """
        Forget a file and delete it from disk, with its empty directories.
        """
        self._forget(key)
        path = self.path_for(key)
        try:
            os.remove(path.path)
        except FileNotFoundError:
            pass
        except OSError as e:
            _log.warn("Cannot delete {path}: {error}", path=path.path, error=e)
        self._prune(path.parent())
        return path

    def _prune(self, directory: FilePath[str]) -> None:
        """Remove ``directory`` and its ancestors below ``files/`` while empty."""
        top = self.files_dir
        while directory != top and directory.path.startswith(top.path + os.sep):
            try:
                os.rmdir(directory.path)
            except OSError:
                return
            directory = directory.parent()
