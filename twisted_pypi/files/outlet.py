# -*- test-case-name: tests.files.test_outlet,tests.files.test_download -*-
"""
Where a download's body goes: the store's spool while the store has room;
past a full store, memory that its followers read (see
:mod:`twisted_pypi.files.feed`).

The store says it is full by raising
:class:`~twisted_pypi.storage.interfaces.StoreFull`; the outlet then asks it
to :meth:`~twisted_pypi.storage.interfaces.IFileStore.make_room` for the
rest of the file and tries once more.  Only if that fails too does the
download decide what to do (pass through, or fail when nobody follows).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IConsumer, IProducer, IPushProducer
from zope.interface import implementer

from twisted_pypi.files.feed import Feed
from twisted_pypi.storage.interfaces import IFileStore, ISpool, ISpoolReader, StoreFull

__all__ = ["ROOM_MARGIN", "Outlet", "room"]

#: Bytes asked of a full store beyond what a download still has to write
#: (file systems need some room of their own).
ROOM_MARGIN = 1 << 20


@implementer(IConsumer)
class Outlet:
    """
    A download's spool, or its feed once it passes through; the consumer of
    its upstream body, which the outlet pauses only when passing through and
    its slowest follower lags.

    :ivar spool: The spool being written, until committed or dropped.
    :ivar feed: What the followers read.
    """

    def __init__(
        self,
        store: IFileStore,
        receive: Callable[[bytes], None],
        paused: Callable[[bool], None],
    ) -> None:
        """
        :param store: Makes spools, and room.
        :param receive: Takes each chunk of the upstream body.
        :param paused: Told when the upstream is paused (``True``) and
            resumed (``False``), to stop and restart an idle timer.
        """
        self._store = store
        self._receive = receive
        self._paused = paused
        self._producer: IPushProducer | None = None
        self.spool: ISpool | None = None
        self.feed = Feed(self._pause, self._resume)

    @property
    def passing(self) -> bool:
        """Whether the body passes through memory, not the spool."""
        return self.feed.passing

    def open(self, expected: int | None) -> bool:
        """
        Open the spool, making room if the store is full.

        :param expected: The body's length, if known.
        :return: Whether it is open; ``False`` if the store stayed full.
        :raise OSError: If it cannot be opened for another reason.
        """

        def open_spool() -> None:
            self.spool = self._store.open_spool()

        return self._with_room(open_spool, room(expected, 0, 0))

    def take(self, data: bytes, written: int, expected: int | None) -> bool:
        """
        Append a chunk: to the spool, making room if the store is full; to
        memory when passing through.

        :param data: The chunk.
        :param written: The bytes before it.
        :param expected: The body's length, if known.
        :return: Whether it was taken; ``False`` if the store stayed full
            (then :meth:`pass_through` and write again, or give up).
        :raise OSError: If the spool cannot be written for another reason.
        """
        spool = self.spool
        if spool is None:
            self.feed.append(data)
            return True
        return self._with_room(
            lambda: spool.write(data), room(expected, written, len(data))
        )

    def pass_through(self, written: int) -> None:
        """
        Take the bytes from ``written`` on in memory, and drop the spool
        (its open readers read on).

        :param written: The bytes in the spool.
        """
        self.feed.pass_through(written)
        self.drop()

    def open_reader(self, position: int = 0) -> ISpoolReader:
        """
        :param position: The first byte the caller will read.
        :return: A new reader from there, for the caller to close.
        :raise OSError: If there is no such byte to read any more.
        """
        if self.spool is None:
            return self.feed.open(None, position)
        return self.feed.open(self.spool.open_reader(), position)

    def drop(self) -> None:
        """Discard the spool, if any (open readers read on)."""
        spool, self.spool = self.spool, None
        if spool is not None:
            spool.discard()

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """:param producer: The upstream connection."""
        self._producer = IPushProducer(producer, None)

    def unregisterProducer(self) -> None:
        """The body ended."""
        self._producer = None

    def write(self, data: bytes) -> None:
        """:param data: Upstream body bytes, for the download."""
        self._receive(data)

    def _with_room(self, write: Callable[[], object], nbytes: int) -> bool:
        """
        Write, and if the store is full, ask it for ``nbytes`` of room and
        write again.

        :return: Whether it was written.
        """
        try:
            write()
            return True
        except StoreFull:
            if not self._store.make_room(nbytes):
                return False
        try:
            write()
            return True
        except StoreFull:
            return False

    def _pause(self) -> None:
        """The slowest follower lags: pause the upstream."""
        if self._producer is not None:
            self._producer.pauseProducing()
        self._paused(True)

    def _resume(self) -> None:
        """The followers caught up: resume the upstream."""
        if self._producer is not None:
            self._producer.resumeProducing()
        self._paused(False)


def room(expected: int | None, written: int, chunk: int) -> int:
    """
    The room to ask of a full store: what is left to write (this chunk, if
    the length is unknown), and :data:`ROOM_MARGIN`.

    :param expected: The body's length, if known.
    :param written: The bytes written before the chunk.
    :param chunk: The chunk's length.
    """
    left = chunk if expected is None else max(expected - written, chunk)
    return left + ROOM_MARGIN
