# -*- test-case-name: tests.core.test_parse_common -*-
"""
What the HTML (PEP 503) and JSON (PEP 691) page readers share: the error
they raise, the rules a file link must pass, hash and API-version values,
and the record of dropped links.

A file link is kept whatever its filename says (a legacy ``.egg`` or
``.tar.bz2``, a version packaging cannot parse, another project's name: the
proxy passes on what the index lists), but only if it can be served safely:
its URL is http(s), its filename is the URL's last path segment, and
:func:`twisted_pypi.core.links.local_segments` maps it to a safe cache path.
Credentials in a link are taken out of its URL (kept apart for the upstream
request) and out of every message.  The first link for each filename wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from twisted.logger import Logger

from twisted_pypi.core.links import (
    METADATA,
    SCHEMES,
    Credentials,
    local_segments,
    redact,
    split_credentials,
)
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.names import is_safe_segment

__all__ = [
    "Drops",
    "PageParseError",
    "api_version",
    "dedupe",
    "filename_of",
    "https_url",
    "link_problem",
    "read_hashes",
    "resolve_file_link",
    "resolve_link",
]

#: Logged under the name of the parsing entry points, as before the split.
log = Logger(namespace="twisted_pypi.core.parse")

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


class Drops:
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
        :param url: The dropped link (or a short description of the entry);
            any credentials in it are not shown.
        :param why: Why it was dropped.
        """
        self.count += 1
        shown = repr(redact(url)[:300])  # escapes what a log file cannot encode
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


def api_version(value: object) -> tuple[int, int]:
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


def read_hashes(value: object) -> dict[str, str]:
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


def https_url(value: object) -> str | None:
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


def resolve_link(base: str, url: str) -> str | None:
    """
    :param base: The page URL (or its ``<base href>``).
    :param url: A link as the page gave it.
    :return: The absolute URL without fragment; ``None`` if malformed.
    """
    try:
        return urldefrag(urljoin(base, url.strip())).url
    except ValueError:
        return None


def resolve_file_link(base: str, url: str) -> tuple[str | None, Credentials | None]:
    """
    :param base: The page URL (or its ``<base href>``).
    :param url: A file link as the page gave it.
    :return: The absolute URL without fragment or credentials (``None`` if
        malformed), and the credentials it had (see
        :func:`~twisted_pypi.core.links.split_credentials`).
    """
    resolved = resolve_link(base, url)
    if resolved is None:
        return None, None
    return split_credentials(resolved)


def filename_of(url: str) -> str:
    """
    :param url: An absolute URL.
    :return: Its last path segment, percent-decoded.
    """
    return unquote(urlsplit(url).path.rpartition("/")[2])


def link_problem(url: str | None, filename: str) -> str | None:
    """
    :param url: A resolved file URL, or ``None`` if it could not be resolved.
    :param filename: The filename the page gives for it.
    :return: Why the link must be dropped, or ``None`` if it is acceptable.
    """
    if url is None:
        return "malformed URL"
    try:
        url.encode(), filename.encode()  # no lone surrogates from JSON escapes
        if local_segments(_CHECK_INDEX, url) and filename_of(url) == filename:
            return None
        if urlsplit(url).scheme not in SCHEMES:
            return "not an http(s) URL"
    except (UnicodeError, ValueError):
        return "malformed URL"
    if filename_of(url) != filename:
        return "filename differs from the URL's"
    if not is_safe_segment(filename):
        return "unsafe filename"
    if filename.endswith(METADATA):
        return f"a {METADATA} filename (the name of core metadata)"
    return "unsafe URL path"


def dedupe(files: list[DistFile | None], drops: Drops) -> tuple[DistFile, ...]:
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
