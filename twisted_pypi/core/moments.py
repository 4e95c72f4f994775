# -*- test-case-name: tests.core.test_moments -*-
"""
Moments and durations as the supply-chain policy reads and writes them: the
one place that parses ``--min-age`` durations (``7d``, ``36h``, ``90m``),
snapshot timestamps (RFC 3339 dates and date-times in UTC), and the ISO 8601
upload times indexes give, and that formats them back for people.

Moments are POSIX seconds (UTC), as the reactor's clock gives them.
"""

from __future__ import annotations

import calendar
import re
import time
from functools import lru_cache

__all__ = [
    "format_duration",
    "format_moment",
    "parse_duration",
    "parse_moment",
    "parse_snapshot",
    "snapshot_text",
]

#: Seconds per duration unit.
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)

#: An ISO 8601 moment as indexes write them (lenient: a space for ``T``,
#: seconds and fractions optional, no offset meaning UTC).
_MOMENT = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?"
    r"\s*([Zz]|[+-]\d{2}:?\d{2})?\s*$"
)

#: An RFC 3339 date, or date-time with an offset (seconds optional).
_SNAPSHOT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?)?$"
)


def parse_duration(text: str) -> float:
    """
    A duration such as ``7d``, ``36h``, ``90m``, ``45s`` or ``2w`` in seconds;
    ``0`` means none (a policy turned off).

    :param text: The duration as the user wrote it.
    :raises ValueError: If ``text`` is not a duration (a number other than
        0 needs its unit: ``7`` could be days or hours).
    """
    match = _DURATION.match(text)
    if match is None or (not match.group(2) and float(match.group(1)) != 0):
        raise ValueError(
            f"{text!r} is not a duration: use a number with s, m, h, d or w,"
            " for example 7d, 36h or 90m (0 for off)"
        )
    return float(match.group(1)) * _UNITS[match.group(2).lower() or "s"]


def format_duration(seconds: float) -> str:
    """
    A duration in the largest unit that writes it whole (``7d``, ``36h``,
    ``90m``), as :func:`parse_duration` reads it.

    :param seconds: The duration.
    """
    for unit in ("d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _seconds(
    year: str,
    month: str,
    day: str,
    hour: str | None,
    minute: str | None,
    second: str | None,
    fraction: str | None,
    offset: str | None,
) -> float:
    """
    The POSIX moment of matched date and time parts.

    :raises ValueError: If a part is out of range (``2025-13-01``).
    """
    parts = (int(year), int(month), int(day), int(hour or 0), int(minute or 0))
    sec = int(second or 0)
    # time.strptime checks the calendar (month lengths, leap years).
    time.strptime(
        "{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}".format(*parts, min(sec, 59)),
        "%Y-%m-%d %H:%M:%S",
    )
    moment = calendar.timegm((*parts, sec, 0, 0, 0)) + float(fraction or 0)
    if offset and offset not in "Zz":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        moment -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return moment


@lru_cache(maxsize=1 << 16)
def parse_moment(text: str | None) -> float | None:
    """
    The moment an index's ISO 8601 timestamp names (PEP 700
    ``upload-time``: ``2024-01-02T03:04:05.123456Z``), or ``None`` when it
    names none (``None``, or text that is not such a timestamp).

    Read leniently: seconds and fractions may be missing, and a timestamp
    without an offset is UTC.  Remembered: the same upload times are read
    again each time a page is looked at.

    :param text: The timestamp, or ``None``.
    """
    if text is None:
        return None
    match = _MOMENT.match(text)
    if match is None:
        return None
    try:
        return _seconds(*match.groups())
    except ValueError:
        return None


def parse_snapshot(text: str) -> float:
    """
    The moment of a snapshot URL's timestamp: an RFC 3339 date
    (``2025-06-01``, its first moment) or date-time in UTC
    (``2025-06-01T12:00:00Z``; an offset such as ``+02:00`` is converted;
    seconds may be left out).

    :param text: The timestamp.
    :raises ValueError: If ``text`` is not such a timestamp, saying why.
    """
    match = _SNAPSHOT.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a snapshot time: use an RFC 3339 date or"
            " date-time in UTC, for example 2025-06-01 or 2025-06-01T12:00:00Z"
        )
    if match.group(4) is not None and match.group(8) is None:
        raise ValueError(f"{text!r} has no time zone: add Z for UTC, as in {text}Z")
    try:
        return _seconds(*match.groups())
    except ValueError:
        raise ValueError(f"{text!r} is not a date that exists") from None


def format_moment(moment: float) -> str:
    """
    A moment for people, in UTC to the minute (to the second when it has
    seconds): ``2026-12-01T10:00Z``.

    :param moment: POSIX seconds.
    """
    parts = time.gmtime(moment)
    if parts.tm_sec:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", parts)
    return time.strftime("%Y-%m-%dT%H:%MZ", parts)


def snapshot_text(moment: float) -> str:
    """
    A moment as a snapshot URL writes it, in full: ``2025-06-01T12:00:00Z``
    (with the fraction of a second when it has one), read back by
    :func:`parse_snapshot` as the same moment.

    :param moment: POSIX seconds.
    """
    whole = int(moment // 1)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    fraction = moment - whole
    if fraction:
        text += f"{fraction:.6f}"[1:].rstrip("0")
    return text + "Z"
