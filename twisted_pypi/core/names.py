"""
Project names, distribution filenames and the path segments that may reach the
file system.

Everything a client or an upstream page says passes through here before it is
used as part of a path, so these checks are the proxy's guard against reading or
writing outside its cache directory.
"""

from __future__ import annotations

import re

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

__all__ = [
    "MAX_SEGMENT",
    "is_distribution_filename",
    "is_safe_segment",
    "is_valid_project_name",
    "normalize",
    "project_of_filename",
]

_SEGMENT_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)

#: The longest path segment most file systems accept.
MAX_SEGMENT = 255


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


def project_of_filename(filename: str) -> NormalizedName | None:
    """
    The normalized project name of a wheel or sdist filename.

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
