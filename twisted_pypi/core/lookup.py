"""
The shared vocabulary of page lookups: what a page source answers
(:class:`Lookup`), how it relates to the cache (:class:`CacheStatus`), a cached
page (:class:`PageEntry`) and its ready representations (:class:`Rendition`).
"""

from __future__ import annotations

import enum
import gzip
from collections.abc import Callable
from hashlib import blake2b

from attrs import define, field, frozen

from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.links import local_segments
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage

#: The key under which the project list is cached (no project name has "_").
LIST_KEY = "_list"


class CacheStatus(enum.Enum):
    """
    How a response relates to the cache; sent as ``X-Cache``.
    """

    HIT = "HIT"
    MISS = "MISS"
    STALE = "STALE"
    DUMMY = "DUMMY"
    LOCAL = "LOCAL"


@define
class Rendition:
    """
    One representation of a page, ready to send; the gzipped form is made on
    first use.

    :ivar body: The uncompressed bytes.
    :ivar etag: A strong, quoted ETag of ``body``.
    """

    body: bytes
    etag: str
    _gzipped: bytes | None = None

    @classmethod
    def of(cls, body: bytes) -> Rendition:
        """
        Tag ``body``.

        :param body: The bytes of the representation.
        """
        return cls(body, f'"{blake2b(body, digest_size=12).hexdigest()}"')

    @property
    def gzipped(self) -> bytes:
        """
        ``body``, gzip-compressed (computed once).
        """
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped

    @property
    def gzip_etag(self) -> str:
        """
        The ETag of :attr:`gzipped`.
        """
        return self.etag[:-1] + '-gz"'


@define
class PageEntry:
    """
    A cached page (a project's or the project list) with what it was fetched
    with.

    :ivar index: The index the page came from.
    :ivar page: The parsed page.
    :ivar fetched_at: When the upstream last confirmed it, in clock seconds.
    :ivar upstream_etag: The upstream's ETag, for revalidation.
    """

    index: IndexConfig
    page: ProjectPage | ProjectList
    fetched_at: float
    upstream_etag: str | None
    _renderer: Callable[[PageEntry, bool], bytes]
    weight: int = 0
    _renditions: dict[bool, Rendition] = field(factory=dict)
    _files: dict[tuple[str, ...], DistFile] | None = None

    def rendition(self, as_json: bool) -> Rendition:
        """
        The JSON or HTML representation, rendered on first use.

        :param as_json: ``True`` for JSON, ``False`` for HTML.
        """
        rendition = self._renditions.get(as_json)
        if rendition is None:
            rendition = Rendition.of(self._renderer(self, as_json))
            self._renditions[as_json] = rendition
        return rendition

    def file_at(self, segments: tuple[str, ...]) -> DistFile | None:
        """
        The file this page lists at the proxy path ``segments``.

        :param segments: ``(index_name, scheme, host, *path)``.
        """
        if self._files is None:
            files = self.page.files if isinstance(self.page, ProjectPage) else ()
            self._files = {}
            for f in files:
                key = local_segments(self.index.name, f.url)
                if key is not None:
                    self._files.setdefault(key, f)
        return self._files.get(segments)


@frozen
class Lookup:
    """
    The outcome of asking the cache for a page.

    :ivar entry: The page, or ``None`` when there is none to serve.
    :ivar status: How the answer relates to the cache.
    :ivar not_found: The upstream says the page does not exist.
    :ivar error: Why the upstream could not be asked, when it could not.
    :ivar timeout: Whether that error was a timeout.
    """

    entry: PageEntry | None
    status: CacheStatus = CacheStatus.MISS
    not_found: bool = False
    error: str | None = None
    timeout: bool = False
