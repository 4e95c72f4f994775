"""
Tests for :mod:`twisted_pypi.files.feed`: followers reading a spool, then
memory once a download passes through.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.files.feed import Feed


class _Spool:
    """A spool reader over bytes."""

    def __init__(self, data: bytes) -> None:
        """:param data: The spool's bytes."""
        self.data = data
        self.closed = False

    def read(self, offset: int, length: int) -> bytes:
        """:return: The bytes asked for."""
        return self.data[offset : offset + length]

    def close(self) -> None:
        """Remember it was closed."""
        self.closed = True


class FeedTests(SynchronousTestCase):
    """
    :class:`Feed` and its readers.
    """

    def setUp(self) -> None:
        self.events: list[str] = []
        self.feed = Feed(
            lambda: self.events.append("pause"),
            lambda: self.events.append("resume"),
            limit=8,
        )

    def test_spool_then_memory(self) -> None:
        """
        A reader reads bytes before the feed's start from the spool, and
        the rest from memory, never across the boundary in one read.
        """
        spool = _Spool(b"0123")
        reader = self.feed.open(spool)  # type: ignore[arg-type]
        self.feed.pass_through(4)
        self.feed.append(b"4567")
        self.assertEqual(reader.read(2, 10), b"23")
        self.assertEqual(reader.read(4, 10), b"4567")
        reader.close()
        self.assertTrue(spool.closed)
        self.assertEqual(self.feed.held, 0)

    def test_memory_trimmed_to_slowest(self) -> None:
        """
        Memory holds bytes until the slowest reader has read them; the
        upstream is paused past the limit and resumed at half of it.
        """
        self.feed.pass_through(0)
        fast, slow = self.feed.open(None), self.feed.open(None)
        self.feed.append(b"abcdef")
        self.assertEqual(fast.read(0, 6), b"abcdef")
        self.assertEqual(self.feed.held, 6)
        self.feed.append(b"ghi")
        self.assertEqual(self.events, ["pause"])
        self.assertEqual(slow.read(0, 5), b"abcde")
        self.assertEqual(self.feed.held, 4)
        self.assertEqual(self.events, ["pause", "resume"])
        slow.close()
        self.assertEqual(self.feed.held, 3)
        self.assertRaises(OSError, fast.read, 0, 1)

    def test_late_reader_refused(self) -> None:
        """
        Once the spool was dropped, a reader from the first byte cannot be
        opened (unless memory holds every byte from the first).
        """
        self.feed.pass_through(10)
        self.assertRaises(OSError, self.feed.open, None)

    def test_reader_from_a_position(self) -> None:
        """
        A reader opened at a position (a range's first byte) holds no byte
        before it: memory is trimmed up to there, and the upstream is not
        paused for bytes it will never read.
        """
        spool = _Spool(b"0123")
        reader = self.feed.open(spool, 20)  # type: ignore[arg-type]
        self.feed.pass_through(4)
        self.feed.append(b"456789abcdefghij")
        self.assertEqual(self.feed.held, 0)
        self.assertEqual(self.events, [])
        self.feed.append(b"KLMN")
        self.assertEqual(self.feed.held, 4)
        self.assertEqual(reader.read(20, 10), b"KLMN")

    def test_late_reader_from_a_position(self) -> None:
        """
        Without a spool, a reader can be opened only where memory still
        holds the bytes.
        """
        self.feed.pass_through(10)
        keeper = self.feed.open(None, 12)
        self.feed.append(b"abcd")
        self.assertEqual(self.feed.open(None, 12).read(12, 2), b"cd")
        self.assertRaises(OSError, self.feed.open, None, 11)
        keeper.close()
