# -*- test-case-name: tests.storage.test_lrufiles -*-
"""
The least-recently-used order of a cache directory's complete files, kept
on disk (the in-memory bookkeeping is the
:class:`~twisted_pypi.storage.lru.LruIndex`'s): each use is recorded in the
file's *access* time, so that the order survives restarts without changing
the modification time clients see as the file's version; and the least
recently used unpinned files are deleted to stay within the budget, or to
make room on a full disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.filepath import FilePath

from twisted_pypi.storage.interfaces import Key
from twisted_pypi.storage.layout import delete_file, walk_files
from twisted_pypi.storage.lru import LruIndex

__all__ = ["TOUCH_INTERVAL", "LruFiles"]

#: The least time, in seconds, between two updates of one file's access time
#: on disk; the in-memory order is updated on every use.
TOUCH_INTERVAL = 60.0

_log = Logger()


class LruFiles:
    """
    The complete files of a cache directory, in least-recently-used order
    (see the module's description).

    :ivar evictions: How many files were evicted since startup.
    """

    def __init__(
        self,
        index: LruIndex,
        files_dir: FilePath[str],
        path_for: Callable[[Key], FilePath[str]],
        clock: IReactorTime,
        free_space: Callable[[], int | None],
    ) -> None:
        """
        :param index: The bookkeeping of the files.
        :param files_dir: The directory of the files.
        :param path_for: The path of a file.
        :param clock: Gives the time recorded as a file's last use.
        :param free_space: The bytes still free on the file system holding
            the files, if it says.
        """
        self._index = index
        self._files_dir = files_dir
        self._path_for = path_for
        self._clock = clock
        self._free_space = free_space
        self.evictions = 0

    def load(self) -> None:
        """
        Register every file on disk with its size, ordered by last use (the
        later of its access and modification times).
        """
        self._index.load(
            (max(st.st_atime_ns, st.st_mtime_ns) / 1e9, key, st.st_size)
            for key, st in walk_files(self._files_dir.path)
        )

    def touch(self, key: Key) -> None:
        """
        Mark a file as just used: it moves to the end of the order, and its
        access time on disk is set (at most once per :data:`TOUCH_INTERVAL`).
        Its modification time is left alone.
        """
        use = self._index.use(key)
        if use is None:
            return
        now = self._clock.seconds()
        if now - use.recorded < TOUCH_INTERVAL:
            return
        use.recorded = now
        path = self._path_for(key).path
        try:
            mtime_ns = os.stat(path).st_mtime_ns
            os.utime(path, ns=(int(now * 1e9), mtime_ns))
        except OSError as e:
            _log.warn("Cannot record use of {path}: {error}", path=path, error=e)

    def within_budget(self, keep: Key | None = None) -> None:
        """
        Delete least-recently-used unpinned files while over budget.

        :param keep: A file never to evict in this round.
        """
        while (victim := self._index.next_victim(keep)) is not None:
            why = "to stay within {max_size} bytes"
            self._evict(victim, why, max_size=self._index.max_size)

    def make_room(self, nbytes: int) -> bool:
        """
        Evict least-recently-used unpinned files, whatever the budget, until
        they add up to ``nbytes``; none if the file system says even
        evicting them all would not be enough.

        :param nbytes: The room wanted.
        :return: Whether any file was evicted.
        """
        victims = self._index.victims_for_room(nbytes, self._free_space())
        for victim in victims:
            self._evict(victim, "to make room on a full disk")
        return bool(victims)

    def delete(self, key: Key) -> FilePath[str]:
        """
        Forget a file and delete it from disk, with its empty directories
        (clients already reading it finish reading).

        :return: Its path.
        """
        self._index.forget(key)
        path = self._path_for(key)
        delete_file(path, self._files_dir)
        return path

    def _evict(self, key: Key, why: str, **fields: object) -> None:
        """
        Evict one indexed file, and log it.

        :param why: The end of the log line, a format naming ``fields``.
        :param fields: More fields of the log event.
        """
        use = self._index.get(key)
        assert use is not None
        self.evictions += 1
        path = self.delete(key)
        _log.info(
            "Evicted {path} ({size} bytes) " + why,
            path=path.path,
            size=use.size,
            **fields,
        )
