"""
A fake ``IConsumer`` for tests of producers: it records what it is given and
can behave like a saturated connection.
"""

from __future__ import annotations

from twisted.internet.interfaces import IConsumer, IProducer, IPushProducer
from zope.interface import implementer

__all__ = ["Consumer"]


@implementer(IConsumer)
class Consumer:
    """
    Records what it is given; with ``pause_each`` it pauses its producer
    after every write, as a saturated connection does.

    :ivar chunks: The writes.
    :ivar producer: The registered producer, while one is.
    :ivar registrations: ``(producer, streaming)`` of every registration.
    """

    def __init__(self, pause_each: bool = False) -> None:
        """:param pause_each: Pause the producer after every write."""
        self.pause_each = pause_each
        self.chunks: list[bytes] = []
        self.producer: IPushProducer | None = None
        self.registrations: list[tuple[object, bool]] = []

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """Keep the producer."""
        self.producer = IPushProducer(producer)
        self.registrations.append((producer, streaming))

    def unregisterProducer(self) -> None:
        """Forget the producer."""
        self.producer = None

    def write(self, data: bytes) -> None:
        """Record the bytes; maybe pause."""
        self.chunks.append(data)
        if self.pause_each and self.producer is not None:
            self.producer.pauseProducing()
