# -*- test-case-name: tests.core.test_memtrim -*-
"""
Giving freed memory back to the system.

After a page of many megabytes is parsed, rendered and stored, the memory
of its temporaries is free but glibc's allocator keeps most of it in its
arenas (the worker thread's arena in particular), so the process's RSS
stays hundreds of megabytes above its idle level.  ``malloc_trim(0)``
returns the free pages of every arena.  It is glibc's alone: elsewhere
:func:`trim_memory` does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Callable

__all__ = ["trim_memory"]


def _find_trim() -> Callable[[int], int] | None:
    """
    :return: glibc's ``malloc_trim``, or ``None`` when the C library is
        not glibc (or cannot be loaded).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _find_trim()


def trim_memory(trim: Callable[[int], int] | None = _TRIM) -> bool:
    """
    Return the allocator's free memory to the system (blocking for a few
    milliseconds: run it with the runner, after a big page is processed).

    :param trim: ``malloc_trim``; found in the C library by default.
    :return: Whether anything could be returned (``False`` without glibc).
    """
    if trim is None:
        return False
    return bool(trim(0))
