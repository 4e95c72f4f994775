# -*- test-case-name: tests.core.test_parse_html -*-
"""
Read PEP 503 HTML simple-index pages (project pages and the project list),
as PyPI and other indexes (Nexus, Artifactory, devpi, plain directories)
serve them: anchors, ``<base href>``, PEP 629 and PEP 700 ``<meta>`` tags,
the ``data-*`` attributes of PEP 592, 658 and 714.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from html import unescape
from html.parser import HTMLParser

from twisted_pypi.core.model import CoreMetadata, DistFile, ProjectPage
from twisted_pypi.core.names import normalize
from twisted_pypi.core.parse_common import (
    Drops,
    PageParseError,
    api_version,
    dedupe,
    filename_of,
    https_url,
    link_problem,
    read_hashes,
    resolve_file_link,
    resolve_link,
)

__all__ = ["read_html_list", "read_html_page"]

_METADATA_KEYS = ("data-core-metadata", "data-dist-info-metadata")

#: An anchor of the project list and its text, a ``<meta>`` tag, a comment,
#: a tag inside an anchor's text and an ``href`` attribute: the project list
#: (a million anchors on PyPI) is read with these rather than tag by tag,
#: which took seconds and hundreds of megabytes.
_ANCHOR = re.compile(r"<a(\s[^>]*)?>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_META = re.compile(r"<meta\s[^>]*>", re.IGNORECASE)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_HREF = re.compile(r"(?:^|\s)href\s*=", re.IGNORECASE)


class _Collector(HTMLParser):
    """
    Collect a page's anchors, ``<base href>`` and ``<meta>`` tags in one
    linear pass.

    :ivar base: The first ``<base href>``, or ``None``.
    :ivar anchors: Each ``<a href>``'s attributes (the first of each name
        wins, values unescaped) and the list its text is gathered in.
    :ivar metas: ``<meta>`` name (lower case) to content; the first wins.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.anchors: list[tuple[dict[str, str | None], list[str]]] = []
        self.metas: dict[str, str] = {}
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """
        :param tag: The lower-case tag name.
        :param attrs: Its attributes, names lower case, values unescaped.
        """
        values: dict[str, str | None] = {}
        for name, value in attrs:
            values.setdefault(name, value)
        href = values.get("href")
        if tag == "a":
            self._text = None if href is None else []
            if self._text is not None:
                self.anchors.append((values, self._text))
        elif tag == "base" and self.base is None and href is not None:
            self.base = href
        elif tag == "meta":
            key, content = values.get("name"), values.get("content")
            if key is not None and content is not None:
                self.metas.setdefault(key.strip().lower(), content)

    def handle_endtag(self, tag: str) -> None:
        """
        :param tag: The lower-case tag name.
        """
        if tag == "a":
            self._text = None

    def handle_data(self, data: str) -> None:
        """
        :param data: Text, character references resolved.
        """
        if self._text is not None:
            self._text.append(data)


def _read_html(body: bytes, charset: str | None) -> _Collector:
    """
    The parser is fed once and never closed: ``close()`` would rescan an
    unterminated construct once per remaining character, quadratic time on
    unpatched Pythons (CPython gh-135462). So whatever follows a construct
    that never ends is ignored, as the HTML5 rules also do.

    :param body: An HTML response body.
    :param charset: The ``Content-Type`` charset; UTF-8 if absent or unknown.
    :return: The tags collected from it.
    :raise PageParseError: If the body cannot be decoded or scanned.
    """
    collector = _Collector()
    try:
        collector.feed(_decode(body, charset))
    except Exception as e:  # html.parser's own errors are not documented
        raise PageParseError(f"Unreadable HTML: {e}") from e
    return collector


def _decode(body: bytes, charset: str | None) -> str:
    """
    :param body: An HTML response body.
    :param charset: The ``Content-Type`` charset; UTF-8 if absent or unknown.
    :return: The text.
    :raise UnicodeDecodeError: If it is not in that charset.
    """
    encoding = "utf-8-sig"
    try:
        if charset is not None and codecs.lookup(charset).name != "utf-8":
            encoding = charset
    except LookupError:
        pass
    return body.decode(encoding)


def _core_metadata(attrs: Mapping[str, str | None]) -> CoreMetadata:
    """
    :param attrs: An anchor's attributes.
    :return: Its ``data-core-metadata``, falling back to
        ``data-dist-info-metadata``: ``false`` means ``False``; a hash
        ``name=hex`` gives ``{name: hex}``; anything else (``true``, no value,
        an unreadable hash) means ``True``, as for pip.
    """
    for key in _METADATA_KEYS:
        if key in attrs:
            value = (attrs[key] or "").strip()
            if value.lower() == "false":
                return False
            return read_hashes(value) or True
    return None


def _html_file(
    attrs: Mapping[str, str | None], base: str, project: str, drops: Drops
) -> DistFile | None:
    """
    :param attrs: The attributes of one ``<a href>`` of a project page.
    :param base: The URL relative links resolve against.
    :param project: The page's project, normalized.
    :param drops: Where to record a dropped link.
    :return: The file, or ``None`` if it was dropped.
    """
    href = attrs["href"] or ""
    url, credentials = resolve_file_link(base, href)
    filename = "" if url is None else filename_of(url)
    problem = link_problem(url, filename)
    if url is None or problem is not None:
        drops.add(href, problem or "malformed URL")
        return None
    gpg_sig = (attrs.get("data-gpg-sig") or "").strip().lower()
    return DistFile(
        filename=filename,
        url=url,
        hashes=read_hashes(href.strip().partition("#")[2]),
        requires_python=attrs.get("data-requires-python") or None,
        yanked=(attrs["data-yanked"] or True) if "data-yanked" in attrs else False,
        core_metadata=_core_metadata(attrs),
        gpg_sig={"true": True, "false": False}.get(gpg_sig),
        provenance=https_url(attrs.get("data-provenance")),
        credentials=credentials,
        project=project,
    )


def read_html_page(
    body: bytes, charset: str | None, page_url: str, project: str, drops: Drops
) -> tuple[ProjectPage, int]:
    """
    Read an HTML project page.

    :param body: The response body.
    :param charset: The ``Content-Type`` charset, or ``None``.
    :param page_url: The page's URL; relative links resolve against it (or
        against its ``<base href>``).
    :param project: The project's name (normalized here).
    :param drops: Where to record dropped links.
    :return: The page, and how many links it had.
    :raise PageParseError: If the body cannot be read as a project page.
    """
    html = _read_html(body, charset)
    base = resolve_link(page_url, html.base or "") or page_url
    entries = [attrs for attrs, _ in html.anchors]
    name = normalize(project)
    result = ProjectPage(
        name=name,
        files=dedupe([_html_file(a, base, name, drops) for a in entries], drops),
        api_version=api_version(html.metas.get("pypi:repository-version")),
        status=html.metas.get("pypi:project-status"),
        status_reason=html.metas.get("pypi:project-status-reason"),
    )
    return result, len(entries)


def read_html_list(
    body: bytes, charset: str | None
) -> tuple[list[str], tuple[int, int]]:
    """
    Read an HTML project list.

    :param body: The response body.
    :param charset: The ``Content-Type`` charset, or ``None``.
    :return: The text of each anchor, stripped, and the API version.
    :raise PageParseError: If the body cannot be read as a project list.
    """
    try:
        text = _decode(body, charset)
    except UnicodeError as e:
        raise PageParseError(f"Unreadable HTML: {e}") from e
    if "<!--" in text:
        text = _COMMENT.sub("", text)
    metas = _Collector()
    metas.feed("".join(_META.findall(text)))
    version = api_version(metas.metas.get("pypi:repository-version"))
    return [
        _anchor_text(found[2])
        for found in _ANCHOR.finditer(text)
        if found[1] and _HREF.search(found[1])
    ], version


def _anchor_text(inner: str) -> str:
    """
    :param inner: What is between ``<a ...>`` and ``</a>``.
    :return: Its text: tags removed, character references resolved,
        stripped.
    """
    if "<" in inner:
        inner = _TAG.sub("", inner)
    if "&" in inner:
        inner = unescape(inner)
    return inner.strip()
