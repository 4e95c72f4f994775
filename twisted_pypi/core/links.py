"""
The mapping between upstream file URLs and the proxy's own file URLs.

An upstream file ``https://files.pythonhosted.org/packages/ab/cd/x-1.0.whl``
listed by the index named ``pypi`` is served by the proxy at
``files/pypi/https/files.pythonhosted.org/packages/ab/cd/x-1.0.whl``: the
upstream path is kept whole under a per-upstream prefix, so the mapping can be
reversed by swapping the prefix, and the same segments name the file's place in
the cache.

A file is served on behalf of the project page that lists it, which the
proxy reads from the filename (``x-1.0.whl`` is ``x``'s).  When the filename
does not name that project (a legacy name such as ``x-1.0.egg``, a version
packaging cannot split, or another project's file), the link names the page
in a segment of its own after the index, ``files/pypi/~x/https/...``: the
cache place is the same, and the route knows which page to ask.

Credentials in an upstream link (``https://user:secret@host/...``) are never
part of the proxy's links, cache places or messages: :func:`split_credentials`
takes them out when a page is read, and only the upstream request puts them
back (:func:`with_credentials`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from attrs import frozen

from twisted_pypi.core.names import (
    NormalizedName,
    is_safe_segment,
    is_valid_project_name,
    normalize,
    project_of_filename,
)

__all__ = [
    "FILES_PREFIX",
    "LISTED_BY",
    "METADATA",
    "RELATIVE",
    "SCHEMES",
    "Credentials",
    "LinkPrefixes",
    "link_segments",
    "local_path",
    "local_segments",
    "metadata_segments",
    "redact",
    "split_credentials",
    "split_listed",
    "upstream_url",
    "with_credentials",
]

#: ``(user, password)`` taken out of an upstream link.
Credentials = tuple[str, str]

#: The first segment of every file URL the proxy serves.
FILES_PREFIX = "files"

#: What a PEP 658 core-metadata file's name adds to its distribution's.
METADATA = ".metadata"

#: Schemes an upstream file may use.
SCHEMES = ("https", "http")

#: ``scheme://`` (or ``//``) and the credentials before the host.
_CREDENTIALS = re.compile(r"((?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//)[^/?#\s]*@")

#: What starts the segment naming the page a file is served for (``~`` is
#: never percent-encoded, and no project name or scheme starts with it).
LISTED_BY = "~"


def local_segments(index_name: str, url: str) -> tuple[str, ...] | None:
    """
    The proxy's path segments (after :data:`FILES_PREFIX`) for an upstream file.

    :param index_name: The name of the index whose page listed the file.
    :param url: The absolute upstream URL of the file.
    :return: ``(index_name, scheme, host, *path)``, each segment safe to use
        in a path, or ``None`` when the URL cannot be mapped safely (another
        scheme, an unsafe segment, or a filename ending in :data:`METADATA`,
        which names the core metadata of the file without it).  Any
        credentials in the URL are not part of it.
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
    if path[-1].endswith(METADATA):
        return None
    return segments


def link_segments(
    index_name: str, project: str | None, url: str
) -> tuple[str, ...] | None:
    """
    The proxy's path segments (after :data:`FILES_PREFIX`) of the link to
    an upstream file on ``project``'s page.

    :param index_name: The name of the index whose page listed the file.
    :param project: The project whose page listed it, or ``None`` if unknown.
    :param url: The absolute upstream URL of the file.
    :return: :func:`local_segments`, with ``~<project>`` after the index name
        when the filename does not name ``project`` (see
        :func:`split_listed`); ``None`` when the URL cannot be mapped.
    """
    segments = local_segments(index_name, url)
    if segments is None or project is None:
        return segments
    name = normalize(project)
    if project_of_filename(segments[-1]) == name:
        return segments
    return (segments[0], LISTED_BY + name, *segments[1:])


def split_listed(
    segments: Sequence[str],
) -> tuple[tuple[str, ...], NormalizedName | None]:
    """
    Read the path of a ``/files/`` link (:func:`link_segments`).

    :param segments: The segments after :data:`FILES_PREFIX`.
    :return: The file's place (:func:`local_segments`) and the project whose
        page lists it: the one the link names, else the one its filename
        names (``None`` if neither does).
    """
    if len(segments) > 1 and segments[1].startswith(LISTED_BY):
        name = segments[1][len(LISTED_BY) :]
        place = (segments[0], *segments[2:])
        return place, normalize(name) if is_valid_project_name(name) else None
    place = tuple(segments)
    filename = place[-1] if place else ""
    return place, project_of_filename(filename.removesuffix(METADATA))


def split_credentials(url: str) -> tuple[str, Credentials | None]:
    """
    Take the credentials out of an upstream URL.

    :param url: An absolute URL, perhaps ``scheme://user:password@host/...``.
    :return: The URL without them and ``(user, password)`` percent-decoded
        (``None`` if it had none).
    """
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return url, None
    if user is None and password is None:
        return url, None
    netloc = parts.netloc.rpartition("@")[2]
    clean = urlunsplit(parts._replace(netloc=netloc))
    return clean, (unquote(user or ""), unquote(password or ""))


def with_credentials(url: str, credentials: Credentials | None) -> str:
    """
    The URL to request: ``url`` with ``credentials`` put back.

    :param url: A URL without credentials.
    :param credentials: What :func:`split_credentials` took out, or ``None``.
    """
    if credentials is None:
        return url
    parts = urlsplit(url)
    user, password = (quote(c, safe="") for c in credentials)
    netloc = f"{user}:{password}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def redact(text: str) -> str:
    """
    ``text`` (a URL, or a message holding one) with any URL credentials
    replaced by ``***``, for messages and logs.

    :param text: Any text.
    """
    return _CREDENTIALS.sub(r"\1***@", text)


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
