# -*- test-case-name: tests.files.test_metadata -*-
"""
The ``.metadata`` (PEP 658) of wheels whose index offers none, made by the
proxy: exactly the bytes of the wheel's ``*.dist-info/METADATA``, kept in
the file store where an upstream ``.metadata`` would be
(:func:`~twisted_pypi.core.links.metadata_segments`, so the files route
serves it as any cached file, from a shared store too), its sha256 in the
:class:`~twisted_pypi.storage.metacatalog.MetadataCatalog` for the pages to
advertise.

Where it comes from, best first:

1. the cached wheel: read once, when its download is committed
   (:meth:`MetadataFiles.committed`, the hook of
   :class:`~twisted_pypi.files.download.Downloads`), or from the store by
   ranges when asked for a wheel cached before;
2. the upstream's wheel, by ``Range`` requests (the zip's directory and the
   one member, a few KB: :func:`~twisted_pypi.core.zipranges.metadata_by_ranges`)
   when its origin honours ranges or is not known yet; checked against the
   wheel when the wheel itself is downloaded later (a mismatch is logged,
   and the metadata read from the wheel replaces it);
3. the wheel's download: a download in flight is waited for (its commit
   reads the metadata); one is started only for a wheel whose metadata a
   page advertised (the catalog knows it, or the origin honours ranges and
   this wheel's ranged read failed), so an advertised ``.metadata`` is
   always served.

A wheel whose download is in flight is read by ranges when the origin
honours them (a few KB now, rather than the whole wheel later), else waits
for the download.  However many ask for one wheel's metadata at once, the
work is done once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pypi.core.links import METADATA, metadata_segments
from twisted_pypi.core.metadata import MetadataUnavailable
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.names import project_of_filename
from twisted_pypi.core.runner import Runner
from twisted_pypi.core.zipranges import RangeRead, metadata_by_ranges
from twisted_pypi.files.download import Download, DownloadError, Downloads, FileSpec
from twisted_pypi.files.metakeep import (
    MetadataKeeper,
    Obtained,
    project_of,
    synthesizes,
)
from twisted_pypi.files.waiters import fire, observe
from twisted_pypi.storage.interfaces import IFileStore, ShortRead
from twisted_pypi.storage.metacatalog import (
    EXTRACTED,
    RANGED,
    MetadataCatalog,
    Synthesized,
    file_key,
)
from twisted_pypi.upstream.client import UpstreamError
from twisted_pypi.upstream.ranged import RangeSupport, read_range

__all__ = [
    "EXTRACTED",
    "RANGED",
    "UPSTREAM",
    "MetadataFiles",
    "MetadataUnreachable",
    "Obtained",
    "synthesizes",
]

_log = Logger()

#: The index's own ``.metadata``, passed through (for the counts).
UPSTREAM = "upstream"


Key = tuple[str, ...]


class MetadataUnreachable(Exception):
    """
    The proxy cannot have the wheel's metadata now (answer 404).
    """


class MetadataFiles:
    """
    Makes, keeps and finds the ``.metadata`` of the wheels whose index
    offers none (see the module docstring).

    :ivar downloads: The downloads (waited for, or started, when nothing
        else gives a wheel's metadata); set after both are made.
    """

    def __init__(
        self,
        store: IFileStore,
        catalog: MetadataCatalog,
        fetch: Callable[..., Deferred[Any]],
        clock: IReactorTime,
        run: Runner,
        support: RangeSupport,
        count: Callable[[str], object] | None = None,
    ) -> None:
        """
        :param store: The file store.
        :param catalog: Where the hashes of what is kept are recorded.
        :param fetch: The upstream file fetcher, ``fetch(url, method,
            extra)``.
        :param clock: Times out ranged reads.
        :param run: Runs reading zips, hashing and the catalog's I/O.
        :param support: Which origins honour ranges (learns from the reads).
        :param count: Told the source of each ``.metadata`` served
            (:data:`UPSTREAM`, :data:`EXTRACTED`, :data:`RANGED`).
        """
        self.store = store
        self.catalog = catalog
        self.support = support
        self.downloads: Downloads | None = None
        self.keeper = MetadataKeeper(store, catalog, run)
        self._fetch = fetch
        self._clock = clock
        self._run = run
        self._count = count
        self._flights: dict[Key, list[Deferred[Obtained]]] = {}

    def committed(self, download: Download) -> None:
        """
        The hook of :class:`~twisted_pypi.files.download.Downloads`: see
        :meth:`~twisted_pypi.files.metakeep.MetadataKeeper.committed`.
        """
        self.keeper.committed(download)

    def served(self, source: str) -> None:
        """
        Count a ``.metadata`` served, by source.
        """
        if self._count is not None:
            self._count(source)

    def served_cached(self, segments: Key, project: str | None) -> None:
        """
        Count a ``.metadata`` served from the store: the catalog tells
        whether it is the proxy's (and how it was had) or the index's.

        :param segments: The ``.metadata``'s place in the store.
        :param project: The project whose page lists the wheel.
        """
        wheel = (*segments[:-1], segments[-1].removesuffix(METADATA))
        name = project or project_of_filename(wheel[-1])
        if name is None:
            self.served(UPSTREAM)
            return
        index, key = wheel[0], file_key(wheel)
        entries = self.catalog.peek(index, name)
        if entries is not None:
            entry = entries.get(key)
            self.served(entry.source if entry is not None else UPSTREAM)
            return
        looked: Deferred[Synthesized | None] = self._run(
            lambda: self.catalog.get(index, name, key)
        )
        looked.addCallbacks(
            lambda entry: self.served(entry.source if entry else UPSTREAM),
            lambda failure: None,
        )

    def obtain(
        self,
        dist: DistFile,
        segments: Key,
        project: str | None = None,
        local_only: bool = False,
    ) -> Deferred[Obtained]:
        """
        A wheel's metadata: kept in the store (if it can be) and recorded
        in the catalog before this fires.

        :param dist: The wheel, as its page lists it.
        :param segments: The wheel's place in the store.
        :param project: The project whose page lists it (else its own).
        :param local_only: Only from the cached wheel (``export``,
            ``warm``): never ask the upstream.
        :return: Fires with the metadata, or fails with
            :class:`MetadataUnreachable`.  Cancelling it cancels only this
            wait.
        """
        key, name = tuple(segments), project_of(dist, project)
        return self._single(key, lambda: self._obtain(dist, key, name, local_only))

    def probe(self, dist: DistFile, segments: Key) -> Deferred[None]:
        """
        Read a wheel's metadata by ranges: learns whether its origin honours
        them, and keeps what it read.  Never fails.

        :param dist: The wheel, as its page lists it.
        :param segments: Its place in the store.
        """
        key, name = tuple(segments), project_of(dist)
        d = self._single(key, lambda: self._by_ranges(dist, key, name))
        return d.addCallbacks(lambda _: None, lambda _: None)

    def _single(self, key: Key, start: Callable[[], Any]) -> Deferred[Obtained]:
        """Join the work running for ``key``, starting it if none is."""
        waiters = self._flights.get(key)
        if waiters is not None:
            return observe(waiters)
        waiters = self._flights[key] = []

        def ended(result: Obtained | Failure) -> None:
            del self._flights[key]
            fire(waiters, result)

        mine = observe(waiters)
        Deferred.fromCoroutine(start()).addBoth(ended)
        return mine

    async def _obtain(
        self, dist: DistFile, key: Key, project: str, local_only: bool
    ) -> Obtained:
        """See :meth:`obtain`."""
        keeper = self.keeper
        if self.store.stat(metadata_segments(key)) is not None:
            found = await keeper.kept(key)
            if found is not None:
                return found
        extracting = keeper.extracting(key)
        if extracting is not None:
            await extracting
            found = await keeper.kept(key)
            if found is not None:
                return found
        if await self._stored(key):
            try:
                data = await keeper.from_store(key, dist.filename)
            except (MetadataUnavailable, OSError, ShortRead) as e:
                _log.warn(
                    "Cannot read the metadata of {file}: {why}", file=key[-1], why=e
                )
            else:
                return await keeper.keep(key, project, data, EXTRACTED)
        if local_only:
            raise MetadataUnreachable(f"{key[-1]} is not cached")
        honoured = self.support.honours(dist.url)
        if honoured is not False:
            try:
                return await self._by_ranges(dist, key, project)
            except MetadataUnreachable:
                pass
        advertised = honoured is True or await self._run(
            lambda: self.catalog.get(key[0], project, file_key(key)) is not None
        )
        return await self._downloaded(dist, key, advertised)

    async def _by_ranges(self, dist: DistFile, key: Key, project: str) -> Obtained:
        """
        The metadata read by ranges of the upstream's wheel, kept.

        :raises MetadataUnreachable: If that failed (logged).
        """
        try:
            ranged = await metadata_by_ranges(
                self._ranges(dist), dist.filename, self._run
            )
        except (UpstreamError, MetadataUnavailable) as e:
            _log.info(
                "Could not read the metadata of {file} by ranges: {why}",
                file=key[-1],
                why=str(e),
            )
            raise MetadataUnreachable(str(e)) from None
        _log.info(
            "Read the metadata of {file} from {fetched} of its {size} bytes",
            file=key[-1],
            fetched=ranged.fetched,
            size=ranged.size,
        )
        return await self.keeper.keep(key, project, ranged.metadata, RANGED)

    def _ranges(self, dist: DistFile) -> RangeRead:
        """Reads ranges of the upstream's wheel."""
        url = dist.fetch_url

        def read(offset: int | None, length: int) -> Deferred[tuple[bytes, int]]:
            return Deferred.fromCoroutine(
                read_range(self._fetch, self._clock, url, offset, length, self.support)
            )

        return read

    async def _downloaded(self, dist: DistFile, key: Key, advertised: bool) -> Obtained:
        """
        The metadata read from the wheel's download: the one in flight, or
        one started here if a page advertised it.

        :raises MetadataUnreachable: If there is none, or it failed.
        """
        downloads = self.downloads
        download = downloads.get(key) if downloads is not None else None
        if download is None and downloads is not None and advertised:
            download = downloads.start_or_join(FileSpec.of_file(dist, key))
        if download is None:
            raise MetadataUnreachable(f"{key[-1]} is not cached")
        try:
            await download.when_done()
        except (UpstreamError, DownloadError) as e:
            raise MetadataUnreachable(f"could not download {key[-1]}: {e}") from None
        extracting = self.keeper.extracting(key)
        if extracting is not None:
            await extracting
        found = await self.keeper.kept(key)
        if found is None:
            raise MetadataUnreachable(f"no metadata could be read from {key[-1]}")
        return found

    async def _stored(self, key: Key) -> bool:
        """Whether the store holds the wheel (it may be asked)."""
        try:
            return await self.store.find(key) is not None
        except OSError:
            return False
