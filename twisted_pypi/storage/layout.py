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
"""

from __future__ import annotations

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
    "delete_stale_temps",
    "move_into_place",
    "prune",
    "walk_files",
]

#: The directory of complete files, under the cache root.
FILES_DIR = "files"

#: The directory of partial downloads, under the cache root.
TMP_DIR = "tmp"

#: How long, in seconds, a partial download must have gone unwritten before
#: a scan deletes it.  A download in progress writes at least once per idle
#: timeout (30 s by default) or fails, so an older one is a leftover of a
#: process that died; a younger one may belong to a process still running on
#: the same cache directory.
STALE_TEMP_AGE = 600.0

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


def delete_stale_temps(tmp: FilePath[str], stale_after: float) -> None:
    """
    Delete the partial downloads in ``tmp`` last written more than
    ``stale_after`` seconds ago (by the wall clock: file times are).

    :param tmp: The directory of partial downloads.
    :param stale_after: The age in seconds.
    """
    now = time.time()
    for leftover in tmp.children():
        try:
            if now - os.lstat(leftover.path).st_mtime < stale_after:
                continue
            leftover.remove()
        except FileNotFoundError:
            continue  # its process committed or discarded it meanwhile
        except OSError as e:
            _log.warn("Cannot delete {path}: {error}", path=leftover.path, error=e)


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
