# -*- test-case-name: tests.files.test_feed -*-
"""
What the followers of a download read: its spool file, and, once the store
is full and the download passes through without caching, the bytes past
the spool's end, held in memory only until every follower has read them.

Each follower reads through a :class:`FeedReader` of its own, opened on the
spool while there is one.  When the download stops writing the spool at
offset *n*, every reader keeps reading bytes before *n* from the spool (its
descriptor stays readable after the file is deleted) and bytes from *n* on
from the :class:`Feed`'s memory.  Memory is bounded: past
:data:`PASS_THROUGH_BUFFER` bytes not yet read by the slowest follower, the
feed asks for the upstream to be paused, and for it to resume once half of
them were read.
"""

from __future__ import annotations

from collections.abc import Callable

from zope.interface import implementer

from twisted_pypi.storage.interfaces import ISpoolReader

__all__ = ["PASS_THROUGH_BUFFER", "Feed", "FeedReader"]

#: The most bytes a download passing through holds for its slowest
#: follower before it pauses the upstream.
PASS_THROUGH_BUFFER = 1 << 20


class Feed:
    """
    The bytes of one download for its followers' readers.

    :ivar start: Where the bytes in memory begin (the spool's end), once
        the download passes through; ``None`` while everything is in the
        spool.
    :ivar paused: Whether the feed asked for the upstream to be paused.
    """

    def __init__(
        self,
        pause: Callable[[], None],
        resume: Callable[[], None],
        limit: int = PASS_THROUGH_BUFFER,
    ) -> None:
        """
        :param pause: Pauses the upstream (too much is held).
        :param resume: Resumes it (half of that was read).
        :param limit: The most bytes held before pausing.
        """
        self._pause = pause
        self._resume = resume
        self._limit = limit
        self.start: int | None = None
        self.paused = False
        self._base = 0
        self._held = bytearray()
        self._readers: list[FeedReader] = []

    @property
    def passing(self) -> bool:
        """
        Whether the download passes through (bytes past :attr:`start` are in
        memory, not in the spool).
        """
        return self.start is not None

    @property
    def held(self) -> int:
        """
        The bytes held in memory.
        """
        return len(self._held)

    def open(self, spool: ISpoolReader | None, position: int = 0) -> FeedReader:
        """
        A reader for a new follower.

        :param spool: A reader of the spool, which the new reader owns, or
            ``None`` if there is no spool.
        :param position: The first byte the follower will read (a range's):
            the bytes before it are not held for this reader.
        :raise OSError: If the bytes from ``position`` on cannot all be read
            any more (the spool was dropped and memory holds only its tail).
        """
        if spool is None and (self.start is None or self._base > position):
            raise OSError("the file is no longer readable from there")
        reader = FeedReader(self, spool)
        reader.position = position
        self._readers.append(reader)
        return reader

    def pass_through(self, start: int) -> None:
        """
        From now on, bytes from ``start`` on are appended to memory rather
        than written to the spool (whose readers stay open).

        :param start: The spool's end.
        """
        self.start = self._base = start

    def append(self, data: bytes) -> None:
        """
        Hold bytes past the spool for the readers; pause the upstream if the
        slowest reader is too far behind.

        :param data: The next bytes.
        """
        self._held += data
        self._trim()
        if not self.paused and len(self._held) > self._limit:
            self.paused = True
            self._pause()

    def read(self, offset: int, length: int) -> bytes:
        """
        :return: At most ``length`` held bytes from ``offset``.
        :raise OSError: If they are no longer held.
        """
        at = offset - self._base
        if at < 0:
            raise OSError(f"byte {offset} is no longer held")
        return bytes(self._held[at : at + length])

    def advanced(self) -> None:
        """
        A reader read on, or closed: forget what every reader has read, and
        resume the upstream once half the limit is free.
        """
        self._trim()
        if self.paused and len(self._held) <= self._limit // 2:
            self.paused = False
            self._resume()

    def forget(self, reader: FeedReader) -> None:
        """
        A reader closed.

        :param reader: One of the feed's.
        """
        if reader in self._readers:
            self._readers.remove(reader)
            self.advanced()

    def _trim(self) -> None:
        """
        Drop the held bytes every reader has read (all, if none is left).
        """
        if self.start is None:
            return
        end = self._base + len(self._held)
        low = min((max(r.position, self.start) for r in self._readers), default=end)
        if low > self._base:
            del self._held[: low - self._base]
            self._base = low


@implementer(ISpoolReader)
class FeedReader:
    """
    One follower's reader of a download: from the spool, then from the
    feed's memory.

    :ivar position: The end of the bytes last read.
    """

    def __init__(self, feed: Feed, spool: ISpoolReader | None) -> None:
        """
        :param feed: The download's feed.
        :param spool: A reader of its spool, owned by this reader, if any.
        """
        self._feed: Feed | None = feed
        self._spool = spool
        self.position = 0

    def read(self, offset: int, length: int) -> bytes:
        """
        :return: At most ``length`` bytes from ``offset``: from the spool
            before the feed's start, else from its memory.
        :raise OSError: If the reader is closed, or the bytes are gone.
        """
        feed = self._feed
        if feed is None:
            raise OSError("feed reader closed")
        start = feed.start
        if start is None or offset < start:
            if self._spool is None:
                raise OSError(f"byte {offset} is not in memory")
            if start is not None:
                length = min(length, start - offset)
            data = self._spool.read(offset, length)
        else:
            data = feed.read(offset, length)
        self.position = offset + len(data)
        if start is not None:
            feed.advanced()
        return data

    def close(self) -> None:
        """Close the spool's reader and leave the feed; harmless twice."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.forget(self)
