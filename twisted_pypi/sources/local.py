"""
Local indexes: a directory of wheels and sdists served as an index of its own.

Hashes are computed and ``.metadata`` extracted from wheels (``requires-python``
read from the metadata) once per file, in a thread; a file added to the
directory (by hand or by an upload) appears on the next request, because the
directory's modification time is checked on every request (and the directory
looked at again while it or a file in it changed in the last seconds: a copy
may be in progress, and a change may fall in the same timestamp tick).

The local index ranks above the remote ones, so it never says "not found" for
a project it cannot vouch for: while its directory was never read, or when
every file of a project is unreadable, it answers with an error instead.
"""

from __future__ import annotations

import email.parser
import hashlib
import os
import time
import zlib
from collections.abc import Callable
from datetime import datetime, timezone

from attrs import frozen
from twisted.internet.defer import Deferred, DeferredLock
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
from twisted_pypi.core.metadata import (
    MetadataUnavailable,
    metadata_from_sdist,
    metadata_from_wheel,
)
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.names import project_of_filename

__all__ = ["LOCAL_PREFIX", "RACY_SECONDS", "LocalFile", "LocalIndex", "inspect_file"]

log = Logger()

#: The first segment of the URLs of local files.
LOCAL_PREFIX = "local"


#: A directory whose newest change is younger than this is looked at again on
#: the next request.
RACY_SECONDS = 2.0

#: Runs blocking work (hashing, reading archives) away from the reactor.
Runner = Callable[[Callable[[], object]], Deferred[object]]


@frozen
class LocalFile:
    """
    One distribution file of a local index.

    :ivar filename: The file's name.
    :ivar project: Its normalized project name.
    :ivar size: Its size in bytes.
    :ivar mtime_ns: Its modification time, to notice a changed file.
    :ivar sha256: Its sha256, hex.
    :ivar metadata: The core metadata (``METADATA`` of a wheel, ``PKG-INFO``
        of an sdist), or ``None`` if it could not be read.
    :ivar requires_python: ``Requires-Python`` from the metadata.
    """

    filename: str
    project: str
    size: int
    mtime_ns: int
    sha256: str
    metadata: bytes | None
    requires_python: str | None

    @property
    def upload_time(self) -> str:
        """
        The modification time in the PEP 700 form.
        """
        moment = datetime.fromtimestamp(self.mtime_ns / 1e9, tz=timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def inspect_file(path: str, filename: str, project: str) -> LocalFile:
    """
    Hash a distribution file and read its metadata (blocking).

    :param path: The file.
    :param filename: Its name.
    :param project: Its normalized project name.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        while chunk := f.read(1 << 20):
            digest.update(chunk)
        f.seek(0)
        metadata: bytes | None
        try:
            if filename.endswith(".whl"):
                metadata = metadata_from_wheel(f, filename)
            else:
                metadata = metadata_from_sdist(f.read(), filename)
        except (MetadataUnavailable, zlib.error) as e:
            log.warn("No metadata in {path}: {error}", path=path, error=e)
            metadata = None
    requires = None
    if metadata is not None:
        parsed = email.parser.BytesParser().parsebytes(metadata, headersonly=True)
        value = parsed.get("Requires-Python")
        requires = " ".join(str(value).split()) or None if value else None
    return LocalFile(
        filename=filename,
        project=project,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        sha256=digest.hexdigest(),
        metadata=metadata,
        requires_python=requires,
    )


class LocalIndex:
    """
    A directory served as an index.
    """

    def __init__(
        self, config: LocalConfig, links: LinkPrefixes, run: Runner | None = None
    ) -> None:
        """
        :param config: The index's name and directory.
        :param links: The prefixes of the links on the index's pages.
        :param run: Runs hashing and archive reading away from the reactor;
            by default at once.
        """
        self.config = config
        self.index = IndexConfig(config.name, f"file://{config.path}/", ttl=0.0)
        self._links = links
        self._run = run
        self._dir_mtime: int | None = None
        self._files: dict[str, LocalFile] = {}
        self._entries: dict[str, PageEntry] = {}
        self._list_entry: PageEntry | None = None
        self._lock = DeferredLock()
        self._scanned = False
        self._error: str | None = None
        self._unreadable: dict[str, str] = {}

    @property
    def directory(self) -> str:
        """
        The directory this index serves.
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
            hashes={"sha256": local.sha256},
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

    async def refresh(self) -> None:
        """
        Pick up files added, changed or removed since the last look; one look
        at a time, so that no request is answered from a half-done one.
        """
        await self._lock.run(self._rescan)

    async def _rescan(self) -> None:
        try:
            mtime = os.stat(self.config.path).st_mtime_ns
            if mtime == self._dir_mtime:
                return
            entries = list(os.scandir(self.config.path))
        except OSError as e:
            log.warn("Local index {name}: {error}", name=self.config.name, error=e)
            if not self._scanned:
                self._error = f"cannot read {self.config.path}: {e.strerror or e}"
            return
        found: dict[str, LocalFile] = {}
        unreadable: dict[str, str] = {}
        newest = mtime
        for entry in entries:
            project = project_of_filename(entry.name)
            if project is None:
                continue
            try:
                if not entry.is_file():
                    continue
                st = entry.stat()
                newest = max(newest, st.st_mtime_ns)
                known = self._files.get(entry.name)
                if known is not None and (known.size, known.mtime_ns) == (
                    st.st_size,
                    st.st_mtime_ns,
                ):
                    found[entry.name] = known
                    continue
                found[entry.name] = await self._inspect(entry.path, entry.name, project)
            except OSError as e:
                log.warn("Cannot read {path}: {error}", path=entry.path, error=e)
                unreadable[project] = f"cannot read {entry.name}: {e.strerror or e}"
        # A change this recent may go on (a copy in progress) or be followed by
        # one within the same timestamp tick: look again next time.
        racy = time.time_ns() - newest < RACY_SECONDS * 1e9
        self._dir_mtime = None if racy else mtime
        self._scanned = True
        self._error = None
        self._unreadable = unreadable
        if found != self._files:
            self._files = found
            self._entries = {}
            self._list_entry = None

    async def _inspect(self, path: str, filename: str, project: str) -> LocalFile:
        if self._run is None:
            return inspect_file(path, filename, project)
        result = await self._run(lambda: inspect_file(path, filename, project))
        assert isinstance(result, LocalFile)
        return result
