# -*- test-case-name: tests.storage.test_lru -*-
"""
The bookkeeping of a file store, whatever holds the bytes: which files it
has and their sizes, in least-recently-used order, which are pinned, how many
bytes downloads in flight have reserved, and which file to evict next to stay
within a size budget.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from attrs import define, field
from zope.interface import implementer

from twisted_pypi.storage.interfaces import IReservation, Key

__all__ = ["LruIndex", "Reservation", "Use"]


@define
class Use:
    """
    What the index knows about one complete file.

    :ivar size: The file's size in bytes.
    :ivar recorded: When its last use was recorded where it survives a
        restart (for a local directory, the file's access time), in seconds
        since the epoch.
    """

    size: int
    recorded: float


@implementer(IReservation)
@define
class Reservation:
    """
    Bytes set aside for a download in flight, counted against the budget
    until :meth:`release` is called.

    :ivar nbytes: The number of bytes reserved.
    """

    _index: LruIndex
    nbytes: int
    _released: bool = False

    def release(self) -> None:
        """Give the bytes back.  Calling this more than once is harmless."""
        if not self._released:
            self._released = True
            self._index.reserved -= self.nbytes


@define
class LruIndex:
    """
    The files of a store by key, least recently used first, with pins,
    reservations and a budget.

    :ivar max_size: The budget in bytes, or ``None`` for no limit.
    :ivar total_size: The bytes of all files in the index.
    :ivar reserved: The bytes reserved by downloads in flight.
    """

    max_size: int | None
    total_size: int = field(default=0, init=False)
    reserved: int = field(default=0, init=False)
    _uses: OrderedDict[Key, Use] = field(factory=OrderedDict, init=False)
    _pins: dict[Key, int] = field(factory=dict, init=False)

    def __len__(self) -> int:
        """:return: How many files the index lists."""
        return len(self._uses)

    def __contains__(self, key: object) -> bool:
        """:return: Whether the index lists ``key``."""
        return key in self._uses

    def get(self, key: Key) -> Use | None:
        """
        :param key: A file.
        :return: What the index knows about it, or ``None``.
        """
        return self._uses.get(key)

    def add(self, key: Key, size: int, recorded: float) -> None:
        """
        List a file as the most recently used, replacing what was known.

        :param key: The file.
        :param size: Its size.
        :param recorded: When its last use was recorded durably.
        """
        self.forget(key)
        self._uses[key] = Use(size, recorded)
        self.total_size += size

    def resize(self, key: Key, size: int) -> None:
        """
        Correct the size of a listed file (it changed behind our back).

        :param key: The file.
        :param size: Its size now.
        """
        use = self._uses[key]
        self.total_size += size - use.size
        use.size = size

    def forget(self, key: Key) -> None:
        """
        Drop a file from the index; a file not listed is ignored.

        :param key: The file.
        """
        use = self._uses.pop(key, None)
        if use is not None:
            self.total_size -= use.size

    def clear(self) -> None:
        """Drop every file (pins and reservations stay)."""
        self._uses.clear()
        self.total_size = 0

    def use(self, key: Key) -> Use | None:
        """
        Move a file to the most recently used end.

        :param key: The file.
        :return: What the index knows about it, or ``None`` if not listed.
        """
        use = self._uses.get(key)
        if use is not None:
            self._uses.move_to_end(key)
        return use

    def entries(self) -> list[tuple[Key, int]]:
        """
        :return: ``(key, size)`` of every file, least recently used first.
        """
        return [(key, use.size) for key, use in self._uses.items()]

    def pin(self, key: Key) -> None:
        """
        Protect a file from eviction until a matching :meth:`unpin`.

        :param key: The file (it need not be listed yet).
        """
        self._pins[key] = self._pins.get(key, 0) + 1

    def unpin(self, key: Key) -> None:
        """
        Undo one :meth:`pin`.

        :param key: The file.
        :raise ValueError: If the file is not pinned.
        """
        count = self._pins.get(key, 0)
        if count <= 0:
            raise ValueError(f"not pinned: {key!r}")
        if count == 1:
            del self._pins[key]
        else:
            self._pins[key] = count - 1

    def is_pinned(self, key: Key) -> bool:
        """
        :param key: A file.
        :return: Whether it is pinned.
        """
        return key in self._pins

    def reserve(self, nbytes: int) -> Reservation:
        """
        Count ``nbytes`` against the budget until the reservation is
        released.  Evicting to make room is the store's job (see
        :meth:`next_victim`).

        :param nbytes: The bytes to reserve.
        """
        self.reserved += nbytes
        return Reservation(self, nbytes)

    def next_victim(self, keep: Key | None = None) -> Key | None:
        """
        The file to evict next: the least recently used unpinned one, while
        the files and reservations exceed the budget.

        :param keep: A file never to choose.
        :return: Its key, or ``None`` when within budget or nothing can go.
        """
        if self.max_size is None or self.total_size + self.reserved <= self.max_size:
            return None
        return next((k for k in self._uses if k != keep and k not in self._pins), None)

    def victims_for_room(self, nbytes: int, free: int | None) -> list[Key]:
        """
        The files to evict, whatever the budget, to make ``nbytes`` of room
        on a full disk: the least recently used unpinned ones, until their
        sizes add up to ``nbytes``.

        :param nbytes: The room wanted.
        :param free: The bytes still free, if known: when evicting every
            unpinned file would still leave less than ``nbytes``, none is
            chosen (the room cannot be made).
        :return: Their keys, least recently used first.
        """
        unpinned = [
            (k, use.size) for k, use in self._uses.items() if k not in self._pins
        ]
        if free is not None and free + sum(size for _, size in unpinned) < nbytes:
            return []
        victims, freed = [], 0
        for key, size in unpinned:
            if freed >= nbytes:
                break
            victims.append(key)
            freed += size
        return victims

    def load(self, found: Iterable[tuple[float, Key, int]]) -> None:
        """
        Replace the listed files with ``found``.

        :param found: ``(last use, key, size)`` of every file, in any order;
            the last use is also taken as recorded durably.
        """
        self.clear()
        for used, key, size in sorted(found):
            self.add(key, size, used)
