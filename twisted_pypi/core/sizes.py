"""
Byte counts for people: the one formatter the status page, the command-line
reports and error messages share.
"""

from __future__ import annotations

__all__ = ["format_size"]

_UNITS = ("KiB", "MiB", "GiB", "TiB")


def format_size(size: float | None, unknown: str = "?") -> str:
    """
    A byte count for people: ``512 B``, ``1.5 KiB``, ``780.0 MiB``,
    ``2.3 GiB``.

    :param size: Bytes, or ``None`` when unknown.
    :param unknown: What an unknown size reads as.
    """
    if size is None:
        return unknown
    if size < 1024:
        return f"{int(size)} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            break
    return f"{value:.1f} {unit}"
