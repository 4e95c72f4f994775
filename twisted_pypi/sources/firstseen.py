# -*- test-case-name: tests.sources.test_firstseen -*-
"""
When the proxy first saw a file, for the files an index lists without an
upload time (HTML-only indexes, the PyTorch index): their age counts from
the first time a page of that index listed them.

The times are kept in the page's record beside the upstream body (see
:attr:`~twisted_pypi.storage.pagestore.StoredPage.first_seen`), by
filename: a file keeps its time across restarts and re-fetches for as long
as the page lists it; a file the page lists for the first time (or again,
after a page without it) is first seen at the fetch.  Files with an upload
time get none.  These functions are blocking for big pages (a step per
file): the page cache runs them in its runner.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from attrs import evolve

from twisted_pypi.core.model import ProjectPage

__all__ = ["first_seen_times", "known_times", "utc_stamp", "with_first_seen"]


def utc_stamp(seconds: float) -> str:
    """
    A moment as the model writes times: ISO 8601 in UTC, ending in ``Z``
    (``2026-01-02T03:04:05Z``).

    :param seconds: Seconds since the epoch (a clock's reading).
    """
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def first_seen_times(
    page: ProjectPage, previous: Mapping[str, str], now: str
) -> tuple[dict[str, str], int]:
    """
    The first-seen time of every file ``page`` lists without an upload time.

    :param page: A page just fetched from the upstream.
    :param previous: The times the page's previous record kept, by filename.
    :param now: The moment of the fetch (see :func:`utc_stamp`).
    :return: The times by filename (a file of ``previous`` keeps its time,
        any other is first seen ``now``), and how many were first seen now.
    """
    times: dict[str, str] = {}
    new = 0
    for dist in page.files:
        if dist.upload_time is not None or dist.filename in times:
            continue
        seen = previous.get(dist.filename)
        if seen is None:
            seen = now
            new += 1
        times[dist.filename] = seen
    return times, new


def with_first_seen(page: ProjectPage, times: Mapping[str, str]) -> ProjectPage:
    """
    ``page`` with :attr:`~twisted_pypi.core.model.DistFile.first_seen` set on
    each file without an upload time that ``times`` names.

    :param page: A parsed page.
    :param times: First-seen times by filename, as a record keeps them.
    """
    if not times:
        return page
    files = tuple(
        evolve(dist, first_seen=times[dist.filename])
        if dist.upload_time is None and dist.filename in times
        else dist
        for dist in page.files
    )
    return evolve(page, files=files)


def known_times(page: ProjectPage) -> dict[str, str]:
    """
    The first-seen times a parsed page carries, by filename (what its record
    keeps for the files it still lists).

    :param page: A page read with :func:`with_first_seen`.
    """
    return {
        dist.filename: dist.first_seen
        for dist in page.files
        if dist.first_seen is not None
    }
