# -*- test-case-name: tests.resolve.test_metadata -*-
"""
The core metadata of distribution files, which is where a resolver learns a
candidate's dependencies.

:class:`IndexMetadataSource` fetches it from an index: the PEP 658
``<file>.metadata`` when the page advertises one (its hash checked), else,
for a wheel, its ``*.dist-info/METADATA`` read by ranges (the zip's central
directory and that one member: a few kilobytes, whatever the wheel's size),
else the file itself, within a size cap, reading ``METADATA`` from a wheel
(when its origin does not honour ranges) or ``PKG-INFO`` from an sdist.
:func:`~twisted_pypi.core.metadata.parse_dependencies` turns the bytes into
requirements, and says when an sdist's are not to be trusted.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from attrs import field, frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.filepath import FilePath

from twisted_pypi.core.links import METADATA, local_segments
from twisted_pypi.core.metadata import (
    MAX_DOWNLOAD_SIZE,
    MAX_METADATA_SIZE,
    MetadataError,
    MetadataSource,
    MetadataUnavailable,
    check_hashes,
    metadata_from_sdist,
    metadata_from_wheel,
)
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.runner import Runner, run_now
from twisted_pypi.core.sizes import format_size
from twisted_pypi.core.zipranges import metadata_by_ranges
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.interfaces import ShortRead, StoreUnreachable
from twisted_pypi.storage.readout import copy_to_path, read_bytes
from twisted_pypi.upstream.client import PageClient, UpstreamError, fetch_page
from twisted_pypi.upstream.ranged import RangeNotHonoured, RangeSupport, read_range

__all__ = [
    "CachedMetadataSource",
    "Fetch",
    "IndexMetadataSource",
]


#: The upstream file fetcher, ``fetch(url, method, extra_headers)`` (see
#: :func:`twisted_pypi.app.filefetch.file_fetcher`).
Fetch = Callable[..., Deferred[Any]]


@frozen
class IndexMetadataSource:
    """
    Core metadata fetched from where a page's files live.

    :ivar client: The HTTP client (``treq.client.HTTPClient`` or alike).
    :ivar clock: Drives the timeouts.
    :ivar connect_timeout: Seconds allowed until the response headers.
    :ivar idle_timeout: Seconds a body may stay silent.
    :ivar max_download: The largest file downloaded whole to read its
        metadata (a wheel only when its origin does not honour ranges).
    :ivar progress: Told about every file downloaded for its metadata.
    :ivar fetch: The upstream file fetcher, which reads wheels by ranges;
        ``None`` to download them whole, as sdists are.
    :ivar run: Runs the reading of zips and archives and the hashing of
        downloads (blocking) away from the reactor thread.
    :ivar ranges: What each origin has shown about ranges: one that answered
        a range with the whole file is not asked for ranges again.
    """

    client: PageClient
    clock: IReactorTime
    connect_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_download: int = MAX_DOWNLOAD_SIZE
    progress: Callable[[str], object] | None = None
    fetch: Fetch | None = None
    run: Runner = run_now
    ranges: RangeSupport = field(factory=RangeSupport)

    async def metadata(self, dist: DistFile) -> bytes:
        """
        ``dist``'s metadata: its PEP 658 ``.metadata`` if advertised (and
        there), else a wheel's read by ranges, else read from the whole file.

        :param dist: The file.
        """
        if dist.core_metadata:
            data = await self._get(
                dist, dist.url + METADATA, MAX_METADATA_SIZE, dist.filename + METADATA
            )
            if data is not None:
                if isinstance(dist.core_metadata, Mapping):
                    check_hashes(data, dist.core_metadata, f"{dist.filename}.metadata")
                return data
        wheel = dist.filename.endswith(".whl")
        ranged = wheel and self.fetch is not None
        if ranged and self.ranges.honours(dist.url) is not False:
            try:
                return await self._by_ranges(dist)
            except RangeNotHonoured:
                pass
        return await self._download(dist, wheel, ranged)

    async def _by_ranges(self, dist: DistFile) -> bytes:
        """
        A wheel's ``METADATA``, read by ranges of the wheel (not checked
        against the wheel's hash, which only the whole file could be).

        :raises RangeNotHonoured: When the origin sent the whole file.
        """
        assert self.fetch is not None
        read = partial(
            read_range, self.fetch, self.clock, dist.fetch_url, support=self.ranges
        )
        try:
            found = await metadata_by_ranges(read, dist.filename, self.run)
        except RangeNotHonoured:
            raise
        except UpstreamError as e:
            raise MetadataError(f"could not read {dist.filename}: {e}") from e
        return found.metadata

    async def _download(self, dist: DistFile, wheel: bool, ranged: bool) -> bytes:
        """
        The metadata in the whole file, downloaded within
        :attr:`max_download`.

        :param wheel: Whether the file is a wheel.
        :param ranged: Whether its origin was asked for ranges (and does not
            honour them).
        """
        because = " (its server does not honour ranges)" if ranged else ""
        if dist.size is not None and dist.size > self.max_download:
            raises = " and its server does not honour ranges" if ranged else ""
            raise MetadataUnavailable(
                f"{dist.filename} is {format_size(dist.size)}, more than the"
                f" {format_size(self.max_download)} this tool downloads only to read"
                f" its metadata, and the index offers no PEP 658 metadata for"
                f" it{raises}"
            )
        if self.progress is not None:
            size = "" if dist.size is None else f" ({format_size(dist.size)})"
            self.progress(
                f"downloading {dist.filename}{size} to read its metadata{because}"
            )
        data = await self._get(dist, dist.url, self.max_download, dist.filename)
        if data is None:
            raise MetadataError(f"{dist.url} is not found")
        read = metadata_from_wheel if wheel else metadata_from_sdist

        def extract() -> bytes:
            check_hashes(data, dist.hashes, dist.filename)
            return read(data, dist.filename)

        extracted: bytes = await self.run(extract)
        return extracted

    async def _get(
        self, dist: DistFile, url: str, limit: int, what: str
    ) -> bytes | None:
        """
        The body at ``url`` (``dist`` or its ``.metadata``), with the
        credentials of ``dist``'s link if any; ``None`` for a 404 or 410.
        """
        try:
            response = await fetch_page(
                self.client,
                self.clock,
                url,
                limit=limit,
                connect_timeout=self.connect_timeout,
                idle_timeout=self.idle_timeout,
                auth=dist.credentials,
            )
        except UpstreamError as e:
            raise MetadataError(f"could not fetch {what}: {e}") from e
        if response.status in (404, 410):
            return None
        if response.status != 200:
            raise MetadataError(
                f"could not fetch {what}: {url} answered {response.status}"
            )
        return response.body


@frozen
class CachedMetadataSource:
    """
    Metadata from the proxy's file cache when it holds the file's
    ``.metadata`` (hash checked) or the wheel itself, else from another
    source: with a warm cache a resolution needs no upstream.

    The cache is only read: nothing is added, touched or evicted.

    :ivar cache: The proxy's file cache.
    :ivar index_name: The name of the index whose pages list the files.
    :ivar fallback: Where metadata the cache lacks comes from.
    :ivar run: Runs the reading of a cached wheel (blocking) away from the
        reactor thread.
    """

    cache: FileCache
    index_name: str
    fallback: MetadataSource
    run: Runner = run_now

    async def metadata(self, dist: DistFile) -> bytes:
        """
        ``dist``'s metadata, from the cache if it is there.

        :param dist: The file.
        """
        cached = await self._cached(dist)
        if cached is not None:
            return cached
        return await self.fallback.metadata(dist)

    async def _cached(self, dist: DistFile) -> bytes | None:
        """
        The metadata from the cache, or ``None`` if it is not there: a
        ``.metadata`` through the store (a shared store's too, without a
        local copy), a wheel's from its local copy, or from a temporary
        copy read through a shared store that holds it.
        """
        segments = local_segments(self.index_name, dist.url)
        if segments is None:
            return None
        if dist.core_metadata:
            name = segments[-1] + METADATA
            try:
                data = await read_bytes(self.cache, (*segments[:-1], name))
                if data is not None:
                    if isinstance(dist.core_metadata, Mapping):
                        check_hashes(data, dist.core_metadata, name)
                    return data
            except (OSError, ShortRead, MetadataError):
                pass
        if dist.filename.endswith(".whl"):
            try:
                return await self._from_wheel(segments, dist.filename)
            except (OSError, ShortRead, StoreUnreachable, MetadataUnavailable):
                pass
        return None

    async def _from_wheel(self, segments: Sequence[str], filename: str) -> bytes | None:
        """
        The metadata in a cached wheel: its local copy, else a temporary
        copy of the store's; ``None`` if neither holds it.
        """
        local = self.cache.path_for(segments)
        try:
            data: bytes = await self.run(lambda: _wheel_metadata(local, filename))
            return data
        except FileNotFoundError:
            pass
        if await self.cache.find(segments) is None:
            return None
        reader = self.cache.open(segments)
        if reader is None:
            return None
        fd, temp = tempfile.mkstemp(prefix="metadata-", suffix=".part")
        os.close(fd)
        try:
            await copy_to_path(reader, temp)
            copied: bytes = await self.run(
                lambda: _wheel_metadata(FilePath(temp), filename)
            )
            return copied
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temp)


def _wheel_metadata(path: FilePath[str], filename: str) -> bytes:
    """The metadata in the wheel at ``path`` (blocking)."""
    with path.open() as wheel:
        return metadata_from_wheel(wheel, filename)
