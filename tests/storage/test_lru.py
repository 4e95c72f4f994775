"""
Tests for :mod:`twisted_pypi.storage.lru`: the bookkeeping of a file store.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from twisted_pypi.storage.interfaces import IReservation
from twisted_pypi.storage.lru import LruIndex

A, B, C = ("i", "a"), ("i", "b"), ("i", "c")


class LruIndexTests(SynchronousTestCase):
    """
    :class:`LruIndex`.
    """

    def test_order_and_totals(self) -> None:
        """
        Files are listed least recently used first; adding again or using
        moves a file to the end; sizes add up.
        """
        index = LruIndex(None)
        index.add(A, 1, 0.0)
        index.add(B, 2, 0.0)
        index.add(C, 4, 0.0)
        index.use(A)
        index.add(B, 3, 0.0)
        self.assertEqual(index.entries(), [(C, 4), (A, 1), (B, 3)])
        self.assertEqual(index.total_size, 8)
        self.assertEqual(len(index), 3)
        self.assertIn(A, index)

    def test_forget_and_resize(self) -> None:
        """Forgetting and resizing keep the total right; unknown keys are fine."""
        index = LruIndex(None)
        index.add(A, 5, 0.0)
        index.resize(A, 7)
        index.forget(B)
        self.assertEqual(index.total_size, 7)
        index.forget(A)
        self.assertEqual((index.total_size, index.entries()), (0, []))
        self.assertIsNone(index.use(A))

    def test_load_orders_by_last_use(self) -> None:
        """Loading replaces the files, ordered by their last use."""
        index = LruIndex(None)
        index.add(C, 100, 0.0)
        index.load([(30.0, A, 1), (10.0, B, 2)])
        self.assertEqual(index.entries(), [(B, 2), (A, 1)])
        self.assertEqual(index.total_size, 3)
        use = index.get(A)
        assert use is not None
        self.assertEqual(use.recorded, 30.0)

    def test_victims(self) -> None:
        """
        While over budget the least recently used unpinned file, other than
        the one kept, is the next victim; within budget there is none.
        """
        index = LruIndex(5)
        index.add(A, 3, 0.0)
        index.add(B, 3, 0.0)
        self.assertEqual(index.next_victim(), A)
        index.pin(A)
        self.assertEqual(index.next_victim(), B)
        self.assertIsNone(index.next_victim(keep=B))
        index.forget(B)
        self.assertIsNone(index.next_victim())
        self.assertIsNone(LruIndex(None).next_victim())

    def test_reservations_count(self) -> None:
        """Reserved bytes count toward the budget until released, once."""
        index = LruIndex(5)
        index.add(A, 3, 0.0)
        reservation = index.reserve(3)
        self.assertTrue(verifyObject(IReservation, reservation))
        self.assertEqual(index.next_victim(), A)
        reservation.release()
        reservation.release()
        self.assertEqual(index.reserved, 0)
        self.assertIsNone(index.next_victim())

    def test_pins_counted(self) -> None:
        """Pins are counted; unpinning an unpinned file is an error."""
        index = LruIndex(None)
        index.pin(A)
        index.pin(A)
        index.unpin(A)
        self.assertTrue(index.is_pinned(A))
        index.unpin(A)
        self.assertFalse(index.is_pinned(A))
        self.assertRaises(ValueError, index.unpin, A)


class RoomTests(SynchronousTestCase):
    """
    :meth:`LruIndex.victims_for_room`.
    """

    def test_victims_for_room(self) -> None:
        """
        The least recently used unpinned files are chosen, whatever the
        budget, until their sizes reach the room wanted.
        """
        index = LruIndex(None)
        for key, size in ((("a",), 4), (("b",), 4), (("c",), 4), (("d",), 4)):
            index.add(key, size, 0.0)
        index.pin(("b",))
        self.assertEqual(index.victims_for_room(5, None), [("a",), ("c",)])
        self.assertEqual(index.victims_for_room(0, None), [])

    def test_hopeless(self) -> None:
        """
        No file is chosen when the free bytes and every unpinned file do not
        add up to the room wanted.
        """
        index = LruIndex(None)
        index.add(("a",), 4, 0.0)
        self.assertEqual(index.victims_for_room(10, 5), [])
        self.assertEqual(index.victims_for_room(9, 5), [("a",)])
