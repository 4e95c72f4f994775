# -*- test-case-name: tests.core.test_parse -*-
"""
Read upstream simple-index pages (PEP 503 HTML, PEP 691 JSON) into the model.

Everything here is a pure function of the response body, its
``Content-Type`` and the page URL. A body that cannot be read at all raises
:class:`PageParseError` and nothing else. A bad link is dropped: each drop is
logged at debug level and each page with drops logs one warning.

A file link is kept only if its URL is http(s), its filename is a valid wheel
or sdist name equal to the URL's last path segment, and
:func:`twisted_pypi.core.links.local_segments` maps it to a safe cache path. The
first link for each filename wins.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from twisted.logger import Logger

from twisted_pypi.core.links import SCHEMES, local_segments
from twisted_pypi.core.model import CoreMetadata, DistFile, ProjectList, ProjectPage
from twisted_pypi.core.names import (
    is_distribution_filename,
    is_valid_project_name,
    normalize,
)

__all__ = ["PageParseError", "parse_project_list", "parse_project_page"]

log = Logger()

_PYPI = "application/vnd.pypi.simple."
_JSON_TYPES = frozenset([_PYPI + "v1+json", _PYPI + "latest+json", "application/json"])
_HTML_TYPES = frozenset([_PYPI + "v1+html", _PYPI + "latest+html", "text/html"])
_JSON_METADATA_KEYS = ("core-metadata", "dist-info-metadata", "data-dist-info-metadata")
_HTML_METADATA_KEYS = ("data-core-metadata", "data-dist-info-metadata")
#: JSON file keys read into :class:`DistFile` fields; never kept in ``extra``.
_FILE_KEYS = frozenset(
    ("filename", "url", "hashes", "requires-python", "yanked", "gpg-sig", "size")
    + ("upload-time", "provenance", *_JSON_METADATA_KEYS)
)
_PAGE_KEYS = frozenset(["name", "files", "meta", "versions", "project-status"])

_HASH_NAME = re.compile(r"[a-z0-9_-]{1,32}")
_HEX = re.compile(r"[0-9a-fA-F]{1,1024}")
_API_VERSION = re.compile(r"\s*(\d{1,9})(?:\.(\d{1,9}))?\s*")

#: The index name used only to ask :func:`local_segments` whether a URL maps.
_CHECK_INDEX = "check"


class PageParseError(ValueError):
    """
    An upstream page could not be read: undecodable, invalid JSON, the wrong
    JSON shape, or an API major version other than 1.
    """


class _Drops:
    """
    The links dropped from one page.

    :ivar page: The page URL or a description, for the log.
    :ivar count: How many links were dropped.
    :ivar examples: The first few, with their reasons, for the warning.
    """

    def __init__(self, page: str) -> None:
        self.page = page
        self.count = 0
        self.examples: list[str] = []

    def add(self, url: str, why: str) -> None:
        """
        :param url: The dropped link (or a short description of the entry).
        :param why: Why it was dropped.
        """
        self.count += 1
        shown = repr(url[:300])  # escapes what a log file cannot encode
        if len(self.examples) < 3:
            self.examples.append(f"{shown} ({why})")
        log.debug(
            "Dropped {url} from {page}: {why}", url=shown, page=self.page, why=why
        )

    def report(self, total: int) -> None:
        """
        :param total: How many links the page had; warn if any was dropped.
        """
        if self.count:
            log.warn(
                "Dropped {count} of {total} links from {page}, e.g. {examples}",
                count=self.count,
                total=total,
                page=self.page,
                examples="; ".join(self.examples),
            )


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


def _api_version(value: object) -> tuple[int, int]:
    """
    :param value: A PEP 629 version (``meta.api-version`` or the
        ``pypi:repository-version`` content), or ``None`` when absent.
    :return: ``(1, minor)``; ``(1, 0)`` when absent.
    :raise PageParseError: If it is malformed or its major is not 1.
    """
    if value is None:
        return (1, 0)
    match = _API_VERSION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise PageParseError(f"Invalid API version {value!r}")
    if match.group(1) != "1":
        raise PageParseError(f"Unsupported API major version {value!r}")
    return (1, int(match.group(2) or 0))


def _load_json(body: bytes) -> tuple[dict[str, Any], tuple[int, int], dict[str, Any]]:
    """
    :param body: A JSON response body.
    :return: The top-level object, the API version and the other ``meta`` keys.
    :raise PageParseError: If the body is not a JSON object with a valid
        ``meta`` (when present).
    """
    try:
        page = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise PageParseError(f"Invalid JSON: {e}") from e
    if not isinstance(page, dict):
        raise PageParseError("The JSON page is not an object")
    meta = page.get("meta", {})
    if not isinstance(meta, dict):
        raise PageParseError("meta is not an object")
    rest = {k: v for k, v in meta.items() if k != "api-version"}
    return page, _api_version(meta.get("api-version")), rest


def _hashes(value: object) -> dict[str, str]:
    """
    :param value: A ``{name: hexdigest}`` mapping, or ``name=hex`` pairs
        separated by ``&`` (a PEP 503 URL fragment); anything else has none.
    :return: The valid entries, names and digests lower-cased.
    """
    if isinstance(value, str):
        pairs = (part.partition("=") for part in value.split("&"))
        value = {name: digest for name, sep, digest in pairs if sep}
    hashes: dict[str, str] = {}
    if isinstance(value, Mapping):
        for name, digest in value.items():
            if isinstance(name, str) and isinstance(digest, str):
                name = name.lower()
                if _HASH_NAME.fullmatch(name) and _HEX.fullmatch(digest):
                    hashes.setdefault(name, digest.lower())
    return hashes


def _https_url(value: object) -> str | None:
    """
    :param value: A provenance value from the page.
    :return: ``value`` if it is an absolute https URL, else ``None``.
    """
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if parts is not None and parts.scheme == "https" and parts.netloc:
        return str(value)
    return None


def _resolve(base: str, url: str) -> str | None:
    """
    :param base: The page URL (or its ``<base href>``).
    :param url: A link as the page gave it.
    :return: The absolute URL without fragment; ``None`` if malformed.
    """
    try:
        return urldefrag(urljoin(base, url.strip())).url
    except ValueError:
        return None


def _filename_of(url: str) -> str:
    """
    :param url: An absolute URL.
    :return: Its last path segment, percent-decoded.
    """
    return unquote(urlsplit(url).path.rpartition("/")[2])


def _link_problem(url: str | None, filename: str) -> str | None:
    """
    :param url: A resolved file URL, or ``None`` if it could not be resolved.
    :param filename: The filename the page gives for it.
    :return: Why the link must be dropped, or ``None`` if it is acceptable.
    """
    if url is None:
        return "malformed URL"
    try:
        url.encode(), filename.encode()  # no lone surrogates from JSON escapes
        if local_segments(_CHECK_INDEX, url) and _filename_of(url) == filename:
            return None
        if urlsplit(url).scheme not in SCHEMES:
            return "not an http(s) URL"
    except (UnicodeError, ValueError):
        return "malformed URL"
    if not is_distribution_filename(filename):
        return "not a wheel or sdist filename"
    if _filename_of(url) != filename:
        return "filename differs from the URL's"
    return "unsafe URL path"


def _json_core_metadata(entry: Mapping[str, Any]) -> CoreMetadata:
    """
    :param entry: A JSON file object.
    :return: Its ``core-metadata``, falling back to the legacy
        ``dist-info-metadata`` and ``data-dist-info-metadata`` keys.
    """
    for key in _JSON_METADATA_KEYS:
        value = entry.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, Mapping):
            return _hashes(value)
    return None


def _json_file(entry: object, page_url: str, drops: _Drops) -> DistFile | None:
    """
    :param entry: One item of a JSON page's ``files``.
    :param page_url: The page URL, for relative links.
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
    url = _resolve(page_url, raw_url)
    problem = _link_problem(url, filename)
    if url is None or problem is not None:
        drops.add(raw_url, problem or "malformed URL")
        return None
    python, gpg_sig = entry.get("requires-python"), entry.get("gpg-sig")
    size, upload_time = entry.get("size"), entry.get("upload-time")
    yanked = entry.get("yanked")  # an empty reason still means yanked
    return DistFile(
        filename=filename,
        url=url,
        hashes=_hashes(entry.get("hashes")),
        requires_python=python if isinstance(python, str) and python else None,
        yanked=(yanked or True) if isinstance(yanked, str) else bool(yanked),
        core_metadata=_json_core_metadata(entry),
        gpg_sig=gpg_sig if isinstance(gpg_sig, bool) else None,
        size=size if type(size) is int and size >= 0 else None,
        upload_time=upload_time if isinstance(upload_time, str) else None,
        provenance=_https_url(entry.get("provenance")),
        extra={k: v for k, v in entry.items() if k not in _FILE_KEYS},
    )


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
    encoding = "utf-8-sig"
    try:
        if charset is not None and codecs.lookup(charset).name != "utf-8":
            encoding = charset
    except LookupError:
        pass
    collector = _Collector()
    try:
        collector.feed(body.decode(encoding))
    except Exception as e:  # html.parser's own errors are not documented
        raise PageParseError(f"Unreadable HTML: {e}") from e
    return collector


def _html_core_metadata(attrs: Mapping[str, str | None]) -> CoreMetadata:
    """
    :param attrs: An anchor's attributes.
    :return: Its ``data-core-metadata``, falling back to
        ``data-dist-info-metadata``: ``false`` means ``False``; a hash
        ``name=hex`` gives ``{name: hex}``; anything else (``true``, no value,
        an unreadable hash) means ``True``, as for pip.
    """
    for key in _HTML_METADATA_KEYS:
        if key in attrs:
            value = (attrs[key] or "").strip()
            if value.lower() == "false":
                return False
            return _hashes(value) or True
    return None


def _html_file(
    attrs: Mapping[str, str | None], base: str, drops: _Drops
) -> DistFile | None:
    """
    :param attrs: The attributes of one ``<a href>`` of a project page.
    :param base: The URL relative links resolve against.
    :param drops: Where to record a dropped link.
    :return: The file, or ``None`` if it was dropped.
    """
    href = attrs["href"] or ""
    url = _resolve(base, href)
    filename = "" if url is None else _filename_of(url)
    problem = _link_problem(url, filename)
    if url is None or problem is not None:
        drops.add(href, problem or "malformed URL")
        return None
    gpg_sig = (attrs.get("data-gpg-sig") or "").strip().lower()
    return DistFile(
        filename=filename,
        url=url,
        hashes=_hashes(href.strip().partition("#")[2]),
        requires_python=attrs.get("data-requires-python") or None,
        yanked=(attrs["data-yanked"] or True) if "data-yanked" in attrs else False,
        core_metadata=_html_core_metadata(attrs),
        gpg_sig={"true": True, "false": False}.get(gpg_sig),
        provenance=_https_url(attrs.get("data-provenance")),
    )


def _dedupe(files: list[DistFile | None], drops: _Drops) -> tuple[DistFile, ...]:
    """
    :param files: Files in page order, ``None`` for dropped entries.
    :param drops: Where to record a dropped duplicate.
    :return: The files, keeping the first of each filename.
    """
    seen: set[str] = set()
    kept = []
    for f in files:
        if f is not None and f.filename in seen:
            drops.add(f.url, "duplicate filename")
        elif f is not None:
            seen.add(f.filename)
            kept.append(f)
    return tuple(kept)


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
    drops = _Drops(page_url)
    if is_json:
        page, api_version, meta_extra = _load_json(body)
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
            name=normalize(project),
            files=_dedupe([_json_file(e, page_url, drops) for e in entries], drops),
            versions=(
                tuple(v for v in versions if isinstance(v, str))
                if isinstance(versions, list)
                else None
            ),
            api_version=api_version,
            status=state if isinstance(state, str) else None,
            status_reason=reason if isinstance(reason, str) else None,
            meta_extra=meta_extra,
            extra={k: v for k, v in page.items() if k not in _PAGE_KEYS},
        )
    else:
        html = _read_html(body, charset)
        base = _resolve(page_url, html.base or "") or page_url
        entries = [attrs for attrs, _ in html.anchors]
        result = ProjectPage(
            name=normalize(project),
            files=_dedupe([_html_file(a, base, drops) for a in entries], drops),
            api_version=_api_version(html.metas.get("pypi:repository-version")),
            status=html.metas.get("pypi:project-status"),
            status_reason=html.metas.get("pypi:project-status-reason"),
        )
    drops.report(len(entries))
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
    candidates: list[str] = []
    if is_json:
        page, api_version, meta_extra = _load_json(body)
        projects = page.get("projects")
        if not isinstance(projects, list):
            raise PageParseError("The JSON page has no projects list")
        for entry in projects:
            name = entry.get("name") if isinstance(entry, dict) else None
            candidates.append(name if isinstance(name, str) else repr(entry)[:100])
    else:
        html = _read_html(body, charset)
        api_version = _api_version(html.metas.get("pypi:repository-version"))
        meta_extra = {}
        candidates = ["".join(text).strip() for _, text in html.anchors]
    drops = _Drops("the project list")
    seen: set[str] = set()
    names = []
    for name in candidates:
        if not is_valid_project_name(name):
            drops.add(name, "invalid project name")
        elif normalize(name) not in seen:
            seen.add(normalize(name))
            names.append(name)
    drops.report(len(candidates))
    return ProjectList(
        names=tuple(names), api_version=api_version, meta_extra=meta_extra
    )
