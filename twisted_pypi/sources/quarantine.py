# -*- test-case-name: tests.sources.test_quarantine -*-
"""
The projects one index's upstream marks quarantined (PEP 792), as the page
cache last saw them, so that the cached files of such a project are refused
from the moment the proxy sees the status (the files route asks before it
serves a cached file, a download in flight or a new download).

What a fetched page says is authoritative: a quarantined page puts its
project in, a page without the status takes it out.  A page read back from
the store (after a restart, or after it left memory) only adds: a stored
page read while a newer one is being fetched must not undo what that fetch
saw.  A project whose status is not known (nothing read since the start)
is looked up in the store by the page cache, once; that it is not
quarantined is remembered for at most :data:`MEMORY_CLEAR` projects, the
least recently asked forgotten first (and then looked up again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cachetools import LRUCache
from twisted.logger import Logger

from twisted_pypi.core.links import METADATA, local_segments, metadata_segments
from twisted_pypi.core.model import ProjectPage
from twisted_pypi.core.names import project_of_filename

__all__ = ["MEMORY_CLEAR", "REFUSED", "Quarantine"]

log = Logger()

#: What a refused file's answer says.
REFUSED = "project quarantined upstream"

#: How many projects known not to be quarantined are remembered.
MEMORY_CLEAR = 65536

#: A file's place in the cache: ``(index, scheme, host, *path)``.
Segments = tuple[str, ...]


class Quarantine:
    """
    The quarantined projects of one index, and the cached files their pages
    listed before the status came (dropped from the cache, and refused
    until then).
    """

    def __init__(
        self,
        index: str,
        forget_file: Callable[[Segments], object] | None = None,
        max_clear: int = MEMORY_CLEAR,
    ) -> None:
        """
        :param index: The index's name.
        :param forget_file: Deletes a cached file, given its place, if
            anything does.
        :param max_clear: How many projects known not to be quarantined are
            remembered.
        """
        self._index = index
        self._forget_file = forget_file
        self._projects: set[str] = set()
        self._clear: LRUCache[str, bool] = LRUCache(max(1, max_clear))
        self._files: dict[Segments, str] = {}

    def __contains__(self, project: object) -> bool:
        """
        Whether ``project`` is known to be quarantined.
        """
        return project in self._projects

    def fetched(
        self, project: str, quarantined: bool, before: ProjectPage | None = None
    ) -> None:
        """
        Note what a page the upstream just sent says.

        :param project: The page's key (a normalized project name).
        :param quarantined: Whether the page says the project is quarantined.
        :param before: The project's previous page, when this one is the
            first to say it is quarantined: the cached files (and
            ``.metadata``) it listed are dropped, and refused meanwhile
            whatever link names them.
        """
        if quarantined:
            self._projects.add(project)
            self._clear.pop(project, None)
            if before is not None:
                self._drop(project, before)
            return
        self._clear[project] = True
        if project in self._projects:
            self._projects.discard(project)
            for place in [p for p, owner in self._files.items() if owner == project]:
                del self._files[place]

    def _drop(self, project: str, page: ProjectPage) -> None:
        """
        Refuse, and delete from the cache, the files ``page`` listed.
        """
        places = [
            place
            for dist in page.files
            if (place := local_segments(self._index, dist.url)) is not None
        ]
        self._files.update((place, project) for place in places)
        if self._forget_file is None or not places:
            return
        log.warn(
            "{project} is quarantined upstream: dropping its cached files",
            project=page.name,
        )
        for place in places:
            self._forget_file(place)
            self._forget_file(metadata_segments(place))

    def loaded(self, project: str, quarantined: bool) -> None:
        """
        Note what a page read back from the store says (only adds what a
        fetch has not said otherwise; see the module's description).

        :param project: The page's key.
        :param quarantined: Whether the page says the project is quarantined
            (``False`` also when nothing is stored for it).
        """
        if quarantined:
            self._projects.add(project)
            self._clear.pop(project, None)
        elif project not in self._projects:
            self._clear[project] = True

    def names(self, segments: Segments, project: str | None) -> tuple[str, ...]:
        """
        The projects whose status decides whether the file at ``segments``
        is refused: the one whose page the link names, and the one its
        filename names (a link naming another page does not get around a
        quarantine).

        :param segments: The file's place (a ``.metadata`` file's too).
        :param project: The project the link names, if any.
        """
        named = project_of_filename(segments[-1].removesuffix(METADATA))
        found = [name for name in (project, named) if name is not None]
        return tuple(dict.fromkeys(found))

    def refuses(self, segments: Segments, names: Sequence[str]) -> bool:
        """
        Whether the file at ``segments`` is refused: one of ``names`` is
        quarantined, or a quarantined project's page listed the file.

        :param segments: The file's place (a ``.metadata`` file's too).
        :param names: See :meth:`names`.
        """
        if any(name in self._projects for name in names):
            return True
        if not self._files:
            return False
        base = (*segments[:-1], segments[-1].removesuffix(METADATA))
        return base in self._files

    def unknown(self, names: Sequence[str]) -> list[str]:
        """
        Those of ``names`` whose status is not known (each known one counts
        as recently asked).
        """
        return [
            name
            for name in names
            if name not in self._projects and self._clear.get(name) is None
        ]
