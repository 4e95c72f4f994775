"""
Local (private) indexes: the wheels and sdists of a place, a directory or a
bucket of an object store (see :mod:`twisted_pypi.storage.privateplace`),
served as an index of its own.

Hashes and ``.metadata`` (``requires-python`` read from the metadata) are
found once per file by the place.  A directory is looked at on every
request (its modification time tells whether anything changed, so a file
added by hand or by an upload appears on the next request); a bucket's
listing is kept for the place's TTL (the page TTL) and then refreshed in
the background, and a file uploaded through this node is listed at once
(:meth:`LocalIndex.added`).

The local index ranks above the remote ones, so it never says "not found" for
a project it cannot vouch for: while its place was never read, or when
every file of a project is unreadable, it answers with an error instead.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from twisted.internet.defer import Deferred, DeferredLock
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from twisted_pypi.core.config import IndexConfig, LocalConfig
from twisted_pypi.core.links import LinkPrefixes
from twisted_pypi.core.lookup import (
    CacheStatus,
    Lookup,
    PageEntry,
    ProjectNotFound,
    UpstreamUnavailable,
)
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.runner import Runner
from twisted_pypi.storage.dirplace import RACY_SECONDS, DirectoryPlace
from twisted_pypi.storage.interfaces import IFileReader
from twisted_pypi.storage.privateplace import (
    IPrivatePlace,
    LocalFile,
    PlaceListing,
    inspect_file,
)

__all__ = ["LOCAL_PREFIX", "RACY_SECONDS", "LocalFile", "LocalIndex", "inspect_file"]

log = Logger()

#: The first segment of the URLs of local files.
LOCAL_PREFIX = "local"


class LocalIndex:
    """
    A private index's place served as an index.

    :ivar place: Where the files are.
    :ivar publishing: Held while an upload through this node is checked
        against the place and published (one at a time per index).
    """

    def __init__(
        self,
        config: LocalConfig,
        links: LinkPrefixes,
        run: Runner | None = None,
        place: IPrivatePlace | None = None,
        clock: IReactorTime | None = None,
    ) -> None:
        """
        :param config: The index's name and place.
        :param links: The prefixes of the links on the index's pages.
        :param run: Runs hashing and archive reading away from the reactor
            (for the default directory place); by default at once.
        :param place: Where the files are; by default the directory
            ``config.path``.
        :param clock: Tells the time, for a place's listing TTL.
        """
        self.config = config
        self.place: IPrivatePlace = (
            place if place is not None else DirectoryPlace(config.path, run)
        )
        self.index = IndexConfig(config.name, self._url(), ttl=0.0)
        self._links = links
        self._now: Callable[[], float] = (
            clock.seconds if clock is not None else time.monotonic
        )
        self._files: dict[str, LocalFile] = {}
        self._entries: dict[str, PageEntry] = {}
        self._list_entry: PageEntry | None = None
        self._lock = DeferredLock()
        self.publishing = DeferredLock()
        self._scanned = False
        self._scanned_at = 0.0
        self._error: str | None = None
        self._unreadable: dict[str, str] = {}
        #: Files added through this node: when, and what.
        self._recent: dict[str, tuple[float, LocalFile]] = {}

    def _url(self) -> str:
        path = self.config.path
        return path if "://" in path else f"file://{path}/"

    @property
    def directory(self) -> str:
        """
        The directory (or ``s3://`` place) this index serves.
        """
        return self.config.path

    def get_project(self, project: str) -> Deferred[Lookup]:
        """
        The project's page; fails with
        :class:`~twisted_pypi.core.lookup.ProjectNotFound`, or with
        :class:`~twisted_pypi.core.lookup.UpstreamUnavailable` when the index
        cannot vouch that it lacks the project.

        :param project: The normalized project name.
        """
        return Deferred.fromCoroutine(self._project(project))

    def get_list(self) -> Deferred[Lookup]:
        """
        The projects the directory holds.
        """
        return Deferred.fromCoroutine(self._list())

    async def file(self, filename: str) -> LocalFile | None:
        """
        A file of this index, up to date with the directory.

        :param filename: The file's name.
        """
        await self.refresh()
        return self._files.get(filename)

    async def _project(self, project: str) -> Lookup:
        await self.refresh()
        entry = self._entries.get(project)
        if entry is None:
            files = sorted(
                (f for f in self._files.values() if f.project == project),
                key=lambda f: f.filename,
            )
            if not files:
                error = self._error or self._unreadable.get(project)
                if error is not None:
                    raise UpstreamUnavailable(
                        f"local index {self.config.name}: {error}"
                    )
                raise ProjectNotFound(project)
            page = ProjectPage(
                name=project,
                files=tuple(self._dist(f) for f in files),
                versions=None,
                api_version=(1, 1),
            )
            entry = self._entry(page)
            self._entries[project] = entry
        return Lookup(entry, CacheStatus.LOCAL)

    async def _list(self) -> Lookup:
        await self.refresh()
        if self._error is not None:
            raise UpstreamUnavailable(f"local index {self.config.name}: {self._error}")
        if self._list_entry is None:
            names = tuple(sorted({f.project for f in self._files.values()}))
            self._list_entry = self._entry(ProjectList(names=names))
        return Lookup(self._list_entry, CacheStatus.LOCAL)

    def _entry(self, page: ProjectPage | ProjectList) -> PageEntry:
        return PageEntry(
            index=self.index,
            page=page,
            fetched_at=0.0,
            upstream_etag=None,
            file_link=self.file_link,
            project_link=self._links.project,
        )

    def _dist(self, local: LocalFile) -> DistFile:
        return DistFile(
            filename=local.filename,
            url=f"{LOCAL_PREFIX}:{self.config.name}/{local.filename}",
            hashes={"sha256": local.sha256} if local.sha256 else {},
            requires_python=local.requires_python,
            core_metadata=(
                {"sha256": hashlib.sha256(local.metadata).hexdigest()}
                if local.metadata is not None and local.filename.endswith(".whl")
                else None
            ),
            size=local.size,
            upload_time=local.upload_time,
        )

    def file_link(self, dist: DistFile) -> str:
        """
        The proxy URL of one of this index's files, as a page links it.

        :param dist: A file of this index.
        """
        return self._links.file(f"{LOCAL_PREFIX}/{self.config.name}/{dist.filename}")

    def open(self, local: LocalFile) -> IFileReader:
        """
        Open one of this index's files for reading by ranges.

        :param local: A file this index listed.
        :raise OSError: If it is gone.
        """
        return self.place.open(local)

    def added(self, local: LocalFile) -> None:
        """
        A file was just published to the place (by an upload through this
        node): list it at once.

        :param local: The new file.
        """
        self._files = {**self._files, local.filename: local}
        self._recent[local.filename] = (self._now(), local)
        self._entries = {}
        self._list_entry = None

    async def refresh(self, force: bool = False) -> None:
        """
        Pick up files added, changed or removed since the last look; one look
        at a time, so that no request is answered from a half-done one.  A
        place with a TTL is looked at only when its listing is older than
        that, in the background unless it was never read.

        :param force: Look now, and wait for the look.
        """
        ttl = self.place.ttl
        if force or not ttl or not self._scanned:
            await self._lock.run(self._rescan)
        elif self._now() - self._scanned_at >= ttl and not self._lock.locked:
            self._scanned_at = self._now()
            self._lock.run(self._rescan).addErrback(
                lambda f: log.failure("Local index {name}", f, name=self.config.name)
            )

    async def _rescan(self) -> None:
        started = self._now()
        try:
            listing: PlaceListing | None = await self.place.scan(self._files)
        except OSError as e:
            log.warn("Local index {name}: {error}", name=self.config.name, error=e)
            if not self._scanned:
                self._error = f"cannot read {self.place.where}: {e.strerror or e}"
            return
        self._scanned_at = self._now()
        self._scanned = True
        self._error = None
        if listing is None:
            return
        self._unreadable = dict(listing.unreadable)
        files = dict(listing.files)
        # A file added while the place was being listed may be missing from
        # the listing: it stays listed.
        for name, (when, local) in list(self._recent.items()):
            if when < started:
                del self._recent[name]
            else:
                files.setdefault(name, local)
        if files != self._files:
            self._files = files
            self._entries = {}
            self._list_entry = None
