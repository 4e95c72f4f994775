# -*- test-case-name: tests.core.test_negotiate -*-
"""
PEP 691 content negotiation: which representation of a simple page to serve.

The rules, in order:

1. A ``?format=`` value, when given (and not empty), overrides ``Accept``: it
   must name one of the three media types or a ``latest`` alias, otherwise
   nothing is acceptable (406).
2. No ``Accept`` header (or one without a single well-formed media range)
   means ``text/html``, PyPI's default and the safest choice for curl,
   browsers and old installers.
3. Each representation gets the quality of the *most specific* media range
   that matches it (the exact type or its ``latest`` alias, then
   ``application/*`` or ``text/*``, then ``*/*``); ``q=0`` excludes it even
   if a wildcard would accept it.  A range given more than once (or with its
   ``latest`` alias) counts with its highest quality.
4. The highest quality wins; between equal qualities an explicit match beats
   a ``type/*`` match, which beats a ``*/*`` match. Among explicit and
   ``type/*`` matches the most expressive representation wins (JSON, then
   ``v1+html``, then ``text/html``); a bare ``*/*`` match prefers
   ``text/html``, so ``Accept: */*`` is answered like no ``Accept`` at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

__all__ = ["Representation", "choose"]


class Representation(Enum):
    """
    A representation of a simple page.

    The value of each member is its media type.
    """

    _value_: str

    JSON = "application/vnd.pypi.simple.v1+json"
    HTML_V1 = "application/vnd.pypi.simple.v1+html"
    TEXT_HTML = "text/html"

    @property
    def media_type(self) -> str:
        """
        The bare media type, lower case and without parameters.

        :return: For example ``"application/vnd.pypi.simple.v1+json"``.
        """
        return self._value_

    @property
    def content_type(self) -> bytes:
        """
        The ``Content-Type`` header value for a response in this
        representation.

        The HTML types carry ``; charset=utf-8``; pip compares with
        ``startswith`` and uv strips parameters, so both accept it.

        :return: The lower-case header value.
        """
        if self is Representation.JSON:
            return self._value_.encode("ascii")
        return (self._value_ + "; charset=utf-8").encode("ascii")

    @property
    def is_json(self) -> bool:
        """
        Whether this is the JSON representation.

        :return: ``True`` for :attr:`JSON` only.
        """
        return self is Representation.JSON


#: Media types naming one representation exactly (``latest`` aliases included).
_EXACT: dict[str, Representation] = {
    "application/vnd.pypi.simple.v1+json": Representation.JSON,
    "application/vnd.pypi.simple.latest+json": Representation.JSON,
    "application/vnd.pypi.simple.v1+html": Representation.HTML_V1,
    "application/vnd.pypi.simple.latest+html": Representation.HTML_V1,
    "text/html": Representation.TEXT_HTML,
}

#: The ``type/*`` range that matches each representation.
_TYPE_WILDCARD: dict[Representation, str] = {
    Representation.JSON: "application/*",
    Representation.HTML_V1: "application/*",
    Representation.TEXT_HTML: "text/*",
}

#: Tie-break between equal qualities: explicit and ``type/*`` matches favour
#: the most expressive representation, ``*/*`` matches favour the default.
_PREFER_EXPRESSIVE: dict[Representation, int] = {
    Representation.JSON: 2,
    Representation.HTML_V1: 1,
    Representation.TEXT_HTML: 0,
}
_PREFER_DEFAULT: dict[Representation, int] = {
    Representation.TEXT_HTML: 2,
    Representation.JSON: 1,
    Representation.HTML_V1: 0,
}

#: Specificity of a match: no match, ``*/*``, ``type/*``, exact.
_NONE, _ANY, _TYPE, _EXACT_MATCH = -1, 0, 1, 2


def _bare_type(value: str) -> str:
    """
    The media type of a header value, without parameters.

    :param value: A media type or media range, possibly with parameters.
    :return: The part before the first ``;``, stripped and lower-cased.
    """
    return value.split(";", 1)[0].strip().lower()


def _quality(value: str) -> float:
    """
    Read a ``q`` parameter leniently.

    :param value: The text after ``q=``, possibly quoted.
    :return: The quality clamped to ``[0, 1]``; ``1`` if it is not a number.
    """
    try:
        q = float(value.strip().strip('"'))
    except ValueError:
        return 1.0
    if q != q:  # NaN
        return 1.0
    return min(max(q, 0.0), 1.0)


def _media_ranges(accept: str) -> Iterator[tuple[str, float]]:
    """
    Parse an ``Accept`` header.

    :param accept: The header value (several headers joined with ``,``).
    :return: ``(media_range, q)`` pairs; ranges are lower case, a lone ``*``
        is read as ``*/*``, and entries that are not ``type/subtype`` are
        skipped.
    """
    for entry in accept.split(","):
        media_range, *params = entry.split(";")
        media_range = media_range.strip().lower()
        if media_range == "*":
            media_range = "*/*"
        kind, slash, subtype = media_range.partition("/")
        if not (kind and slash and subtype):
            continue
        q = 1.0
        for param in params:
            name, equals, value = param.partition("=")
            if equals and name.strip().lower() == "q":
                q = _quality(value)
                break
        yield media_range, q


def _specificity(representation: Representation, media_range: str) -> int:
    """
    How specifically ``media_range`` names ``representation``.

    :param representation: A candidate representation.
    :param media_range: A lower-case media range from ``Accept``.
    :return: One of ``_EXACT_MATCH``, ``_TYPE``, ``_ANY`` or ``_NONE``.
    """
    if _EXACT.get(media_range) is representation:
        return _EXACT_MATCH
    if media_range == _TYPE_WILDCARD[representation]:
        return _TYPE
    if media_range == "*/*":
        return _ANY
    return _NONE


def choose(
    accept: bytes | str | None, format_param: str | None = None
) -> Representation | None:
    """
    Pick the representation to serve.

    :param accept: The request's ``Accept`` header, or ``None`` if absent.
    :param format_param: The ``?format=`` query value, or ``None``.
    :return: The representation, or ``None`` when nothing acceptable can be
        served (answer 406 Not Acceptable).
    """
    if format_param is not None and format_param.strip():
        return _EXACT.get(_bare_type(format_param))
    if isinstance(accept, bytes):
        accept = accept.decode("latin-1")
    ranges = list(_media_ranges(accept or ""))
    if not ranges:
        return Representation.TEXT_HTML
    best: tuple[float, int, int] | None = None
    chosen: Representation | None = None
    for representation in Representation:
        specificity, q = _NONE, 0.0
        for media_range, range_q in ranges:
            found = _specificity(representation, media_range)
            if found > specificity:
                specificity, q = found, range_q
            elif found == specificity and found != _NONE:
                q = max(q, range_q)
        if q <= 0.0:
            continue
        prefer = _PREFER_DEFAULT if specificity == _ANY else _PREFER_EXPRESSIVE
        key = (q, specificity, prefer[representation])
        if best is None or key > best:
            best, chosen = key, representation
    return chosen
