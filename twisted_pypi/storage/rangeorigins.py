# -*- test-case-name: tests.storage.test_rangeorigins -*-
"""
Which upstream origins honour ``Range`` requests, kept in the cache
directory so that a restarted proxy knows at once (whether a page may
advertise core metadata for wheels the proxy has not downloaded depends on
it, see :mod:`twisted_pypi.sources.metaadvert`) instead of asking again.

``<cache-dir>/range-origins.json`` (:data:`RANGES_FILE`) holds
``{"version": 1, "origins": {"https://files.example": true, ...}}``: an
origin is a scheme, a host and a port, nothing secret.  What is learned is
written whenever it changes (rarely: once per origin); a file that cannot
be read is taken as knowing nothing.
"""

from __future__ import annotations

import json

from twisted.python.filepath import FilePath

from twisted_pypi.storage.records import write_atomically

__all__ = ["RANGES_FILE", "read_range_origins", "record_range_origins"]

#: The file, under the cache directory.
RANGES_FILE = "range-origins.json"

_VERSION = 1


def read_range_origins(root: FilePath[str]) -> dict[str, bool]:
    """
    What ``root``'s :data:`RANGES_FILE` says of each origin.

    :param root: The cache directory.
    :return: Origin to whether it honours ranges; empty when there is no
        readable file (entries that are not ``http(s)`` origins with a
        boolean are left out).
    """
    try:
        data = json.loads(root.child(RANGES_FILE).getContent())
        origins = data["origins"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(origins, dict):
        return {}
    return {
        origin: honoured
        for origin, honoured in origins.items()
        if isinstance(origin, str)
        and origin.startswith(("http://", "https://"))
        and isinstance(honoured, bool)
    }


def record_range_origins(root: FilePath[str], known: dict[str, bool]) -> None:
    """
    Replace ``root``'s :data:`RANGES_FILE` with ``known`` (atomically).

    :param root: The cache directory (created if needed).
    :param known: Origin to whether it honours ranges.
    :raise OSError: If it cannot be written.
    """
    data = {"version": _VERSION, "origins": dict(sorted(known.items()))}
    write_atomically(
        root.child(RANGES_FILE), json.dumps(data, indent=1).encode() + b"\n"
    )
