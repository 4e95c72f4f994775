"""
Tests for :mod:`twisted_pypi.core.memtrim`.
"""

from __future__ import annotations

import gc

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.memtrim import (
    MMAP_THRESHOLD,
    freeze_heap,
    steady_mmap_threshold,
    trim_memory,
)


class TrimTests(SynchronousTestCase):
    """
    :func:`trim_memory` returns the allocator's free pages.
    """

    def test_trims_everything(self) -> None:
        """
        ``malloc_trim`` is asked to keep no padding, and what it answers is
        whether anything was returned.
        """
        calls: list[int] = []

        def trim(pad: int) -> int:
            """Record the call; say memory was returned."""
            calls.append(pad)
            return 1

        self.assertTrue(trim_memory(trim))
        self.assertEqual(calls, [0])

    def test_nothing_returned(self) -> None:
        """
        When ``malloc_trim`` could return nothing, the answer is ``False``.
        """
        self.assertFalse(trim_memory(lambda pad: 0))

    def test_without_glibc(self) -> None:
        """
        Without glibc there is nothing to call, and nothing is done.
        """
        self.assertFalse(trim_memory(None))

    def test_real(self) -> None:
        """
        The real ``malloc_trim`` can be called here (glibc on Linux) and
        answers a boolean.
        """
        self.assertIn(trim_memory(), (True, False))


class ThresholdTests(SynchronousTestCase):
    """
    :func:`steady_mmap_threshold` keeps big buffers out of the arenas.
    """

    def test_sets_threshold(self) -> None:
        """
        ``mallopt(M_MMAP_THRESHOLD, 256 KiB)`` is called, which also stops
        glibc raising the threshold when big blocks are freed.
        """
        calls: list[tuple[int, int]] = []

        def mallopt(param: int, value: int) -> int:
            """Record the call; succeed."""
            calls.append((param, value))
            return 1

        self.assertTrue(steady_mmap_threshold(mallopt))
        self.assertEqual(calls, [(-3, 256 << 10)])
        self.assertEqual(MMAP_THRESHOLD, 256 << 10)

    def test_refused(self) -> None:
        """
        ``mallopt`` answering 0 (an error) is reported as not set.
        """
        self.assertFalse(steady_mmap_threshold(lambda param, value: 0))

    def test_without_glibc(self) -> None:
        """
        Without glibc nothing is set.
        """
        self.assertFalse(steady_mmap_threshold(None))


class FreezeTests(SynchronousTestCase):
    """
    :func:`freeze_heap` takes the start-up heap out of the collector's reach.
    """

    def test_collects_then_freezes(self) -> None:
        """
        Garbage is collected first, then everything alive is frozen, and the
        number frozen is answered.
        """
        calls: list[str] = []

        class Collector:
            """Records what is asked of it, like :mod:`gc`."""

            def collect(self) -> int:
                """Record a collection."""
                calls.append("collect")
                return 0

            def freeze(self) -> None:
                """Record a freeze."""
                calls.append("freeze")

            def get_freeze_count(self) -> int:
                """Say how many objects are frozen."""
                return 42

        self.assertEqual(freeze_heap(Collector()), 42)
        self.assertEqual(calls, ["collect", "freeze"])

    def test_real(self) -> None:
        """
        With the real collector, objects alive are frozen (and let go again
        here, so the rest of the tests run as before).
        """
        self.addCleanup(gc.unfreeze)
        self.assertGreater(freeze_heap(), 0)
