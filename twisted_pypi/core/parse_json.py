# -*- test-case-name: tests.core.test_parse_json -*-
"""
Read PEP 691 JSON simple-index pages (project pages and the project list).

Unknown keys are kept (``extra``, ``meta_extra``) so that a page can be
served on with them; a file entry that cannot be served safely is dropped
(see :mod:`twisted_pypi.core.parse_common`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from twisted_pypi.core.jsonchunks import loads_object
from twisted_pypi.core.model import CoreMetadata, DistFile, ProjectPage
from twisted_pypi.core.names import normalize
from twisted_pypi.core.parse_common import (
    Drops,
    PageParseError,
    api_version,
    dedupe,
    https_url,
    link_problem,
    read_hashes,
    resolve_file_link,
)

__all__ = ["read_json_list", "read_json_page"]

_METADATA_KEYS = ("core-metadata", "dist-info-metadata", "data-dist-info-metadata")
#: JSON file keys read into :class:`DistFile` fields; never kept in ``extra``.
_FILE_KEYS = frozenset(
    ("filename", "url", "hashes", "requires-python", "yanked", "gpg-sig", "size")
    + ("upload-time", "provenance", *_METADATA_KEYS)
)
_PAGE_KEYS = frozenset(["name", "files", "meta", "versions", "project-status"])


def _load_json(
    body: bytes, key: str, convert: Callable[[Any], Any]
) -> tuple[dict[str, Any], tuple[int, int], dict[str, Any]]:
    """
    Decode a page, its (long) array ``key`` item by item (see
    :mod:`~twisted_pypi.core.jsonchunks`: the reactor thread is not held
    up), each item passed through ``convert`` as soon as it is read.

    :param body: A JSON response body.
    :param key: The top-level key of the page's list of entries.
    :param convert: Turns one entry into what the list keeps.
    :return: The top-level object, the API version and the other ``meta`` keys.
    :raise PageParseError: If the body is not a JSON object with a valid
        ``meta`` (when present).
    """
    try:
        page = loads_object(body, {key: convert})
    except (ValueError, RecursionError) as e:
        raise PageParseError(f"Invalid JSON: {e}") from e
    if not isinstance(page, dict):
        raise PageParseError("The JSON page is not an object")
    meta = page.get("meta", {})
    if not isinstance(meta, dict):
        raise PageParseError("meta is not an object")
    rest = {k: v for k, v in meta.items() if k != "api-version"}
    return page, api_version(meta.get("api-version")), rest


def _core_metadata(entry: Mapping[str, Any]) -> CoreMetadata:
    """
    :param entry: A JSON file object.
    :return: Its ``core-metadata``, falling back to the legacy
        ``dist-info-metadata`` and ``data-dist-info-metadata`` keys.
    """
    for key in _METADATA_KEYS:
        value = entry.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, Mapping):
            return read_hashes(value)
    return None


def _json_file(
    entry: object, page_url: str, project: str, drops: Drops
) -> DistFile | None:
    """
    :param entry: One item of a JSON page's ``files``.
    :param page_url: The page URL, for relative links.
    :param project: The page's project, normalized.
    :param drops: Where to record a dropped entry.
    :return: The file, or ``None`` if it was dropped.
    """
    if not isinstance(entry, dict):
        drops.add(repr(entry)[:100], "not an object")
        return None
    filename, raw_url = entry.get("filename"), entry.get("url")
    if not (isinstance(filename, str) and isinstance(raw_url, str)):
        drops.add(repr(filename), "no filename or url")
        return None
    url, credentials = resolve_file_link(page_url, raw_url)
    problem = link_problem(url, filename)
    if url is None or problem is not None:
        drops.add(raw_url, problem or "malformed URL")
        return None
    python, gpg_sig = entry.get("requires-python"), entry.get("gpg-sig")
    size, upload_time = entry.get("size"), entry.get("upload-time")
    yanked = entry.get("yanked")  # an empty reason still means yanked
    return DistFile(
        filename=filename,
        url=url,
        hashes=read_hashes(entry.get("hashes")),
        requires_python=python if isinstance(python, str) and python else None,
        yanked=(yanked or True) if isinstance(yanked, str) else bool(yanked),
        core_metadata=_core_metadata(entry),
        gpg_sig=gpg_sig if isinstance(gpg_sig, bool) else None,
        size=size if type(size) is int and size >= 0 else None,
        upload_time=upload_time if isinstance(upload_time, str) else None,
        provenance=https_url(entry.get("provenance")),
        extra={k: v for k, v in entry.items() if k not in _FILE_KEYS},
        credentials=credentials,
        project=project,
    )


def read_json_page(
    body: bytes, page_url: str, project: str, drops: Drops
) -> tuple[ProjectPage, int]:
    """
    Read a JSON project page.

    :param body: The response body.
    :param page_url: The page's URL; relative links resolve against it.
    :param project: The project's name (normalized here).
    :param drops: Where to record dropped links.
    :return: The page, and how many file entries it had.
    :raise PageParseError: If the body cannot be read as a project page.
    """
    name = normalize(project)
    page, version, meta_extra = _load_json(
        body, "files", lambda entry: _json_file(entry, page_url, name, drops)
    )
    entries = page.get("files")
    if not isinstance(entries, list):
        raise PageParseError("The JSON page has no files list")
    versions = page.get("versions")
    status = page.get("project-status")
    state, reason = (
        (status.get("status"), status.get("reason"))
        if isinstance(status, dict)
        else (None, None)
    )
    result = ProjectPage(
        name=name,
        files=dedupe(entries, drops),
        versions=(
            tuple(v for v in versions if isinstance(v, str))
            if isinstance(versions, list)
            else None
        ),
        api_version=version,
        status=state if isinstance(state, str) else None,
        status_reason=reason if isinstance(reason, str) else None,
        meta_extra=meta_extra,
        extra={k: v for k, v in page.items() if k not in _PAGE_KEYS},
    )
    return result, len(entries)


def read_json_list(body: bytes) -> tuple[list[str], tuple[int, int], dict[str, Any]]:
    """
    Read a JSON project list.

    :param body: The response body.
    :return: The names as listed (an entry without a string name is given by
        its ``repr``, to be dropped), the API version and the other ``meta``
        keys.
    :raise PageParseError: If the body cannot be read as a project list.
    """
    page, version, meta_extra = _load_json(body, "projects", _listed_name)
    projects = page.get("projects")
    if not isinstance(projects, list):
        raise PageParseError("The JSON page has no projects list")
    return projects, version, meta_extra


def _listed_name(entry: object) -> str:
    """
    :param entry: One item of a JSON project list's ``projects``.
    :return: Its name, or its ``repr`` (to be dropped) if it has none.
    """
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) else repr(entry)[:100]
