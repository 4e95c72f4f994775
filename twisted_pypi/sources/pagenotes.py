# -*- test-case-name: tests.sources.test_pagenotes -*-
"""
What the page cache (:mod:`twisted_pypi.sources.remote`) notes, on the
reactor, of each page it makes (see
:class:`~twisted_pypi.sources.pagerecords.Built`): whether its project is
quarantined upstream (see :mod:`~twisted_pypi.sources.quarantine`, which
then refuses its files), whether it lists files without an upload time
(their age counts from when the proxy first saw them, see
:mod:`~twisted_pypi.sources.firstseen`), and which pages kept on disk have
a record with no first-seen times (a new version of one need not read the
old one back).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from twisted_pypi.core.lookup import PageEntry
from twisted_pypi.core.policy import Decision
from twisted_pypi.core.stats import Stats
from twisted_pypi.sources.pagebuild import quarantined
from twisted_pypi.sources.pagerecords import Built
from twisted_pypi.sources.quarantine import REFUSED, Quarantine

__all__ = ["PageNotes"]

log = Logger()


class PageNotes:
    """
    What one index's page cache knows of the pages it made.
    """

    def __init__(
        self,
        index: str,
        forget_file: Callable[[tuple[str, ...]], object] | None = None,
        stats: Stats | None = None,
    ) -> None:
        """
        :param index: The index's name.
        :param forget_file: Deletes a cached file, given its place in the
            cache; called for the files of a project that became quarantined.
        :param stats: Where an index listing files without an upload time is
            noted, if anywhere.
        """
        self._index = index
        self._stats = stats
        self._quarantine = Quarantine(index, forget_file)
        self._undated = False
        self._timeless: set[str] = set()

    @property
    def undated(self) -> bool:
        """
        Whether a page of the index was seen listing files without an
        upload time.
        """
        return self._undated

    def bare(self, key: str, old: PageEntry | None) -> bool:
        """
        Whether the record before a new version of a page is known to keep
        no first-seen times (it need not be read back).

        :param key: The page's key.
        :param old: The page cached before, if any.
        """
        return old is None or key in self._timeless

    def note(self, key: str, built: Built, fetched: bool) -> None:
        """
        Take note of a page made from the upstream's answer (``fetched``) or
        read back from the store: whether its project is quarantined (and
        drop the files its previous page listed, if it now is), and whether
        it lists files without an upload time.
        """
        if fetched:
            self._quarantine.fetched(key, built.held, built.purge)
        else:
            self._quarantine.loaded(key, built.held)
        if built.undated:
            self._undated = True
            if self._stats is not None:
                self._stats.upstream_undated(self._index)
        if built.entry.is_loaded or built.undated:
            self._timeless.discard(key)
        else:
            self._timeless.add(key)
        if built.new:
            log.info(
                "{index}: {project} lists {count} new file(s) without an upload"
                " time; their age counts from now",
                index=self._index,
                project=key,
                count=built.new,
            )

    def refusal(
        self,
        segments: tuple[str, ...],
        project: str | None,
        cached: Callable[[str], Awaitable[PageEntry | None]],
    ) -> Deferred[Decision | None]:
        """
        Why a file of the index must not be served at all, or ``None``: its
        project is quarantined upstream.  Known at once (a set lookup) once
        the project's page was seen; else its cached page is read, once.

        :param segments: The file's place (a ``.metadata`` file's too).
        :param project: The project the link names, if any.
        :param cached: Gives a project's cached page (from memory, else from
            the store), or ``None``; making it notes it here.
        :return: A Deferred firing with the reason, or ``None``.
        """
        quarantine = self._quarantine
        names = quarantine.names(segments, project)
        if quarantine.refuses(segments, names):
            return succeed(REFUSED)
        unknown = quarantine.unknown(names)
        if not unknown:
            return succeed(None)
        return Deferred.fromCoroutine(self._look_up(segments, names, unknown, cached))

    async def _look_up(
        self,
        segments: tuple[str, ...],
        names: tuple[str, ...],
        unknown: list[str],
        cached: Callable[[str], Awaitable[PageEntry | None]],
    ) -> Decision | None:
        """
        Read the pages of the projects whose status is not known, then
        decide as :meth:`refusal` does.
        """
        for name in unknown:
            entry = await cached(name)
            held = entry is not None and entry.is_loaded and quarantined(entry.page)
            self._quarantine.loaded(name, held)
        return REFUSED if self._quarantine.refuses(segments, names) else None
