# -*- test-case-name: tests.storage.test_objectreader -*-
"""
Reading an object of an S3 store by byte ranges into a consumer: the
:class:`~twisted_pypi.storage.interfaces.IFileReader` of the object store
(:mod:`~twisted_pypi.storage.s3files`).

Each range is one ranged ``GET`` conditional on the version the reader was
opened on (``If-Match`` its entity tag), whose body is streamed into the
consumer as it arrives: the consumer's pauses pause the store's connection,
so memory stays flat however large the object and however slow the client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IConsumer, IProducer, IPushProducer
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.errors import NotFound, PreconditionFailed, S3Error
from twisted_pypi.objectstore.objects import ObjectBody
from twisted_pypi.storage.interfaces import (
    FileGone,
    FileStat,
    IFileReader,
    ReadStopped,
    ShortRead,
    StoreUnreachable,
)

__all__ = ["ObjectReader"]


@implementer(IFileReader)
class ObjectReader:
    """
    One version of an object, read by ranged ``GET`` requests.

    :ivar stat: The object's stat (its entity tag is the version read).
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        stat: FileStat,
        gone: Callable[[], object] | None = None,
    ):
        """
        :param client: Sends the requests.
        :param bucket: The object's bucket.
        :param key: The object's key.
        :param stat: The version to read.
        :param gone: Called when a range finds the object deleted or
            replaced before any of its bytes came (the store forgets it).
        """
        self.stat = stat
        self._gone = gone
        self._client = client
        self._bucket = bucket
        self._key = key
        self._active: _RangeStream | None = None
        self._closed = False

    def stream(self, consumer: IConsumer, offset: int, length: int) -> Deferred[None]:
        """
        Write ``length`` bytes from ``offset`` to ``consumer`` with one
        ranged ``GET``.

        :return: See :meth:`IFileReader.stream`; failing with
            :class:`FileGone` if the object was deleted or replaced before
            any byte came, :class:`ShortRead` if it changed or ended later,
            and with :class:`StoreUnreachable` if the store failed.
        :raise ValueError: If the reader is closed or already streaming.
        """
        if self._closed or self._active is not None:
            raise ValueError("reader closed or busy")
        active = _RangeStream(consumer, length, self._gone)
        self._active = active
        got = self._client.get(
            self._bucket, self._key, offset, length, if_match=self.stat.etag
        )
        return active.start(got).addBoth(self._idle)

    def _idle(self, result: object) -> object:
        """A range ended: the reader may stream another."""
        self._active = None
        return result

    def close(self) -> None:
        """Stop any range being read; calling this more than once is harmless."""
        self._closed = True
        if self._active is not None:
            self._active.stopProducing()


@implementer(IPushProducer, IConsumer)
class _RangeStream:
    """
    One range in flight: a push producer for the reader's consumer, and the
    consumer of the store's response body, passing pauses one way and bytes
    the other.  Pauses that come before the response are kept and applied
    to the connection once it registers.
    """

    def __init__(
        self,
        consumer: IConsumer,
        length: int,
        gone: Callable[[], object] | None = None,
    ) -> None:
        """
        :param consumer: Where the bytes go.
        :param length: How many bytes are expected.
        :param gone: Called when the object is found deleted or replaced.
        """
        self._consumer = consumer
        self._gone = gone
        self._length = length
        self._received = 0
        self._connection: IPushProducer | None = None
        self._paused = False
        self._stopped = False
        self._work: Deferred[Any] | None = None

    def start(self, got: Deferred[ObjectBody]) -> Deferred[None]:
        """
        Register with the consumer, then stream the body once the response
        came.

        :param got: The ``GET`` in flight.
        :return: See :meth:`ObjectReader.stream`.
        """
        self._consumer.registerProducer(self, True)
        self._work = got
        result: Deferred[None] = Deferred(lambda _: self._cancel())
        got.addCallback(self._body)
        got.addCallbacks(self._ended, self._failed)
        got.addBoth(self._report, result)
        return result

    def _body(self, body: ObjectBody) -> Deferred[None]:
        """The response came: stream its body into this consumer."""
        if self._stopped:
            body.discard()
            raise ReadStopped()
        streaming = body.stream_to(self)
        self._work = streaming
        return streaming

    def _ended(self, ignored: object) -> None:
        """The body ended whole: it must have been the whole range."""
        if self._received != self._length:
            missing = self._length - self._received
            raise ShortRead(f"the object ended {missing} bytes early")

    def _failed(self, reason: Failure) -> Failure:
        """A failure in the seam's terms."""
        if self._stopped or reason.check(CancelledError):
            return Failure(ReadStopped())
        if reason.check(NotFound, PreconditionFailed):
            if self._gone is not None:
                self._gone()
            if self._received == 0:
                return Failure(FileGone("the object was deleted or replaced"))
            return Failure(ShortRead("the object was replaced while being read"))
        if reason.check(S3Error):
            return Failure(StoreUnreachable(str(reason.value)))
        return reason

    def _report(self, outcome: object, result: Deferred[None]) -> None:
        """
        Unregister (unless the consumer stopped this producer: it is tearing
        down), then report the outcome (unless cancelled).
        """
        if result.called:
            return
        if not self._stopped:
            self._consumer.unregisterProducer()
        if isinstance(outcome, Failure):
            result.errback(outcome)
        else:
            result.callback(None)

    def _cancel(self) -> None:
        """The caller gave up: stop the request or the body."""
        self._stopped = True
        self._consumer.unregisterProducer()
        if self._work is not None and not self._work.called:
            self._work.cancel()

    # IConsumer, for the store's response body.

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """The connection delivers the body: apply a pause in force."""
        self._connection = IPushProducer(producer)
        if self._paused:
            self._connection.pauseProducing()

    def unregisterProducer(self) -> None:
        """The body ended."""
        self._connection = None

    def write(self, data: bytes) -> None:
        """:param data: Bytes of the range."""
        if not self._stopped:
            self._received += len(data)
            self._consumer.write(data)

    # IPushProducer, for the reader's consumer.

    def pauseProducing(self) -> None:
        """The consumer is full."""
        self._paused = True
        if self._connection is not None:
            self._connection.pauseProducing()

    def resumeProducing(self) -> None:
        """The consumer has room again."""
        self._paused = False
        if self._connection is not None:
            self._connection.resumeProducing()

    def stopProducing(self) -> None:
        """
        The consumer is going away: stop the request or close the
        connection; the range fails with :class:`ReadStopped`.
        """
        if self._stopped:
            return
        self._stopped = True
        if self._work is not None and not self._work.called:
            self._work.cancel()
