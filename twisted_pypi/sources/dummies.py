"""
Serving dummy projects: the page of a project named with ``--dummy`` lists
one generated placeholder wheel per version, and those wheels (and their
``.metadata``) are served from memory under ``/dummy/<project>/``.

For an "auto" dummy the versions (with their ``requires-python``, yank state
and upload time) come from the real project's page, cached like any page; for
explicit versions no upstream is asked at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from attrs import frozen
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from twisted.internet.defer import Deferred
from twisted.logger import Logger

from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.dummyspec import DummySpec
from twisted_pypi.core.links import METADATA, LinkPrefixes
from twisted_pypi.core.lookup import (
    CacheStatus,
    Lookup,
    LookupFailed,
    PageEntry,
    ProjectNotFound,
)
from twisted_pypi.core.model import DistFile, ProjectPage, Yanked
from twisted_pypi.core.names import version_of
from twisted_pypi.core.stats import Stats
from twisted_pypi.sources.dummywheel import DummyWheel, build_dummy_wheel

__all__ = ["DUMMY_PREFIX", "DummyVersion", "Dummies", "mirrored_versions"]

log = Logger()

#: The first segment of the URLs of dummy files.
DUMMY_PREFIX = "dummy"


@frozen
class DummyVersion:
    """
    One version a dummy offers, with what it mirrors of the real release.

    :ivar version: The version, as in the wheel filename.
    :ivar requires_python: The real release's ``requires-python``.
    :ivar yanked: ``False``, or the real release's yank (every file yanked).
    :ivar upload_time: The real release's earliest upload time.
    """

    version: str
    requires_python: str | None = None
    yanked: Yanked = False
    upload_time: str | None = None


def mirrored_versions(page: ProjectPage) -> list[DummyVersion]:
    """
    Every version a real project's page lists, oldest first, each with the
    ``requires-python``, yank state and upload time of its files.

    The ``requires-python`` is the most common valid one among the version's
    files (ties go to the first listed; invalid ones are ignored, as
    installers do).

    :param page: The real project's page.
    """
    files: dict[Version, list[DistFile]] = {}
    for dist in page.files:
        version = version_of(dist.filename, page.name)
        if version is not None:
            files.setdefault(version, []).append(dist)
    for text in page.versions or ():
        try:
            files.setdefault(Version(text), [])
        except InvalidVersion:
            continue
    return [_mirror(version, files[version]) for version in sorted(files)]


def _valid_specifier(requires_python: str | None) -> bool:
    """
    Whether ``requires_python`` is a non-empty, valid specifier set: installers
    ignore an invalid one, and a dummy cannot be built with it.
    """
    if not requires_python or not requires_python.strip():
        return False
    try:
        SpecifierSet(requires_python)
    except InvalidSpecifier:
        return False
    return True


def _mirror(version: Version, files: list[DistFile]) -> DummyVersion:
    requires = [f.requires_python for f in files if _valid_specifier(f.requires_python)]
    yanked: Yanked = False
    if files and all(f.yanked for f in files):
        yanked = files[0].yanked
    times = sorted(f.upload_time for f in files if f.upload_time)
    return DummyVersion(
        version=str(version),
        # The most common value, ties going to the first listed: never a
        # set's order, which changes between processes (and with it the
        # wheel's bytes and hash).
        requires_python=max(requires, key=requires.count) if requires else None,
        yanked=yanked,
        upload_time=times[0] if times else None,
    )


class Dummies:
    """
    The dummy projects, their pages and their wheels.
    """

    def __init__(
        self,
        specs: Iterable[DummySpec],
        pages: Callable[[str], Deferred[Lookup]],
        links: LinkPrefixes,
        ttl: float = 600.0,
        stats: Stats | None = None,
    ) -> None:
        """
        :param specs: The ``--dummy`` specifications.
        :param pages: Gives the real project's page, whose versions "auto"
            dummies mirror (the router of the indexes, without dummies).
        :param links: The prefixes of the links on the dummy pages.
        :param ttl: How long clients may keep a dummy page.
        :param stats: Where dummy wheels served, and the bytes they saved,
            are counted, if anywhere.
        """
        self._stats = stats
        self._specs = {spec.project: spec for spec in specs}
        self._pages = pages
        self._links = links
        self._index = IndexConfig(DUMMY_PREFIX, "", ttl)
        self._entries: dict[str, tuple[PageEntry | None, PageEntry]] = {}
        self._wheels: dict[tuple[str, str], DummyWheel] = {}

    @property
    def specs(self) -> Mapping[str, DummySpec]:
        """
        The dummy specifications by normalized project name.
        """
        return self._specs

    def offers(self, project: str) -> bool:
        """
        Whether ``project`` is a dummy (the router asks, and nothing else).

        :param project: The normalized project name.
        """
        return project in self._specs

    def get_project(self, project: str) -> Deferred[Lookup]:
        """
        The dummy page of ``project``.

        :param project: The normalized project name.
        :return: A lookup whose status is ``DUMMY``; fails with
            :class:`~twisted_pypi.core.lookup.ProjectNotFound` for a project
            that is no dummy, or with the real page's failure for an "auto"
            dummy whose real page cannot be had.
        """
        return Deferred.fromCoroutine(self._page(project))

    async def _page(self, project: str) -> Lookup:
        spec = self._specs.get(project)
        if spec is None:
            raise ProjectNotFound(project)
        source: PageEntry | None = None
        if spec.versions is not None:
            versions = [DummyVersion(v) for v in spec.versions]
        else:
            source = (await (await self._pages(project)).loaded()).entry
            if not isinstance(source.page, ProjectPage):
                raise ProjectNotFound(project)
            cached = self._entries.get(project)
            if cached is not None and cached[0] is source:
                return Lookup(cached[1], CacheStatus.DUMMY)
            versions = mirrored_versions(source.page)
        entry = self._build(spec, versions, source)
        self._entries[project] = (source, entry)
        return Lookup(entry, CacheStatus.DUMMY)

    def _build(
        self, spec: DummySpec, versions: list[DummyVersion], source: PageEntry | None
    ) -> PageEntry:
        files = []
        for offered in versions:
            try:
                wheel = build_dummy_wheel(
                    spec, offered.version, offered.requires_python
                )
            except ValueError as e:
                log.warn(
                    "No dummy for {project} {version}: {error}",
                    project=spec.project,
                    version=offered.version,
                    error=e,
                )
                continue
            self._wheels[spec.project, wheel.filename] = wheel
            files.append(
                DistFile(
                    filename=wheel.filename,
                    url=f"{DUMMY_PREFIX}:{spec.project}/{wheel.filename}",
                    hashes={"sha256": wheel.sha256},
                    requires_python=offered.requires_python,
                    yanked=offered.yanked,
                    core_metadata={"sha256": wheel.metadata_sha256},
                    size=wheel.size,
                    upload_time=offered.upload_time,
                )
            )
        page = ProjectPage(
            name=spec.project,
            files=tuple(files),
            versions=tuple(v.version for v in versions),
            api_version=(1, 1),
        )
        fetched = source.fetched_at if source is not None else 0.0
        return PageEntry(
            index=self._index,
            page=page,
            fetched_at=fetched,
            upstream_etag=None,
            file_link=lambda dist: self._links.file(
                f"{DUMMY_PREFIX}/{spec.project}/{dist.filename}"
            ),
            project_link=self._links.project,
        )

    def served(self, project: str, filename: str) -> None:
        """
        Count a dummy file sent to a client.  A wheel (not a ``.metadata``)
        stands in for a real file of its version: the smallest one the real
        page lists with a size (the least the client was spared), or one of
        unknown size when the page gave none (or the versions are explicit).

        :param project: The normalized project name.
        :param filename: The file sent.
        """
        if self._stats is None or filename.endswith(METADATA):
            return
        cached = self._entries.get(project)
        source = cached[0] if cached is not None else None
        version = version_of(filename, project)
        sizes: list[int] = []
        if version is not None and source is not None:
            assert isinstance(source.page, ProjectPage)
            sizes = [
                dist.size
                for dist in source.page.files
                if dist.size is not None
                and version_of(dist.filename, project) == version
            ]
        self._stats.dummy_served(min(sizes) if sizes else None)

    async def file(self, project: str, filename: str) -> bytes | None:
        """
        The bytes of a dummy wheel, or of its ``.metadata``.

        :param project: The normalized project name.
        :param filename: The wheel's filename, or it with ``.metadata``.
        :return: The bytes, or ``None`` if the dummy offers no such file.
        """
        if project not in self._specs:
            return None
        wheel_name = (
            filename[: -len(METADATA)] if filename.endswith(METADATA) else filename
        )
        wheel = self._wheels.get((project, wheel_name))
        if wheel is None:
            try:
                await self._page(project)
            except LookupFailed:
                return None
            wheel = self._wheels.get((project, wheel_name))
        if wheel is None:
            return None
        return wheel.metadata if filename.endswith(METADATA) else wheel.content
