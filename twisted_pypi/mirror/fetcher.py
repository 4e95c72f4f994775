# -*- test-case-name: tests.mirror.test_fetcher,tests.mirror.test_warm -*-
"""
Filling the proxy's cache from outside a request: the pages, metadata and
files that ``pypiproxy warm`` fetches, through the same page caches,
router, :class:`~twisted_pypi.files.download.Downloads` and
:class:`~twisted_pypi.storage.filecache.FileCache` as the proxy (so hashes are checked,
nothing partial is kept, and files are committed with an atomic rename that a
proxy running on the same cache directory sees at once).

The file cache it is given must have no size limit: nothing fetched may be
evicted while the command runs.  With a shared store (``--store``) a file
the store holds is not downloaded again, even when this node's disk has no
copy of it: it is read through the store when its bytes are needed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import TypeVar

from twisted.internet.defer import Deferred, DeferredSemaphore
from twisted.python.filepath import FilePath

from twisted_pypi.core.links import local_segments
from twisted_pypi.core.lookup import Lookup
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.names import project_of_filename
from twisted_pypi.core.runner import Runner
from twisted_pypi.core.sizes import format_size
from twisted_pypi.files.download import DownloadError, Downloads, FileSpec
from twisted_pypi.files.metadata import (
    MetadataFiles,
    MetadataUnreachable,
    synthesizes,
)
from twisted_pypi.mirror.places import Fetched, FetchFailed, Key, LocalPlace
from twisted_pypi.mirror.warmmetadata import WarmMetadataSource
from twisted_pypi.resolve.resolver import Pin
from twisted_pypi.sources.local import LOCAL_PREFIX, LocalIndex
from twisted_pypi.sources.policyview import Answers
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.interfaces import StoreUnreachable
from twisted_pypi.storage.readout import copy_to_path
from twisted_pypi.upstream.client import UpstreamError

__all__ = [
    "CacheFiller",
]


T = TypeVar("T")


class CacheFiller:
    """
    Fetches pages, metadata and files into the cache for ``warm``.

    :ivar cache: The file cache.
    :ivar run: Runs blocking work in the reactor's thread pool.
    :ivar say: Told about every file fetched.
    :ivar metadata: The resolver's metadata source.
    :ivar fetched: How many files were downloaded.
    :ivar fetched_bytes: How many bytes they hold.
    :ivar cached: How many files asked for were cached already.
    :ivar problems: What could not be fetched, one sentence each.
    :ivar notes: What could not be fetched but is not needed.
    """

    def __init__(
        self,
        cache: FileCache,
        pages: Sequence[PageCache],
        local: Sequence[LocalIndex],
        router: Answers,
        downloads: Downloads,
        run: Runner,
        say: Callable[[str], object],
        concurrency: int = 4,
        synthesized: MetadataFiles | None = None,
    ) -> None:
        """
        :param cache: The file cache (one that never evicts).
        :param pages: The remote indexes' page caches, highest priority
            first.
        :param local: The local indexes.
        :param router: Answers for projects as the proxy does (under its
            policy: the pages hold only what a client may install).
        :param downloads: Downloads upstream files into ``cache``.
        :param run: Runs blocking work away from the reactor thread.
        :param say: Told about every file fetched.
        :param concurrency: How many files :meth:`fetch_pin` downloads at
            once.
        :param synthesized: Makes the ``.metadata`` of wheels whose index
            offers none (read from the wheel once it is cached).
        """
        self.cache = cache
        self.run = run
        self._pages = pages
        self._locals = {index.config.name: index for index in local}
        self._router = router
        self._downloads = downloads
        self._limit = DeferredSemaphore(concurrency)
        self._synthesized = synthesized
        self.say = say
        self.fetched = 0
        self.fetched_bytes = 0
        self.cached = 0
        self.problems: list[str] = []
        self.notes: list[str] = []
        self._counted: set[Key] = set()
        self.metadata = WarmMetadataSource(self)

    def describe_totals(self) -> str:
        """``3 files fetched (1.2 MiB), 4 already cached``."""
        return (
            f"{self.fetched} file{'s' if self.fetched != 1 else ''} fetched"
            f" ({format_size(self.fetched_bytes)}), {self.cached} already cached"
        )

    def page(self, project: str) -> Deferred[Lookup]:
        """
        A project's page, as the proxy's router finds it (and caches it): a
        dummy's page for a ``--dummy`` project.

        :param project: The normalized project name.
        """
        return self._router.get_project(project).addCallback(Lookup.loaded)

    async def locate(self, dist: DistFile) -> Key | LocalPlace | None:
        """
        Where a file a page listed lives: its place in the cache (named by
        the first remote index whose cached page lists it), a local index,
        or ``None`` when no index lists it.

        :param dist: The file.
        """
        if dist.url.startswith(LOCAL_PREFIX + ":"):
            name, _, filename = dist.url[len(LOCAL_PREFIX) + 1 :].partition("/")
            local = self._locals.get(name)
            return LocalPlace(local, filename) if local is not None else None
        project = dist.project or project_of_filename(dist.filename)
        if project is None:
            return None
        for pages in self._pages:
            segments = local_segments(pages.index.name, dist.url)
            if segments is None:
                continue
            entry = await pages.cached_project(project)
            if entry is not None and entry.file_at(segments) is not None:
                return segments
        return None

    async def _stored(self, key: Key) -> bool:
        """
        Whether the cache holds ``key``: on disk or, with a shared store,
        in the store (asked if its index does not know the file).
        """
        try:
            return await self.cache.find(key) is not None
        except StoreUnreachable:
            return False  # then the download says what is wrong

    async def fetch(self, spec: FileSpec) -> Key:
        """
        A file in the cache, downloaded unless the cache (or the shared
        store) has it already (one download per file however many ask).

        :param spec: The file.
        :return: Its key in the cache (see :meth:`read_with`).
        :raises FetchFailed: If it could not be downloaded.
        """
        if await self._stored(spec.segments):
            if spec.segments not in self._counted:
                self._counted.add(spec.segments)
                self.cached += 1
            return spec.segments
        download = self._downloads.start_or_join(spec)
        try:
            await download.when_done()
        except (UpstreamError, DownloadError) as e:
            raise FetchFailed(f"could not fetch {spec.url}: {e}") from None
        if spec.segments not in self._counted:
            self._counted.add(spec.segments)
            self.fetched += 1
            self.fetched_bytes += download.written
            self.say(
                f"fetched {spec.segments[-1]} ({format_size(download.written)});"
                f" {self.describe_totals()}"
            )
        return spec.segments

    async def read_with(
        self, fetched: Fetched, work: Callable[[FilePath[str]], T]
    ) -> T:
        """
        Run ``work`` on a fetched file's local path, away from the reactor
        thread: its path on disk, or a temporary copy read through a shared
        store when this node's disk has none (removed afterwards).

        :param fetched: What :meth:`fetch` or :meth:`fetch_pin` gave.
        :param work: Reads the file (blocking).
        :raises FetchFailed: If the cache no longer holds the file.
        """
        path = fetched if isinstance(fetched, FilePath) else self.cache.lookup(fetched)
        if path is not None:
            local = path
            result: T = await self.run(lambda: work(local))
            return result
        assert not isinstance(fetched, FilePath)
        reader = self.cache.open(fetched)
        if reader is None:
            raise FetchFailed(f"{fetched[-1]} is no longer in the cache")
        fd, temp = tempfile.mkstemp(prefix="warm-", suffix=".part")
        os.close(fd)
        try:
            await copy_to_path(reader, temp)
            copied: T = await self.run(lambda: work(FilePath(temp)))
            return copied
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(temp)

    def fetch_pin(self, pin: Pin) -> Deferred[Fetched | None]:
        """
        Fetch a pinned project's file and its ``.metadata``, waiting for a
        free download slot first.  Failures are added to :attr:`problems`.

        :param pin: The project's pin.
        :return: Fires with the file (see :meth:`read_with`; ``None`` for a
            dummy, or if it could not be fetched); never fails.
        """
        return self._limit.run(lambda: Deferred.fromCoroutine(self._pin(pin)))

    async def _pin(self, pin: Pin) -> Fetched | None:
        """Fetch a pin's files (see :meth:`fetch_pin`)."""
        dist = pin.dist
        if dist is None:
            return None
        place = await self.locate(dist)
        if isinstance(place, LocalPlace):
            return place.path
        if place is None:
            self.problems.append(f"{dist.filename}: no index lists it")
            return None
        if dist.upstream_metadata:
            try:
                await self.fetch(FileSpec.of_metadata(dist, place))
            except FetchFailed as e:
                # Offline, the page then offers no core metadata for the file,
                # and installers read it from the file itself.
                self.notes.append(f"{e} (installers will read the file instead)")
        try:
            fetched = await self.fetch(FileSpec.of_file(dist, place))
        except FetchFailed as e:
            self.problems.append(str(e))
            return None
        await self._synthesize(dist, place)
        return fetched

    async def _synthesize(self, dist: DistFile, place: Key) -> None:
        """
        Make sure the cache keeps the ``.metadata`` the proxy makes for a
        cached wheel whose index offers none (read from the wheel when it
        was committed, or now if it was cached before).
        """
        if self._synthesized is None or not synthesizes(dist):
            return
        try:
            await self._synthesized.obtain(dist, place, local_only=True)
        except MetadataUnreachable as e:
            self.notes.append(f"no core metadata for {dist.filename}: {e}")
