# -*- test-case-name: tests.core.test_render -*-
"""
Render the model as the proxy serves it: PEP 503 HTML and PEP 691 JSON.

The caller decides where files live: every renderer takes a ``link``
callable giving the (already rewritten) URL of a file or project page.

Both formats claim the API version :meth:`ProjectPage.served_api_version`
allows, carry every file field the other format can express, and never emit
the JSON key ``dist-info-metadata`` (which crashes pip 22.3 to 23.1).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from html import escape
from typing import Any

from twisted_pypi.core.jsonchunks import SLICE, dumps_array, encode_string, join_array
from twisted_pypi.core.model import (
    NEWEST_API_VERSION,
    DistFile,
    ProjectList,
    ProjectPage,
)
from twisted_pypi.core.names import normalize

__all__ = [
    "best_hash",
    "no_file_link",
    "render_list_html",
    "render_list_json",
    "render_project_html",
    "render_project_json",
]

#: Hash names preferred for the single HTML hash: sha256 (what PyPI and every
#: installer use), then the others pip understands from strongest to weakest,
#: then the remaining guaranteed algorithms.
_HASH_PREFERENCE = tuple(
    name
    for name in (
        ("sha256", "sha512", "sha384", "sha224", "sha1", "md5")
        + ("sha3_512", "sha3_384", "sha3_256", "sha3_224", "blake2b", "blake2s")
    )
    if name in hashlib.algorithms_guaranteed
)

#: JSON file keys the renderer writes itself (or must never write); ``extra``
#: cannot override them.
_FILE_KEYS = frozenset(
    ("filename", "url", "hashes", "requires-python", "yanked", "gpg-sig", "size")
    + ("upload-time", "provenance", "core-metadata", "data-dist-info-metadata")
    + ("dist-info-metadata",)
)
_PAGE_KEYS = frozenset(["meta", "name", "files", "versions", "project-status"])


def best_hash(hashes: Mapping[str, str]) -> tuple[str, str] | None:
    """
    The one hash to put in an HTML link.

    :param hashes: Hash name to hex digest.
    :return: ``(name, hexdigest)`` for ``sha256`` if present, else the
        strongest other algorithm from :data:`hashlib.algorithms_guaranteed`;
        ``None`` if there is none.
    """
    for name in _HASH_PREFERENCE:
        if name in hashes:
            return name, hashes[name]
    return None


def _version(version: tuple[int, int]) -> str:
    """
    :param version: ``(major, minor)``.
    :return: ``"major.minor"``.
    """
    return f"{version[0]}.{version[1]}"


def _head(version: tuple[int, int], metas: list[tuple[str, str]], title: str) -> str:
    """
    The start of an HTML page, up to and including ``<body>``.

    :param version: The API version to claim.
    :param metas: Further ``<meta>`` names and contents.
    :param title: The page title, unescaped.
    :return: The HTML.
    """
    lines = [
        "<!DOCTYPE html>\n<html>\n  <head>\n",
        f'    <meta name="pypi:repository-version" content="{_version(version)}">\n',
    ]
    for name, content in metas:
        lines.append(f'    <meta name="{escape(name)}" content="{escape(content)}">\n')
    lines.append(f"    <title>{escape(title)}</title>\n  </head>\n  <body>\n")
    return "".join(lines)


def _html_anchor(f: DistFile, url: str) -> str:
    """
    One file's anchor.

    :param f: The file.
    :param url: Its URL as served, without fragment.
    :return: The ``<a>`` element and a ``<br>``.
    """
    chosen = best_hash(f.hashes)
    if chosen is not None:
        url = f"{url}#{chosen[0]}={chosen[1]}"
    attrs = [f'<a href="{escape(url)}"']
    if f.requires_python is not None:
        attrs.append(f'data-requires-python="{escape(f.requires_python)}"')
    if f.yanked is not False:
        reason = "" if f.yanked is True else str(f.yanked)
        attrs.append(f'data-yanked="{escape(reason)}"')
    if f.core_metadata is not None and f.core_metadata is not False:
        value = "true"
        if not isinstance(f.core_metadata, bool):
            metadata_hash = best_hash(f.core_metadata)
            if metadata_hash is not None:
                value = escape(f"{metadata_hash[0]}={metadata_hash[1]}")
        attrs.append(f'data-core-metadata="{value}"')
        attrs.append(f'data-dist-info-metadata="{value}"')
    if f.gpg_sig is not None:
        attrs.append(f'data-gpg-sig="{"true" if f.gpg_sig else "false"}"')
    if f.provenance is not None:
        attrs.append(f'data-provenance="{escape(f.provenance)}"')
    return f"    {' '.join(attrs)}>{escape(f.filename)}</a><br>\n"


def _encode_html(parts: Iterable[str]) -> bytes:
    """
    :param parts: The pieces of an HTML page, made as they are needed.
    :return: The page as UTF-8; characters UTF-8 cannot encode (lone
        surrogates read from JSON escapes) become character references.
        Encoded a slice of pieces at a time, so that no single step holds
        the GIL for long.
    """
    encoded: list[bytes] = []
    chunk: list[str] = []
    for part in parts:
        chunk.append(part)
        if len(chunk) == SLICE:
            encoded.append("".join(chunk).encode("utf-8", "xmlcharrefreplace"))
            chunk = []
    encoded.append("".join(chunk).encode("utf-8", "xmlcharrefreplace"))
    return b"".join(encoded)


def _encode_json(
    head: dict[str, Any], key: str, array: str, tail: dict[str, Any]
) -> bytes:
    """
    The compact JSON of ``{**head, key: array, **tail}``.

    :param head: The keys before the array (not empty).
    :param key: The array's key.
    :param array: The array's JSON, made a slice at a time (see
        :mod:`~twisted_pypi.core.jsonchunks`).
    :param tail: The keys after it.
    :return: Compact JSON; non-ASCII is escaped, so any string (even a lone
        surrogate) encodes.
    """
    text = (
        _dumps(head)[:-1]
        + f",{encode_string(key)}:"
        + array
        + ("," + _dumps(tail)[1:] if tail else "}")
    )
    return text.encode("ascii")


def _dumps(value: dict[str, Any]) -> str:
    """:return: ``value`` as compact JSON."""
    return json.dumps(value, separators=(",", ":"))


def _meta(version: tuple[int, int], extra: Mapping[str, Any]) -> dict[str, Any]:
    """
    :param version: The API version to claim.
    :param extra: Further ``meta`` keys; they cannot override ``api-version``.
    :return: The JSON ``meta`` object.
    """
    meta: dict[str, Any] = {"api-version": _version(version)}
    meta.update((k, v) for k, v in extra.items() if k != "api-version")
    return meta


def render_project_html(page: ProjectPage, link: Callable[[DistFile], str]) -> bytes:
    """
    Render a project page as PEP 503 HTML.

    :param page: The page.
    :param link: Gives the URL (without fragment) to serve for a file.
    :return: The UTF-8 HTML document.
    """
    metas = []
    if page.status is not None:
        metas.append(("pypi:project-status", page.status))
    if page.status_reason is not None:
        metas.append(("pypi:project-status-reason", page.status_reason))
    title = f"Links for {page.name}"
    head = _head(page.served_api_version(), metas, title)
    return _encode_html(
        _framed(
            head + f"    <h1>{escape(title)}</h1>\n",
            (_html_anchor(f, link(f)) for f in page.files),
        )
    )


def _framed(head: str, body: Iterable[str]) -> Iterator[str]:
    """:return: ``head``, the pieces of ``body``, then the end of the page."""
    yield head
    yield from body
    yield "  </body>\n</html>\n"


def _json_file(f: DistFile, url: str) -> dict[str, Any]:
    """
    One file's JSON object.

    :param f: The file.
    :param url: Its URL as served.
    :return: The object: ``filename``, ``url``, ``hashes``, the fields that
        are set, then ``extra`` (which cannot override any of them).
    """
    obj: dict[str, Any] = {"filename": f.filename, "url": url, "hashes": dict(f.hashes)}
    if f.requires_python is not None:
        obj["requires-python"] = f.requires_python
    if f.yanked is not False:
        obj["yanked"] = f.yanked or True
    if f.core_metadata is not None:
        value = f.core_metadata
        if not isinstance(value, bool):
            value = dict(value)
        obj["core-metadata"] = value
        obj["data-dist-info-metadata"] = value
    if f.gpg_sig is not None:
        obj["gpg-sig"] = f.gpg_sig
    if f.size is not None:
        obj["size"] = f.size
    if f.upload_time is not None:
        obj["upload-time"] = f.upload_time
    if f.provenance is not None:
        obj["provenance"] = f.provenance
    obj.update((k, v) for k, v in f.extra.items() if k not in _FILE_KEYS)
    return obj


def render_project_json(page: ProjectPage, link: Callable[[DistFile], str]) -> bytes:
    """
    Render a project page as PEP 691 JSON.

    :param page: The page.
    :param link: Gives the URL to serve for a file.
    :return: The JSON document.
    """
    head: dict[str, Any] = {
        "meta": _meta(page.served_api_version(), page.meta_extra),
        "name": page.name,
    }
    tail: dict[str, Any] = {}
    if page.versions is not None:
        tail["versions"] = list(page.versions)
    if page.status is not None:
        status = {"status": page.status}
        if page.status_reason is not None:
            status["reason"] = page.status_reason
        tail["project-status"] = status
    tail.update((k, v) for k, v in page.extra.items() if k not in _PAGE_KEYS)
    files = (_json_file(f, link(f)) for f in page.files)
    return _encode_json(head, "files", dumps_array(files), tail)


def _list_version(lst: ProjectList) -> tuple[int, int]:
    """
    :param lst: A project list.
    :return: The API version it may claim: what the upstream declared, capped
        at what this proxy knows (no later version adds a mandatory field to
        the project list).
    """
    return min(lst.api_version, NEWEST_API_VERSION)


def render_list_html(lst: ProjectList, link: Callable[[str], str]) -> bytes:
    """
    Render the project list as PEP 503 HTML.

    :param lst: The list.
    :param link: Gives the page URL of a normalized project name.
    :return: The UTF-8 HTML document.
    """
    return _encode_html(
        _framed(
            _head(_list_version(lst), [], "Simple index"),
            (
                f'    <a href="{escape(link(normalize(name)))}">{escape(name)}</a>'
                "<br>\n"
                for name in lst.names
            ),
        )
    )


def render_list_json(lst: ProjectList, link: Callable[[str], str]) -> bytes:
    """
    Render the project list as PEP 691 JSON.

    :param lst: The list.
    :param link: Unused (PEP 691 project entries carry only a name); taken
        so both renderers have the same signature.
    :return: The JSON document.
    """
    head = {"meta": _meta(_list_version(lst), lst.meta_extra)}
    projects = join_array(f'{{"name":{encode_string(n)}}}' for n in lst.names)
    return _encode_json(head, "projects", projects, {})


def render_page(
    page: ProjectPage | ProjectList,
    as_json: bool,
    file_link: Callable[[DistFile], str],
    project_link: Callable[[str], str],
) -> bytes:
    """
    Render a project page or a project list in either format.

    :param page: The page or list.
    :param as_json: JSON when true, HTML otherwise.
    :param file_link: Gives a file's URL (for project pages).
    :param project_link: Gives a project page's URL (for the list).
    :return: The representation's bytes.
    """
    if isinstance(page, ProjectList):
        if as_json:
            return render_list_json(page, project_link)
        return render_list_html(page, project_link)
    if as_json:
        return render_project_json(page, file_link)
    return render_project_html(page, file_link)


def no_file_link(dist: DistFile) -> str:
    """
    The ``file_link`` of a project list, which links no file: never called.

    :raises AssertionError: Always.
    """
    raise AssertionError(f"a project list links no file ({dist.filename})")
