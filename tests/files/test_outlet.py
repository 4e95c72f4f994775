"""
Tests for :mod:`twisted_pypi.files.outlet`: writing to the spool, making
room in a full store once, and telling the download when it stayed full.
"""

from __future__ import annotations

import errno
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.files.outlet import ROOM_MARGIN, Outlet, room
from twisted_pypi.storage.interfaces import StoreFull


class _Spool:
    """A spool that refuses ``refusals`` writes as full."""

    def __init__(self, refusals: int) -> None:
        """:param refusals: How many writes fail."""
        self.refusals = refusals
        self.data = b""

    def write(self, data: bytes) -> None:
        """Refuse, or keep."""
        if self.refusals:
            self.refusals -= 1
            raise StoreFull(errno.ENOSPC, "full")
        self.data += data

    def discard(self) -> None:
        """Nothing to delete."""


class _Store:
    """A store whose spools are refused, and which can make room or not."""

    def __init__(self, refusals: int, can_make_room: bool) -> None:
        """
        :param refusals: How many writes its spool refuses.
        :param can_make_room: What :meth:`make_room` answers.
        """
        self.spool = _Spool(refusals)
        self.can_make_room = can_make_room
        self.asked: list[int] = []

    def open_spool(self) -> _Spool:
        """:return: The spool."""
        return self.spool

    def make_room(self, nbytes: int) -> bool:
        """Record the room asked for."""
        self.asked.append(nbytes)
        return self.can_make_room


def _outlet(store: _Store) -> Outlet:
    """An outlet on ``store``, ignoring the body and pauses."""
    fake: Any = store
    return Outlet(fake, lambda data: None, lambda paused: None)


class OutletTests(SynchronousTestCase):
    """
    :class:`Outlet`.
    """

    def test_room_made_then_written(self) -> None:
        """
        A write the store refuses as full is tried again once the store made
        room for the rest of the file.
        """
        store = _Store(refusals=1, can_make_room=True)
        outlet = _outlet(store)
        self.assertTrue(outlet.open(100))
        self.assertTrue(outlet.take(b"abc", 40, 100))
        self.assertEqual(store.spool.data, b"abc")
        self.assertEqual(store.asked, [60 + ROOM_MARGIN])

    def test_no_room(self) -> None:
        """
        When the store cannot make room, the write is not tried again and
        the outlet says so; passing through, chunks go to memory.
        """
        store = _Store(refusals=1, can_make_room=False)
        outlet = _outlet(store)
        outlet.open(None)
        self.assertFalse(outlet.take(b"abc", 0, None))
        self.assertEqual(store.spool.refusals, 0)
        outlet.pass_through(0)
        self.assertIsNone(outlet.spool)
        reader = outlet.open_reader()
        self.assertTrue(outlet.take(b"abc", 0, None))
        self.assertEqual(reader.read(0, 10), b"abc")

    def test_still_full(self) -> None:
        """A write refused again after making room leaves the store full."""
        store = _Store(refusals=2, can_make_room=True)
        outlet = _outlet(store)
        outlet.open(None)
        self.assertFalse(outlet.take(b"abc", 0, None))

    def test_room(self) -> None:
        """
        The room asked for is what is left of the file (at least the
        chunk), or the chunk if the length is unknown, plus a margin.
        """
        self.assertEqual(room(100, 30, 10), 70 + ROOM_MARGIN)
        self.assertEqual(room(None, 30, 10), 10 + ROOM_MARGIN)
        self.assertEqual(room(10, 30, 10), 10 + ROOM_MARGIN)
