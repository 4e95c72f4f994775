# -*- test-case-name: tests.storage.test_cachefiles -*-
"""
The complete files of a cache, as ``pypiproxy cache`` works on them
(:class:`~twisted_pypi.storage.cachedir.CacheDir`): a :class:`FileArea`,
either a cache directory's ``files/`` (:class:`LocalFiles`) or a shared
store's (:class:`~twisted_pypi.storage.bucketfiles.BucketFiles`).
"""

from __future__ import annotations

import hashlib
import os
from typing import Protocol

from twisted.python.filepath import FilePath

from twisted_pypi.storage.layout import FILES_DIR, prune, walk_files

__all__ = ["FileArea", "LocalFiles"]


class FileArea(Protocol):
    """
    Where the complete files are: a cache directory's ``files/``
    (:class:`LocalFiles`) or a shared store's
    (:class:`~twisted_pypi.storage.bucketfiles.BucketFiles`).
    """

    def walk(self) -> list[tuple[tuple[str, ...], int]]:
        """Every file, as ``(segments, size)``, in no particular order."""

    def remove(self, segments: tuple[str, ...]) -> bool:
        """Delete a file; :return: whether it was there."""

    def digest(self, segments: tuple[str, ...], name: str) -> str | None:
        """A file's hex digest by ``name``, or ``None`` if unreadable."""


class LocalFiles:
    """
    The complete files of a cache directory (its ``files/``).
    """

    def __init__(self, root: FilePath[str]) -> None:
        """:param root: The cache directory."""
        self._top = root.child(FILES_DIR)

    def walk(self) -> list[tuple[tuple[str, ...], int]]:
        """Every complete file, as ``(segments, size)``."""
        return [(s, st.st_size) for s, st in walk_files(self._top.path)]

    def remove(self, segments: tuple[str, ...]) -> bool:
        """
        Delete a file, and the directories it leaves empty.

        :return: Whether it was there.
        """
        path = self._top.preauthChild("/".join(segments))
        try:
            os.remove(path.path)
        except FileNotFoundError:
            return False
        prune(path.parent(), self._top)
        return True

    def digest(self, segments: tuple[str, ...], name: str) -> str | None:
        """The hex digest of a file, or ``None`` if it cannot be read."""
        hasher = hashlib.new(name)
        try:
            with open(self._top.preauthChild("/".join(segments)).path, "rb") as f:
                while chunk := f.read(1 << 20):
                    hasher.update(chunk)
        except OSError:
            return None
        return hasher.hexdigest()
