# -*- test-case-name: tests.core.test_memtrim -*-
"""
Giving freed memory back to the system.

After a page of many megabytes is parsed, rendered and stored, the memory
of its temporaries is free but glibc's allocator keeps most of it in its
arenas (the worker thread's arena in particular), so the process's RSS
stays hundreds of megabytes above its idle level.  ``malloc_trim(0)``
returns the free pages of every arena, and :func:`steady_mmap_threshold`
keeps the biggest buffers out of the arenas in the first place.  Both are
glibc's alone: elsewhere they do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["MMAP_THRESHOLD", "freeze_heap", "steady_mmap_threshold", "trim_memory"]


#: glibc's ``mallopt`` parameter number of the mmap threshold
#: (``M_MMAP_THRESHOLD``).
_M_MMAP_THRESHOLD = -3

#: Blocks at least this big get a mapping of their own, unmapped when freed
#: (glibc's initial threshold, kept from rising).
MMAP_THRESHOLD = 256 << 10


def _find(name: str) -> Callable[..., int] | None:
    """
    :param name: A function of glibc's allocator.
    :return: It, or ``None`` when the C library is not glibc (or cannot be
        loaded).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        found: Callable[..., int] = getattr(libc, name)
    except (OSError, AttributeError):
        return None
    return found


_TRIM = _find("malloc_trim")
_MALLOPT = _find("mallopt")


def steady_mmap_threshold(mallopt: Callable[[int, int], int] | None = _MALLOPT) -> bool:
    """
    Keep glibc's mmap threshold at :data:`MMAP_THRESHOLD` (call once, at
    start-up).

    glibc raises the threshold (up to 32 MiB) each time a mapped block is
    freed; after the first huge page, its next bodies and renderings of
    many megabytes come from the arenas instead, and their pages stay in
    the process when freed (measured: 66 MB idle, 104 MB after one 20 MB
    page; 76 MB with the threshold kept).

    :param mallopt: glibc's ``mallopt``; found in the C library by default.
    :return: Whether it was set (``False`` without glibc).
    """
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


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


def freeze_heap(collector: Any = gc) -> int:
    """
    Take every object alive now (a started proxy's modules, classes and
    settings) out of the cyclic garbage collector's reach: its full
    collections, which stop the reactor thread for tens of milliseconds
    while a huge page's records are made, then walk only what came later.
    Call once, when the proxy has started.

    :param collector: The :mod:`gc` module.
    :return: How many objects are frozen.
    """
    collector.collect()
    collector.freeze()
    frozen: int = collector.get_freeze_count()
    return frozen
