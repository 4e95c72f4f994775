# -*- test-case-name: tests.storage.test_filecache -*-
"""
The layout of a cache directory and the file operations on it that the
running proxy (:mod:`~twisted_pypi.storage.filecache`) and the ``pypiproxy
cache`` command (:mod:`~twisted_pypi.storage.cachedir`) share.

``files/<segments...>``
    Complete, verified files (see :data:`FILES_DIR`).
``tmp/``
    Spool files of downloads in flight (see :data:`TMP_DIR`).
``pages/``, ``pypi-json/``
    Records (see :mod:`~twisted_pypi.storage.records`).
``indexes.json``
    The indexes the cache was filled from (see
    :mod:`~twisted_pypi.storage.indexmeta`).
"""

from __future__ import annotations

import fcntl
import os
import stat
import time
from collections.abc import Iterator

from twisted.logger import Logger
from twisted.python.filepath import FilePath

from twisted_pypi.core.names import is_safe_segment
from twisted_pypi.storage.interfaces import Key

__all__ = [
    "FILES_DIR",
    "STALE_TEMP_AGE",
    "TMP_DIR",
    "delete_file",
    "delete_stale_temps",
    "free_bytes",
    "hold_lock",
    "move_into_place",
    "prune",
    "walk_files",
]

#: The directory of complete files, under the cache root.
FILES_DIR = "files"

#: The directory of partial downloads, under the cache root.
TMP_DIR = "tmp"

#: How long, in seconds, a partial download must have gone unwritten before
#: a sweep may delete it, if no live process holds its lock (see
#: :func:`hold_lock`).  The lock is what tells a live download from a
#: leftover; the age only covers the moment between a spool's creation and
#: its locking, and file times set by another host's clock.
STALE_TEMP_AGE = 60.0

_log = Logger()


def walk_files(top: str) -> Iterator[tuple[Key, os.stat_result]]:
    """
    Every regular file under ``top`` whose path is made of safe segments
    (see :func:`~twisted_pypi.core.names.is_safe_segment`), in no order.

    :param top: The directory of complete files.
    :return: ``(segments, lstat result)`` pairs; a file that vanishes while
        walking is left out.
    """
    for dirpath, dirnames, filenames in os.walk(top):
        relative = os.path.relpath(dirpath, top)
        parents = () if relative == os.curdir else tuple(relative.split(os.sep))
        dirnames[:] = [d for d in dirnames if is_safe_segment(d)]
        for name in filenames:
            if not is_safe_segment(name):
                continue
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                yield (*parents, name), st


def hold_lock(fd: int) -> None:
    """
    Mark an open partial download as owned by this process, for as long as
    ``fd`` stays open: :func:`delete_stale_temps` in any process (this one
    included) leaves it alone.

    :param fd: A descriptor of the file (an exclusive ``flock``, which
        lives with the open file, not with the process's other descriptors).
    :raise OSError: If the file is locked already.
    """
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _delete_if_unowned(path: str) -> bool:
    """
    Delete a partial download unless a live process holds its lock.

    :param path: The file.
    :return: Whether it was deleted.
    :raise OSError: If it cannot be opened or deleted.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its download is alive, in some process
        # Ours now: its owner cannot come back to it.
        os.remove(path)
        return True
    finally:
        os.close(fd)


def delete_stale_temps(tmp: FilePath[str], stale_after: float = STALE_TEMP_AGE) -> int:
    """
    Delete the partial downloads in ``tmp`` that no live process owns (see
    :func:`hold_lock`) and that were last written more than ``stale_after``
    seconds ago (by the wall clock: file times are).  Anything else in
    ``tmp`` (not a regular file) goes by its age alone.

    :param tmp: The directory of partial downloads; missing is empty.
    :param stale_after: The age in seconds.
    :return: How many were deleted.
    """
    now = time.time()
    deleted = 0
    try:
        children = tmp.children()
    except OSError:
        return 0
    for leftover in children:
        try:
            st = os.lstat(leftover.path)
            if now - st.st_mtime < stale_after:
                continue
            if stat.S_ISREG(st.st_mode):
                deleted += _delete_if_unowned(leftover.path)
            else:
                leftover.remove()
                deleted += 1
        except FileNotFoundError:
            continue  # its process committed or discarded it meanwhile
        except OSError as e:
            _log.warn("Cannot delete {path}: {error}", path=leftover.path, error=e)
    if deleted:
        _log.info(
            "Deleted {count} partial downloads left by stopped processes",
            count=deleted,
        )
    return deleted


def free_bytes(path: str) -> int | None:
    """
    The bytes an unprivileged process may still write on the file system
    holding ``path`` (a quota may allow fewer).

    :param path: Any path on it.
    :return: The bytes, or ``None`` if the file system does not say.
    """
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def move_into_place(source: str, target: FilePath[str]) -> None:
    """
    Rename ``source`` to ``target`` atomically, creating its directories.

    :param source: A file on the same file system.
    :param target: Where it goes; a file there is replaced.
    :raise OSError: If it cannot be done.
    """
    target.parent().makedirs(ignoreExistingDirectory=True)
    try:
        os.replace(source, target.path)
    except FileNotFoundError:
        if not os.path.exists(source):
            raise
        # Another process sharing the cache pruned the directory, empty
        # after an eviction, in between: make it again.
        target.parent().makedirs(ignoreExistingDirectory=True)
        os.replace(source, target.path)


def delete_file(path: FilePath[str], top: FilePath[str]) -> bool:
    """
    Delete a complete file, and the directories it leaves empty below
    ``top``; a failure other than its absence is logged.

    :param path: The file.
    :param top: The directory of complete files.
    :return: Whether it was there.
    """
    try:
        os.remove(path.path)
    except FileNotFoundError:
        return False
    except OSError as e:
        _log.warn("Cannot delete {path}: {error}", path=path.path, error=e)
    prune(path.parent(), top)
    return True


def prune(directory: FilePath[str], top: FilePath[str]) -> None:
    """
    Remove ``directory`` and its ancestors below ``top`` while empty.

    :param directory: Where a file was just deleted.
    :param top: The directory never removed.
    """
    while directory != top and directory.path.startswith(top.path + os.sep):
        try:
            os.rmdir(directory.path)
        except OSError:
            return
        directory = directory.parent()
