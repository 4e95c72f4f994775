# -*- test-case-name: tests.sources.test_metaadvert -*-
"""
What a page advertises of the core metadata of wheels whose index offers
none (PEP 658/714): the proxy serves their ``.metadata`` itself (see
:mod:`twisted_pypi.files.metadata`), and a page says so only where the
proxy really can serve it:

- ``{"sha256": ...}`` where the proxy keeps it (the
  :class:`~twisted_pypi.storage.metacatalog.MetadataCatalog` has its hash);
- ``true`` (no hash) where the wheel's origin honours ``Range`` requests
  (the proxy reads it by ranges when asked);
- nothing otherwise (the origin ignores ranges, or is not known yet, and
  the wheel was never downloaded): installers then download the wheel, and
  once it is cached its metadata is advertised with its hash.

Each such file is marked
:attr:`~twisted_pypi.core.model.DistFile.synthesized_metadata`, so its
``.metadata`` is never asked of the upstream.

A page entry keeps an :class:`Advert`: the catalog's version of the
project and the generation of what is known of origins when it was built.
When either moved on, the page cache builds the entry again from the page
it has (no upstream request).  Whether an origin honours ranges is learned
before the first page that needs it is served: the page cache awaits
:meth:`MetadataAdvertiser.probe_origin`, a ranged read of the metadata of
one wheel the page lists (real work, kept as that wheel's metadata), at
most one per origin at a time, for at most :data:`PROBE_WAIT` seconds; what
it learned is kept in the cache directory (see
:mod:`twisted_pypi.storage.rangeorigins`).
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import define, evolve, field, frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from twisted_pypi.core.links import local_segments
from twisted_pypi.core.lookup import PageEntry
from twisted_pypi.core.model import CoreMetadata, DistFile, ProjectPage
from twisted_pypi.sources.cachepolicy import Flights
from twisted_pypi.storage.metacatalog import MetadataCatalog, file_key
from twisted_pypi.upstream.ranged import RangeSupport, origin_key

__all__ = ["PROBE_RETRY", "PROBE_WAIT", "Advert", "MetadataAdvertiser"]

#: The longest a page waits for a probe of its origin.
PROBE_WAIT = 10.0

#: Seconds before an origin whose probe taught nothing is probed again.
PROBE_RETRY = 60.0

#: Reads a wheel's metadata by ranges: ``probe(dist, segments)``.
Probe = Callable[[DistFile, tuple[str, ...]], Deferred[None]]


@frozen
class Advert:
    """
    What a page's advertised metadata was built from.

    :ivar stamp: The catalog's version of the project and the generation of
        the range support.
    :ivar probe: A wheel the page lists whose origin was not known to honour
        ranges or not, to probe it with; ``None`` if every origin was known.
    :ivar probe_at: That wheel's place in the store.
    """

    stamp: tuple[int, int]
    probe: DistFile | None = None
    probe_at: tuple[str, ...] = ()


def _is_wheel(dist: DistFile) -> bool:
    """Whether ``dist`` is a wheel."""
    return dist.filename.endswith(".whl")


@define
class MetadataAdvertiser:
    """
    Advertises the metadata the proxy makes on the pages of remote indexes
    (see the module docstring).

    :ivar catalog: The hashes of the metadata the proxy keeps.
    :ivar support: Which origins honour ranges.
    :ivar probe: Reads one wheel's metadata by ranges; ``None``: origins
        are never probed (offline, or for commands).
    :ivar clock: Times the probes.
    """

    catalog: MetadataCatalog
    support: RangeSupport
    probe: Probe | None = None
    clock: IReactorTime | None = None
    _flights: Flights[str, None] = field(factory=Flights, init=False)
    _rebuilds: Flights[tuple[str, str], PageEntry | None] = field(
        factory=Flights, init=False
    )
    _taught_nothing: dict[str, float] = field(factory=dict, init=False)

    def stamp(self, index: str, project: str) -> tuple[int, int]:
        """
        What a page of ``project`` built now would be built from (no I/O).
        """
        return (self.catalog.version(index, project), self.support.generation)

    def enrich(
        self, index: str, page: ProjectPage, fresh: bool = True
    ) -> tuple[ProjectPage, Advert]:
        """
        ``page`` advertising the metadata the proxy serves for its wheels
        (blocking: the catalog may be read; run it in the runner).  A page
        enriched before is enriched again as if it were new.

        :param index: The index's name.
        :param page: The page (parsed, or enriched before).
        :param fresh: Read the project's catalog record from the store (a
            page just fetched), not only from memory.
        """
        generation = self.support.generation
        version, entries = self.catalog.files(index, page.name, fresh)
        files: list[DistFile] = []
        probe: tuple[DistFile, tuple[str, ...]] | None = None
        changed = False
        for dist in page.files:
            new = dist
            if _is_wheel(dist) and not dist.upstream_metadata:
                segments = local_segments(index, dist.url)
                advertised: CoreMetadata = None
                if segments is not None:
                    entry = entries.get(file_key(segments))
                    honoured = self.support.honours(dist.url)
                    if entry is not None:
                        advertised = {"sha256": entry.sha256}
                    elif honoured:
                        advertised = True
                    elif honoured is None:
                        probe = (dist, segments)
                marked = advertised is not None
                if (dist.core_metadata, dist.synthesized_metadata) != (
                    advertised,
                    marked,
                ):
                    new = evolve(
                        dist, core_metadata=advertised, synthesized_metadata=marked
                    )
                    changed = True
            files.append(new)
        if changed:
            page = evolve(page, files=tuple(files))
        advert = Advert((version, generation))
        if probe is not None:
            advert = Advert((version, generation), probe[0], probe[1])
        return page, advert

    async def current(
        self,
        index: str,
        key: str,
        entry: PageEntry,
        rebuild: Callable[[], Deferred[PageEntry | None]],
        probe: bool = True,
    ) -> PageEntry:
        """
        ``entry``, or the same page built again by ``rebuild`` (once, however
        many ask at once) if what it advertises is out of date, after a
        probe of its origin if it needs one and ``probe`` allows.

        :param index: The index's name.
        :param key: The page's key.
        :param entry: The page's entry.
        :param rebuild: Builds the entry again (``None``: it cannot be).
        :param probe: Whether to probe an unknown origin first.
        """
        advert = entry.advert
        if not isinstance(advert, Advert):
            return entry
        if probe and self.wants_probe(advert):
            await self.probe_origin(advert)
        if not self.stale(index, key, advert):
            return entry
        rebuilt = await self._rebuilds.join((index, key), rebuild)
        return entry if rebuilt is None else rebuilt

    def stale(self, index: str, project: str, advert: Advert) -> bool:
        """
        Whether a page built with ``advert`` is out of date.
        """
        return advert.stamp != self.stamp(index, project)

    def wants_probe(self, advert: Advert) -> bool:
        """
        Whether a page built with ``advert`` should wait for a probe of an
        origin first: it lists a wheel of an origin still unknown, which was
        not probed in vain lately.
        """
        dist = advert.probe
        if dist is None or self.probe is None or self.clock is None:
            return False
        if self.support.honours(dist.url) is not None:
            return False
        failed = self._taught_nothing.get(origin_key(dist.url))
        return failed is None or self.clock.seconds() - failed >= PROBE_RETRY

    async def probe_origin(self, advert: Advert) -> None:
        """
        Probe the origin of ``advert``'s wheel (see :meth:`wants_probe`),
        waiting at most :data:`PROBE_WAIT` seconds; one probe per origin at
        a time.  Never fails.
        """
        dist, probe, clock = advert.probe, self.probe, self.clock
        if dist is None or probe is None or clock is None:
            return
        origin = origin_key(dist.url)

        def start() -> Deferred[None]:
            def ended(result: object) -> None:
                if self.support.honours(dist.url) is None:
                    self._taught_nothing[origin] = clock.seconds()

            return probe(dist, advert.probe_at).addBoth(ended)

        waiting = self._flights.join(origin, start)
        waiting.addTimeout(PROBE_WAIT, clock)
        try:
            await waiting
        except Exception:
            pass  # the probe goes on; the page is served without waiting
