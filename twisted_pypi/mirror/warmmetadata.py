# -*- test-case-name: tests.mirror.test_fetcher -*-
"""
Core metadata for ``warm``'s resolver: from the cache when it holds the
``.metadata`` or the file, else fetched into the cache first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.python.filepath import FilePath

from twisted_pypi.core.metadata import (
    MetadataError,
    metadata_from_sdist,
    metadata_from_wheel,
)
from twisted_pypi.core.model import DistFile
from twisted_pypi.files.spec import FileSpec
from twisted_pypi.mirror.places import Fetched, FetchFailed, Key, LocalPlace
from twisted_pypi.resolve.metadata import CachedMetadataSource
from twisted_pypi.storage.filecache import FileCache

__all__ = ["Filler", "WarmMetadataSource"]

T = TypeVar("T")


class Filler(Protocol):
    """
    What fetches into the cache (a
    :class:`~twisted_pypi.mirror.fetcher.CacheFiller`), as the metadata
    source uses it.
    """

    cache: FileCache
    run: Callable[[Callable[[], Any]], Deferred[Any]]

    async def locate(self, dist: DistFile) -> Key | LocalPlace | None:
        """Where ``dist`` is, or ``None`` if no index lists it."""

    async def fetch(self, spec: FileSpec) -> Key:
        """Fetch ``spec`` into the cache: its key."""

    async def read_with(
        self, fetched: Fetched, work: Callable[[FilePath[str]], T]
    ) -> T:
        """Run ``work`` on the fetched file's local path."""


@frozen
class WarmMetadataSource:
    """
    Core metadata for the resolver: from the cache when it holds the
    ``.metadata`` or the wheel, else downloaded into the cache first (the
    ``.metadata`` when the index offers one, else the file itself).

    :ivar filler: Knows the indexes and fetches.
    """

    filler: Filler

    async def metadata(self, dist: DistFile) -> bytes:
        """
        ``dist``'s core metadata.

        :param dist: A file a page listed.
        :raises MetadataError: If it cannot be had.
        """
        place = await self.filler.locate(dist)
        if isinstance(place, LocalPlace):
            local = await place.index.file(place.filename)
            if local is None or local.metadata is None:
                raise MetadataError(f"{dist.filename} has no readable metadata")
            return local.metadata
        if place is None:
            raise MetadataError(f"{dist.filename}: no index lists it")
        fetching = _Downloading(self.filler, place)
        cached = CachedMetadataSource(
            self.filler.cache, place[0], fetching, self.filler.run
        )
        return await cached.metadata(dist)


@frozen
class _Downloading:
    """
    Metadata the cache lacks, downloaded into it and read from there.

    :ivar filler: Fetches.
    :ivar segments: The file's place in the cache.
    """

    filler: Filler
    segments: Key

    async def metadata(self, dist: DistFile) -> bytes:
        """
        The ``.metadata`` if the index offers it and has it, else the
        metadata inside the file.

        :param dist: The file.
        """
        filler = self.filler
        if dist.upstream_metadata:
            try:
                key = await filler.fetch(FileSpec.of_metadata(dist, self.segments))
                return await filler.read_with(key, FilePath.getContent)
            except FetchFailed:
                pass  # as installers do: fall back to the file itself
        try:
            key = await filler.fetch(FileSpec.of_file(dist, self.segments))
            return await filler.read_with(key, lambda p: _read_metadata(p, dist))
        except FetchFailed as e:
            raise MetadataError(str(e)) from None


def _read_metadata(path: FilePath[str], dist: DistFile) -> bytes:
    """The metadata in a cached wheel or sdist (blocking)."""
    if dist.filename.endswith(".whl"):
        with path.open() as wheel:
            return metadata_from_wheel(wheel, dist.filename)
    return metadata_from_sdist(path.getContent(), dist.filename)
