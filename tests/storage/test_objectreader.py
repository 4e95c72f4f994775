"""
Tests for :mod:`twisted_pypi.storage.objectreader`: ranges of an object
streamed into a consumer, over a fake client and response body.
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from attrs import define, field
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IConsumer, IPushProducer
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from tests.consumers import Consumer
from twisted_pypi.objectstore.errors import (
    NotFound,
    PreconditionFailed,
    StoreUnavailable,
)
from twisted_pypi.storage.interfaces import (
    FileGone,
    FileStat,
    ReadStopped,
    ShortRead,
    StoreUnreachable,
)
from twisted_pypi.storage.objectreader import ObjectReader

STAT = FileStat(10, 1e9, "v1")


@implementer(IPushProducer)
@define
class Connection:
    """The store's connection, as the body's producer."""

    paused: bool = False
    stopped: bool = False

    def pauseProducing(self) -> None:
        """Paused."""
        self.paused = True

    def resumeProducing(self) -> None:
        """Resumed."""
        self.paused = False

    def stopProducing(self) -> None:
        """Stopped."""
        self.stopped = True


@define
class Body:
    """A response body the test delivers by hand."""

    connection: Connection = field(factory=Connection)
    consumer: IConsumer | None = None
    done: Deferred[None] = field(factory=Deferred)

    def stream_to(self, consumer: IConsumer) -> Deferred[None]:
        """Register the connection with ``consumer``."""
        self.consumer = consumer
        consumer.registerProducer(self.connection, True)
        return self.done

    def discard(self) -> None:
        """Close the connection."""
        self.connection.stopped = True

    def deliver(self, *chunks: bytes) -> None:
        """Write ``chunks``, then end the body."""
        assert self.consumer is not None
        for chunk in chunks:
            self.consumer.write(chunk)
        self.consumer.unregisterProducer()
        self.done.callback(None)


@define
class Client:
    """Records ranged GETs; the test answers them."""

    gets: list[tuple[str, str, int, int | None, str | None]] = field(factory=list)
    answer: Deferred[Any] = field(factory=Deferred)

    def get(
        self,
        bucket: str,
        key: str,
        offset: int = 0,
        length: int | None = None,
        if_match: str | None = None,
    ) -> Deferred[Any]:
        """Record the request; answer with :attr:`answer`."""
        self.gets.append((bucket, key, offset, length, if_match))
        return self.answer


class ObjectReaderTests(SynchronousTestCase):
    """
    :class:`ObjectReader` reads each range with one conditional ranged GET.
    """

    def setUp(self) -> None:
        """A reader of a 10-byte object over a fake client."""
        self.client = Client()
        self.reader = ObjectReader(cast(Any, self.client), "b", "files/x.whl", STAT)
        self.consumer = Consumer()

    def test_range(self) -> None:
        """
        A range is one ``GET`` of those bytes, if the object is still the
        version opened; its bytes reach the consumer and the producer is
        unregistered before the result fires.
        """
        d = self.reader.stream(self.consumer, 2, 5)
        self.assertEqual(self.client.gets, [("b", "files/x.whl", 2, 5, "v1")])
        body = Body()
        self.client.answer.callback(body)
        body.deliver(b"ab", b"cde")
        self.assertIsNone(self.successResultOf(d))
        self.assertEqual(b"".join(self.consumer.chunks), b"abcde")
        self.assertIsNone(self.consumer.producer)

    def test_pause_before_the_answer(self) -> None:
        """
        A pause that comes before the store answered pauses the connection
        as soon as the body starts; resuming resumes it.
        """
        self.reader.stream(self.consumer, 0, 10)
        assert self.consumer.producer is not None
        self.consumer.producer.pauseProducing()
        body = Body()
        self.client.answer.callback(body)
        self.assertTrue(body.connection.paused)
        self.consumer.producer.resumeProducing()
        self.assertFalse(body.connection.paused)

    def test_short(self) -> None:
        """
        A body shorter than the range fails with :class:`ShortRead`.
        """
        d = self.reader.stream(self.consumer, 0, 10)
        body = Body()
        self.client.answer.callback(body)
        body.deliver(b"abc")
        self.failureResultOf(d, ShortRead)

    def test_replaced(self) -> None:
        """
        An object replaced since it was opened fails with :class:`ShortRead`.
        """
        self.client.answer = fail(PreconditionFailed("changed", 412))
        self.failureResultOf(self.reader.stream(self.consumer, 0, 10), ShortRead)

    def test_gone(self) -> None:
        """
        An object deleted (404) or replaced (412 on ``If-Match``) before
        any byte came fails the range with :class:`FileGone` and tells the
        store, which forgets it.
        """
        for error in (NotFound("no such key", 404), PreconditionFailed("new", 412)):
            told: list[bool] = []
            reader = ObjectReader(
                cast(Any, self.client),
                "b",
                "files/x.whl",
                STAT,
                partial(told.append, True),
            )
            self.client.answer = fail(error)
            self.failureResultOf(reader.stream(Consumer(), 0, 10), FileGone)
            self.assertEqual(told, [True])

    def test_store_down(self) -> None:
        """
        A store that fails makes the range fail with
        :class:`StoreUnreachable`.
        """
        self.client.answer = fail(StoreUnavailable("refused"))
        d = self.reader.stream(self.consumer, 0, 10)
        self.failureResultOf(d, StoreUnreachable)

    def test_consumer_stops(self) -> None:
        """
        A consumer that stops the producer closes the connection; the range
        fails with :class:`ReadStopped`.
        """
        d = self.reader.stream(self.consumer, 0, 10)
        body = Body()
        body.done = Deferred(lambda _: body.discard())
        self.client.answer.callback(body)
        assert self.consumer.producer is not None
        self.consumer.producer.stopProducing()
        self.assertTrue(body.connection.stopped)
        self.failureResultOf(d, ReadStopped)

    def test_close_before_the_answer(self) -> None:
        """
        Closing the reader before the store answered cancels the request.
        """
        cancelled: list[object] = []
        self.client.answer = Deferred(cancelled.append)
        d = self.reader.stream(self.consumer, 0, 10)
        self.reader.close()
        self.assertEqual(len(cancelled), 1)
        self.failureResultOf(d, ReadStopped)
        self.assertRaises(ValueError, self.reader.stream, self.consumer, 0, 1)
