# -*- test-case-name: tests.core.test_parse -*-
"""
Read upstream simple-index pages (PEP 503 HTML, PEP 691 JSON) into the model.

Everything here is a pure function of the response body, its
``Content-Type`` and the page URL. A body that cannot be read at all raises
:class:`PageParseError` and nothing else. A bad link is dropped: each drop is
logged at debug level and each page with drops logs one warning.

This module decides which reader a body goes to
(:mod:`~twisted_pypi.core.parse_html` or :mod:`~twisted_pypi.core.parse_json`);
the rules a link must pass are in :mod:`~twisted_pypi.core.parse_common`.
"""

from __future__ import annotations

import codecs
from typing import Any

from twisted_pypi.core.model import ProjectList, ProjectPage
from twisted_pypi.core.names import is_valid_project_name, normalize
from twisted_pypi.core.parse_common import Drops, PageParseError
from twisted_pypi.core.parse_html import read_html_list, read_html_page
from twisted_pypi.core.parse_json import read_json_list, read_json_page

__all__ = ["PageParseError", "parse_project_list", "parse_project_page"]

_PYPI = "application/vnd.pypi.simple."
_JSON_TYPES = frozenset([_PYPI + "v1+json", _PYPI + "latest+json", "application/json"])
_HTML_TYPES = frozenset([_PYPI + "v1+html", _PYPI + "latest+html", "text/html"])


def _is_json(body: bytes, content_type: str | bytes | None) -> tuple[bool, str | None]:
    """
    :param body: The response body.
    :param content_type: The ``Content-Type`` header, or ``None``.
    :return: Whether to read the body as JSON (a JSON or HTML type decides,
        anything else is sniffed: JSON if the body starts with ``{``), and the
        charset parameter.
    """
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    media_type, *params = (content_type or "").split(";")
    media_type = media_type.strip().lower()
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    if media_type in _JSON_TYPES or media_type in _HTML_TYPES:
        return media_type in _JSON_TYPES, charset
    return body.removeprefix(codecs.BOM_UTF8).lstrip()[:1] == b"{", charset


def parse_project_page(
    body: bytes, content_type: str | bytes | None, page_url: str, project: str
) -> ProjectPage:
    """
    Read a project page.

    :param body: The response body.
    :param content_type: The response's ``Content-Type``, or ``None``.
    :param page_url: The absolute URL the page was read from (after
        redirects); relative links resolve against it.
    :param project: The project's name (normalized here).
    :return: The page.
    :raise PageParseError: If the body cannot be read as a project page.
    """
    is_json, charset = _is_json(body, content_type)
    drops = Drops(page_url)
    if is_json:
        result, total = read_json_page(body, page_url, project, drops)
    else:
        result, total = read_html_page(body, charset, page_url, project, drops)
    drops.report(total)
    return result


def parse_project_list(body: bytes, content_type: str | bytes | None) -> ProjectList:
    """
    Read the root project list.

    :param body: The response body.
    :param content_type: The response's ``Content-Type``, or ``None``.
    :return: The list: invalid names dropped, the first spelling of each
        normalized name kept.
    :raise PageParseError: If the body cannot be read as a project list.
    """
    is_json, charset = _is_json(body, content_type)
    meta_extra: dict[str, Any] = {}
    if is_json:
        candidates, api_version, meta_extra = read_json_list(body)
    else:
        candidates, api_version = read_html_list(body, charset)
    drops = Drops("the project list")
    seen: set[str] = set()
    names = []
    for name in candidates:
        if not is_valid_project_name(name):
            drops.add(name, "invalid project name")
            continue
        key = normalize(name)
        if key not in seen:
            seen.add(key)
            names.append(name)
    drops.report(len(candidates))
    return ProjectList(
        names=tuple(names), api_version=api_version, meta_extra=meta_extra
    )
