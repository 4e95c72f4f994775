# -*- test-case-name: tests.mirror.test_fetcher -*-
"""
Where ``warm`` finds the files it fetches: a local index's file
(:class:`LocalPlace`) or a key in the cache, and the failure to fetch one.
"""

from __future__ import annotations

import os

from attrs import frozen
from twisted.python.filepath import FilePath

from twisted_pypi.sources.local import LocalIndex

__all__ = ["FetchFailed", "Fetched", "Key", "LocalPlace"]

#: A file's place in the cache: ``(index, scheme, host, *upstream_path)``.
Key = tuple[str, ...]


class FetchFailed(Exception):
    """
    A file could not be fetched into the cache; the message says which and
    why.
    """


@frozen
class LocalPlace:
    """
    Where a local index keeps a file.

    :ivar index: The local index.
    :ivar filename: The file's name.
    """

    index: LocalIndex
    filename: str

    @property
    def path(self) -> FilePath[str]:
        """The file."""
        return FilePath(os.path.join(self.index.directory, self.filename))


#: Where a fetched file is: a local index's file, or its key in the cache
#: (read with :meth:`~twisted_pypi.mirror.fetcher.CacheFiller.read_with`).
Fetched = FilePath[str] | Key
