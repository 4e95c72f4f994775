"""
Tests for :mod:`twisted_pypi.web.streambody`: a body streamed from a file
reader through the reactor (the full HTTP behaviour is in
``tests/web/test_fileserve.py``).
"""

from __future__ import annotations

from typing import Any, cast

from twisted.internet.defer import Deferred
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Request

from twisted_pypi.storage.rangereader import open_path
from twisted_pypi.web.ranges import Part
from twisted_pypi.web.streambody import StreamedBody

DATA = bytes(range(256)) * 4


class _Request:
    """
    What a body needs of a request: writes, a producer, the finish.

    :ivar written: The bytes written.
    :ivar producer: The producer registered, while one is.
    :ivar finished: How many times it was finished.
    """

    startedWriting = False

    def __init__(self) -> None:
        self.written = b""
        self.producer: Any = None
        self.finished = 0
        self._finish: Deferred[None] = Deferred()

    def write(self, data: bytes) -> None:
        """Take ``data``."""
        self.startedWriting = True
        self.written += data

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Keep the producer."""
        self.producer = producer

    def unregisterProducer(self) -> None:
        """Forget the producer."""
        self.producer = None

    def notifyFinish(self) -> Deferred[None]:
        """Fires when the response ends (never, here)."""
        return self._finish

    def finish(self) -> None:
        """The response is complete."""
        self.finished += 1


class StreamedBodyTests(SynchronousTestCase):
    """
    :class:`StreamedBody` writes each part's prefix and range, then the
    trailer, and closes the reader.
    """

    def setUp(self) -> None:
        """A file of 1 KiB, open with small chunks."""
        path = FilePath(self.mktemp())
        path.setContent(DATA)
        self.reader = open_path(path.path, 100)
        self.addCleanup(self.reader.close)
        self.fake = _Request()
        self.request = cast(Request, self.fake)

    def test_parts_and_trailer(self) -> None:
        """
        Two parts with their prefixes and the trailer arrive in order, the
        request is finished and the reader closed.
        """
        parts = [Part(b"<a>", 10, 300), Part(b"<b>", 900, 50)]
        StreamedBody(self.request, self.reader, parts, b"<end>").start()
        self.assertEqual(
            self.fake.written,
            b"<a>" + DATA[10:310] + b"<b>" + DATA[900:950] + b"<end>",
        )
        self.assertEqual(self.fake.finished, 1)
        self.assertIsNone(self.fake.producer)
        self.assertRaises(ValueError, self.reader.fileno)

    def test_client_gone(self) -> None:
        """
        A client that goes away while the body is paused stops it: the
        reader is closed and nothing more is written.
        """
        body = StreamedBody(self.request, self.reader, [Part(b"", 0, 1024)], b"")
        body.pauseProducing()
        body.start()
        written = len(self.fake.written)
        body.stopProducing()
        body.resumeProducing()
        self.assertEqual(len(self.fake.written), written)
        self.assertLess(written, 1024)
        self.assertRaises(ValueError, self.reader.fileno)
        self.assertEqual(self.fake.finished, 0)
