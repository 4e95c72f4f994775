"""
The mapping between upstream file URLs and the proxy's own file URLs.

An upstream file ``https://files.pythonhosted.org/packages/ab/cd/x-1.0.whl``
listed by the index named ``pypi`` is served by the proxy at
``files/pypi/https/files.pythonhosted.org/packages/ab/cd/x-1.0.whl``: the
upstream path is kept whole under a per-upstream prefix, so the mapping can be
reversed by swapping the prefix, and the same segments name the file's place in
the cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, unquote, urlsplit

from attrs import frozen

from twisted_pypi.core.names import is_distribution_filename, is_safe_segment, normalize

__all__ = [
    "FILES_PREFIX",
    "METADATA",
    "RELATIVE",
    "SCHEMES",
    "LinkPrefixes",
    "local_path",
    "local_segments",
    "metadata_segments",
    "upstream_url",
]

#: The first segment of every file URL the proxy serves.
FILES_PREFIX = "files"

#: What a PEP 658 core-metadata file's name adds to its distribution's.
METADATA = ".metadata"

#: Schemes an upstream file may use.
SCHEMES = ("https", "http")


def local_segments(index_name: str, url: str) -> tuple[str, ...] | None:
    """
    The proxy's path segments (after :data:`FILES_PREFIX`) for an upstream file.

    :param index_name: The name of the index whose page listed the file.
    :param url: The absolute upstream URL of the file.
    :return: ``(index_name, scheme, host, *path)``, each segment safe to use
        in a path, or ``None`` when the URL cannot be mapped safely (another
        scheme, an unsafe segment, or a last segment that is not a
        distribution filename).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in SCHEMES or not host:
        return None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    path = [unquote(s) for s in parts.path.split("/")[1:]]
    segments = (index_name, parts.scheme, netloc, *path)
    if not path or not all(is_safe_segment(s) for s in segments):
        return None
    if not is_distribution_filename(path[-1]):
        return None
    return segments


def upstream_url(segments: Sequence[str]) -> str | None:
    """
    The upstream URL that :func:`local_segments` mapped to ``segments``.

    :param segments: ``(index_name, scheme, host, *path)``.
    :return: The upstream URL (without any query), or ``None`` if the segments
        are not of that form.
    """
    if len(segments) < 4 or segments[1] not in SCHEMES:
        return None
    path = "/".join(quote(s, safe="") for s in segments[3:])
    return f"{segments[1]}://{segments[2]}/{path}"


def local_path(segments: Sequence[str]) -> str:
    """
    The URL path, relative to the proxy's root, of a file.

    :param segments: ``(index_name, scheme, host, *path)``.
    :return: ``files/<segments, percent-encoded>``, with no leading slash.
    """
    return "/".join([FILES_PREFIX, *(quote(s, safe="") for s in segments)])


def metadata_segments(segments: Sequence[str]) -> tuple[str, ...]:
    """
    The place of a file's PEP 658 ``.metadata`` beside the file's own.

    :param segments: The file's path segments.
    """
    return (*segments[:-1], segments[-1] + METADATA)


@frozen
class LinkPrefixes:
    """
    What goes before the links of the pages the proxy serves: absolute under
    the proxy's external URL when it has one, else relative.

    :ivar files: Before a file's path from the proxy's root (``files/...``,
        ``local/...``, ``dummy/...``) on a project page at
        ``simple/<project>/``.
    :ivar projects: Before ``<project>/`` on the project list at
        ``simple/``.
    """

    files: str = "../../"
    projects: str = ""

    @classmethod
    def for_base_url(cls, base_url: str | None) -> LinkPrefixes:
        """
        The prefixes of a proxy reached at ``base_url``.

        :param base_url: The proxy's external URL (ending in ``/``), or
            ``None`` for relative links.
        """
        if base_url is None:
            return cls()
        return cls(files=base_url, projects=base_url + "simple/")

    def file(self, path: str) -> str:
        """
        The link from a project page to a file.

        :param path: The file's path from the proxy's root, no leading slash.
        """
        return self.files + path

    def project(self, name: str) -> str:
        """
        The link from the project list to a project's page.

        :param name: The project's name (normalized here).
        """
        return f"{self.projects}{normalize(name)}/"


#: The prefixes of a proxy with no external URL: relative links.
RELATIVE = LinkPrefixes()
