"""
Project names, distribution filenames and the path segments that may reach the
file system.

Everything a client or an upstream page says passes through here before it is
used as part of a path, so these checks are the proxy's guard against reading or
writing outside its cache directory.

Two readings of a filename live here: the strict one of modern wheels and
sdists (:func:`project_of_filename`, for what the proxy itself accepts, such
as uploads), and the lenient one installers apply to what an index lists
(:func:`version_of`): legacy archives (``.tar.bz2``, ``.egg``...) and versions
packaging's filename parser refuses (``Pillow-3.1.0-rc1.tar.gz``) are split
with the project's name known, as pip does.
"""

from __future__ import annotations

import functools
import re

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

__all__ = [
    "ARCHIVE_SUFFIXES",
    "MAX_SEGMENT",
    "is_distribution_filename",
    "is_safe_segment",
    "is_valid_project_name",
    "normalize",
    "project_of_filename",
    "version_of",
]

_SEGMENT_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)

#: The longest path segment most file systems accept.
MAX_SEGMENT = 255

#: The source archive suffixes installers accept (pip's list), longest first
#: where one ends another.
ARCHIVE_SUFFIXES = (
    ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.lzma", ".tar.lz",
    ".tgz", ".tbz", ".tbz2", ".txz", ".tlz", ".tar", ".zip",
)  # fmt: skip


def normalize(name: str) -> NormalizedName:
    """
    The PEP 503 normalized form of a project name.

    :param name: A project name in any spelling.
    :return: The name lower-cased, with each run of ``-``, ``_`` and ``.``
        replaced by one ``-``.
    """
    return canonicalize_name(name)


def is_valid_project_name(name: str) -> bool:
    """
    Whether ``name`` is a valid project name (the core metadata rule).

    :param name: A name from a request or an index page.
    """
    return bool(_VALID_NAME.match(name)) and len(name) <= MAX_SEGMENT


def is_safe_segment(segment: str) -> bool:
    """
    Whether ``segment`` may be used as one component of a path in the cache.

    A safe segment is non-empty, at most :data:`MAX_SEGMENT` characters, is not
    ``.`` or ``..``, does not start with a dot (so it can never collide with
    the cache's own hidden files) and holds no slash, backslash or control
    character (NUL included).

    :param segment: One component, already percent-decoded.
    """
    return (
        0 < len(segment) <= MAX_SEGMENT
        and not segment.startswith(".")
        and _SEGMENT_FORBIDDEN.search(segment) is None
    )


@functools.lru_cache(maxsize=4096)
def project_of_filename(filename: str) -> NormalizedName | None:
    """
    The normalized project name of a wheel or sdist filename (remembered
    for the latest few thousand: every file request asks it).

    :param filename: A distribution filename.
    :return: The project it belongs to, or ``None`` if ``filename`` is not a
        valid wheel (``.whl``) or sdist (``.tar.gz``, ``.zip``) name or is not
        a safe path segment.
    """
    if not is_safe_segment(filename):
        return None
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0]
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


def is_distribution_filename(filename: str) -> bool:
    """
    Whether ``filename`` is a valid wheel or sdist filename that is safe to
    store.

    :param filename: The last path segment of a file URL, percent-decoded.
    """
    return project_of_filename(filename) is not None


def version_of(filename: str, project: str) -> Version | None:
    """
    The version of one of ``project``'s files, read as installers read what
    an index lists: the strict wheel and sdist rules first, then, for a wheel
    or a source archive of any suffix in :data:`ARCHIVE_SUFFIXES`, the text
    after the project's name (``Pillow-3.1.0-rc1.tar.gz`` is 3.1.0rc1 of
    ``pillow``).

    :param filename: A filename an index listed.
    :param project: The project whose page listed it.
    :return: The version, or ``None`` when the file is not one of
        ``project``'s wheels or source archives or its version cannot be
        parsed (an ``.egg``, an ``.exe``, ``foo-dev.tar.gz``): callers treat
        that as an unknown version.
    """
    wanted = canonicalize_name(project)
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        else:
            name, version = parse_sdist_filename(filename)
        if name == wanted:
            return version
    except ValueError:  # InvalidWheelFilename, InvalidSdistFilename, InvalidVersion
        pass
    return _lenient_version(filename, wanted)


def _lenient_version(filename: str, project: NormalizedName) -> Version | None:
    """
    :param filename: A wheel or source archive name.
    :param project: The normalized project it should belong to.
    :return: The version after the project's name (and before a wheel's
        tags), or ``None``.
    """
    wheel = filename.endswith(".whl")
    suffix = (
        ".whl"
        if wheel
        else next((s for s in ARCHIVE_SUFFIXES if filename.lower().endswith(s)), None)
    )
    if suffix is None:
        return None
    stem = filename[: -len(suffix)]
    # The name is every dash-separated part up to where it normalizes to the
    # project's (names may hold dashes; versions, in a wheel, may not).
    parts = stem.split("-")
    for cut in range(1, len(parts)):
        if canonicalize_name("-".join(parts[:cut])) == project:
            rest = parts[cut:]
            text = rest[0] if wheel else "-".join(rest)
            try:
                return Version(text)
            except InvalidVersion:
                return None
    return None
