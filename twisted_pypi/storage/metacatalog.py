# -*- test-case-name: tests.storage.test_metacatalog -*-
"""
The one record of the core metadata the proxy made itself: for each wheel
whose index offers no PEP 658 ``.metadata``, the sha256 of the
``.metadata`` the proxy keeps in the file store for it (read from the
cached wheel, or from ranges of the upstream's), and how it was had.

Pages read it when they are built, to advertise ``{"sha256": ...}`` for
those wheels (see :mod:`twisted_pypi.sources.metaadvert`); the service that
makes the metadata writes it (see :mod:`twisted_pypi.files.metadata`).

One record per index and project, through an
:class:`~twisted_pypi.storage.recordstore.IRecordStore` (a directory,
``<cache-dir>/core-metadata/<index>/<project>.json``, or the shared store),
its metadata line holding ``{"files": {<file key>: {"sha256": ...,
"source": ..., "size": ...}}}``; a file's key is its place in the cache
without the index (:func:`file_key`).  Records of recently used projects
stay in memory (:data:`MEMORY_PROJECTS`); each project has a version that
moves on whenever its record changes, so a page built from an older one is
known to be out of date without any I/O.

Every method but :meth:`MetadataCatalog.version` and
:meth:`MetadataCatalog.peek` may block (the store is read or written): run
them in the runner.  They are safe to call from several threads at once;
only writes wait for each other while the store is asked.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen
from twisted.logger import Logger

from twisted_pypi.storage.recordstore import IRecordStore, Record

__all__ = [
    "CATALOG_AREA",
    "CATALOG_SUFFIX",
    "EXTRACTED",
    "MEMORY_PROJECTS",
    "RANGED",
    "MetadataCatalog",
    "Synthesized",
    "file_key",
]

_log = Logger()

#: The records' directory, under the cache directory (or the store's prefix).
CATALOG_AREA = "core-metadata"

#: The suffix of each record's name.
CATALOG_SUFFIX = ".json"

#: The metadata was read from the wheel the proxy downloaded.
EXTRACTED = "extracted"

#: The metadata was read from ranges of the upstream's wheel.
RANGED = "ranged"

#: How many projects' records stay in memory.
MEMORY_PROJECTS = 4096

_SOURCES = (EXTRACTED, RANGED)


def file_key(segments: Sequence[str]) -> str:
    """
    A wheel's key in its project's record: its place in the cache without
    the index (``https/host/path/x-1.0-py3-none-any.whl``).

    :param segments: The wheel's place in the cache (not its
        ``.metadata``'s).
    """
    return "/".join(segments[1:])


@frozen
class Synthesized:
    """
    The ``.metadata`` the proxy keeps for one wheel.

    :ivar sha256: Its sha256, hex.
    :ivar source: How it was had: :data:`EXTRACTED` or :data:`RANGED`.
    :ivar size: Its length in bytes.
    """

    sha256: str
    source: str
    size: int

    def as_json(self) -> dict[str, Any]:
        """What the record keeps of it."""
        return {"sha256": self.sha256, "source": self.source, "size": self.size}


def _entries(record: Record | None) -> dict[str, Synthesized]:
    """The entries of a stored record (unreadable ones left out)."""
    files = record.meta.get("files") if record is not None else None
    found: dict[str, Synthesized] = {}
    if not isinstance(files, dict):
        return found
    for key, value in files.items():
        if not isinstance(value, dict):
            continue
        sha256, source, size = (value.get(k) for k in ("sha256", "source", "size"))
        if (
            isinstance(sha256, str)
            and len(sha256) == 64
            and source in _SOURCES
            and isinstance(size, int)
        ):
            found[key] = Synthesized(sha256, source, size)
    return found


class MetadataCatalog:
    """
    The synthesized metadata of each index's projects (see the module
    docstring).
    """

    def __init__(
        self, records: IRecordStore, max_projects: int = MEMORY_PROJECTS
    ) -> None:
        """
        :param records: Where the records are kept.
        :param max_projects: How many projects' records stay in memory.
        """
        self._records = records
        self._max = max_projects
        self._lock = threading.Lock()
        self._writing = threading.Lock()
        self._memory: OrderedDict[tuple[str, str], dict[str, Synthesized]] = (
            OrderedDict()
        )
        self._versions: dict[tuple[str, str], int] = {}
        self._counter = 0

    def version(self, index: str, project: str) -> int:
        """
        The version of a project's record: ``0`` until it changed in this
        process, then larger at each change.  No I/O.

        :param index: The index's name.
        :param project: The normalized project name.
        """
        return self._versions.get((index, project), 0)

    def peek(self, index: str, project: str) -> Mapping[str, Synthesized] | None:
        """
        A project's entries if its record is in memory (no I/O), else
        ``None`` (then ask :meth:`files`).

        :param index: The index's name.
        :param project: The normalized project name.
        """
        with self._lock:
            entries = self._memory.get((index, project))
            return None if entries is None else dict(entries)

    def files(
        self, index: str, project: str, fresh: bool = False
    ) -> tuple[int, Mapping[str, Synthesized]]:
        """
        A project's entries and the version they are (consistent with each
        other: a page built from them may keep the version).

        :param index: The index's name.
        :param project: The normalized project name.
        :param fresh: Read the record again from the store, to see what
            other nodes of a shared store added (what this process knows
            is kept too).
        :return: The version and the entries by :func:`file_key`.
        """
        stored = (
            self._load(index, project)
            if fresh or not self._held(index, project)
            else None
        )
        with self._lock:
            entries = self._merged(index, project, stored)
            return self.version(index, project), dict(entries)

    def get(self, index: str, project: str, key: str) -> Synthesized | None:
        """
        A wheel's entry, if any.

        :param index: The index's name.
        :param project: The normalized project name.
        :param key: The wheel's :func:`file_key`.
        """
        stored = None if self._held(index, project) else self._load(index, project)
        with self._lock:
            return self._merged(index, project, stored).get(key)

    def put(
        self, index: str, project: str, key: str, entry: Synthesized | None
    ) -> bool:
        """
        Set (or, with ``None``, drop) a wheel's entry, and save the record
        (read again first, so that what other nodes added is kept).

        :param index: The index's name.
        :param project: The normalized project name.
        :param key: The wheel's :func:`file_key`.
        :param entry: The new entry.
        :return: Whether anything changed.
        """
        with self._writing:
            stored = self._load(index, project)
            with self._lock:
                entries = self._merged(index, project, stored)
                if entries.get(key) == entry:
                    return False
                if entry is None:
                    del entries[key]
                else:
                    entries[key] = entry
                self._bump(index, project)
                files = {k: v.as_json() for k, v in sorted(entries.items())}
            self._records.save(index, project, Record({"files": files}))
            return True

    def _held(self, index: str, project: str) -> bool:
        """Whether a project's record is in memory."""
        with self._lock:
            return (index, project) in self._memory

    def _load(self, index: str, project: str) -> dict[str, Synthesized]:
        """A project's entries as the store has them (no lock held: I/O)."""
        return _entries(self._records.load(index, project))

    def _merged(
        self, index: str, project: str, stored: dict[str, Synthesized] | None
    ) -> dict[str, Synthesized]:
        """
        A project's entries in memory, with those of ``stored`` (as the
        store has them, if read) that memory lacks; the caller holds the
        lock.
        """
        where = (index, project)
        entries = self._memory.get(where)
        if stored is None and entries is None:
            stored = self._load(index, project)  # it left memory meanwhile
        if stored is not None:
            if entries is None:
                entries = stored
            else:
                added = {k: v for k, v in stored.items() if k not in entries}
                if added:
                    entries.update(added)
                    self._bump(index, project)
            self._memory[where] = entries
            while len(self._memory) > self._max:
                self._memory.popitem(last=False)
        assert entries is not None
        self._memory.move_to_end(where)
        return entries

    def _bump(self, index: str, project: str) -> None:
        """Move a project's version on; the caller holds the lock."""
        self._counter += 1
        self._versions[(index, project)] = self._counter
