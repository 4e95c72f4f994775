"""
A cache directory holding one stored page, for tests of the commands that
read the cache alone (``export``, ``serve --offline``): without ``--index``
they use the indexes the cache holds.
"""

from __future__ import annotations

from twisted.python.filepath import FilePath

from twisted_pypi.core.config import DEFAULT_INDEX, index_name_for
from twisted_pypi.storage.pagestore import PAGES_AREA, PageStore, StoredPage

__all__ = ["fill_cache"]


def fill_cache(
    cache_dir: str,
    url: str = DEFAULT_INDEX,
    name: str | None = None,
    project: str = "demo",
    body: bytes = b"",
) -> str:
    """
    Store an HTML page of ``project`` from the index at ``url`` in
    ``cache_dir``, as the proxy would, without recording the index's URL.

    :param cache_dir: The cache directory (created if needed).
    :param url: The index's URL, ending in ``/``.
    :param name: The index's name; by default, the one ``--index URL``
        gives it.
    :param project: The project (normalized).
    :param body: The page (by default, empty).
    :return: The index's name.
    """
    name = name or index_name_for(url)
    pages = PageStore.on_disk(FilePath(cache_dir).child(PAGES_AREA))
    page = StoredPage(f"{url}{project}/", body, "text/html", None, 0.0)
    pages.save(name, project, page)
    return name
