# -*- test-case-name: tests.objectstore.test_bodies -*-
"""
Request and response bodies of object store requests, moved with
backpressure.

Uploads: :class:`BytesProducer` for small bodies held in memory, and
:class:`FileSliceProducer` for a byte range of a local file (a whole file,
or one part of a multipart upload), read one chunk per cooperator step and
paused whenever the connection's buffer is full, so memory stays flat
however large the file.

Downloads: :func:`read_limited` collects a small body (an XML document or a
record) up to a size cap; :func:`stream_body` writes a large one into any
``IConsumer`` with the connection registered as its push producer, so a slow
consumer pauses the store's socket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from twisted.internet import error
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IConsumer
from twisted.internet.protocol import Protocol, connectionDone
from twisted.internet.task import CooperativeTask, TaskStopped, cooperate
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone

# Twisted's own marker of a body that ended before its length; a private
# name, but the only way to tell a cut body from other failures it wraps.
from twisted.web.http import _DataLoss
from twisted.web.iweb import IBodyProducer, IResponse
from zope.interface import implementer

from twisted_pypi.objectstore.errors import StoreUnavailable

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "BytesProducer",
    "FileSliceProducer",
    "ShortFile",
    "describe_cut",
    "discard_body",
    "read_limited",
    "stream_body",
]

#: Bytes read from a local file per cooperator step.
DEFAULT_CHUNK_SIZE = 64 * 1024


class ShortFile(OSError):
    """
    A local file being uploaded ended before the range being sent did.
    """


@implementer(IBodyProducer)
class BytesProducer:
    """
    A body held in memory, written at once.

    :ivar length: Its length.
    """

    def __init__(self, body: bytes) -> None:
        """
        :param body: The bytes.
        """
        self._body = body
        self.length = len(body)

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        """
        Write the body.
        """
        consumer.write(self._body)
        return succeed(None)

    def pauseProducing(self) -> None:
        """
        Nothing to pause: everything was written.
        """

    def resumeProducing(self) -> None:
        """
        Nothing to resume.
        """

    def stopProducing(self) -> None:
        """
        Nothing to stop.
        """


@implementer(IBodyProducer)
class FileSliceProducer:
    """
    ``length`` bytes of a local file from ``offset``, one chunk per
    cooperator step, paused and resumed by the connection.

    The file is opened when the request starts sending it and closed when
    it ends, so a producer can be built long before.

    :ivar length: The number of bytes sent.
    """

    def __init__(
        self,
        path: str,
        offset: int,
        length: int,
        cooperator: Callable[[Iterator[None]], CooperativeTask] = cooperate,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        """
        :param path: The local file.
        :param offset: The first byte sent.
        :param length: How many bytes.
        :param cooperator: Schedules the reading steps (Twisted's global
            cooperator by default; a test's own to step by hand).
        :param chunk_size: Bytes read per step.
        """
        self._path = path
        self._offset = offset
        self.length = length
        self._cooperate = cooperator
        self._chunk_size = chunk_size
        self._task: CooperativeTask | None = None

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        """
        Start writing the range to ``consumer``.

        :return: A Deferred firing once every byte was written, failing
            with :class:`OSError` (:class:`ShortFile` if the file was too
            short); it never fires if :meth:`stopProducing` is called first.
        """
        self._task = self._cooperate(self._steps(consumer))
        done: Deferred[None] = Deferred()

        def finished(_: object) -> None:
            done.callback(None)

        def failed(reason: Failure) -> None:
            if not reason.check(TaskStopped):
                done.errback(reason)

        self._task.whenDone().addCallbacks(finished, failed)
        return done

    def _steps(self, consumer: IConsumer) -> Iterator[None]:
        """
        Read and write one chunk per step.
        """
        with open(self._path, "rb") as f:
            f.seek(self._offset)
            yield from _copy(f, consumer, self.length, self._chunk_size)

    def pauseProducing(self) -> None:
        """
        Stop reading until resumed.
        """
        if self._task is not None:
            self._task.pause()

    def resumeProducing(self) -> None:
        """
        Read on.
        """
        if self._task is not None:
            self._task.resume()

    def stopProducing(self) -> None:
        """
        Stop for good (the request was abandoned).
        """
        task, self._task = self._task, None
        if task is not None:
            try:
                task.stop()
            except TaskStopped:
                pass


def _copy(
    source: BinaryIO, consumer: IConsumer, length: int, chunk_size: int
) -> Iterator[None]:
    """
    Copy ``length`` bytes of ``source`` to ``consumer``, a chunk per step.
    """
    remaining = length
    while remaining > 0:
        chunk = source.read(min(chunk_size, remaining))
        if not chunk:
            raise ShortFile(f"{remaining} bytes missing at the end of the file")
        remaining -= len(chunk)
        consumer.write(chunk)
        yield None


#: What each way of losing a body means, most specific first (the wording
#: of :func:`twisted_pypi.upstream.describe.describe_error`, for the store).
_CUT_PHRASES: tuple[tuple[type[BaseException], str], ...] = (
    (error.ConnectionDone, "the store closed the connection"),
    (error.ConnectionLost, "the connection to the store was lost"),
    (error.TimeoutError, "the store did not answer in time"),
    (_DataLoss, "the body ended before its length"),
)


def describe_cut(reason: Failure | BaseException) -> str:
    """
    Why a body from the store ended early, as one short phrase: the
    failures an HTTP client's ``ResponseFailed`` wraps are named plainly
    (never their ``repr``), each once.

    :param reason: How the body's connection was lost.
    """
    value = reason.value if isinstance(reason, Failure) else reason
    wrapped = getattr(value, "reasons", None)
    if isinstance(wrapped, list) and wrapped:
        phrases: list[str] = []
        for inner in wrapped:
            phrase = (
                describe_cut(inner)
                if isinstance(inner, (Failure, BaseException))
                else str(inner)
            )
            if phrase not in phrases:
                phrases.append(phrase)
        ended = describe_cut(_DataLoss())
        if len(phrases) > 1 and ended in phrases:
            phrases.remove(ended)
        return "; ".join(phrases)
    for kind, phrase in _CUT_PHRASES:
        if isinstance(value, kind):
            return phrase
    return str(value) or type(value).__name__


class _Collector(Protocol):
    """
    Collects a small body, up to a limit.
    """

    def __init__(self, limit: int, what: str) -> None:
        """
        :param limit: The most bytes accepted.
        :param what: The request, for messages.
        """
        self._limit = limit
        self._what = what
        self._chunks: list[bytes] = []
        self._size = 0
        self._ended = False
        self.done: Deferred[bytes] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        """
        Keep ``data``, or give up if the body grew too large.
        """
        if self._ended:
            return
        self._size += len(data)
        if self._size > self._limit:
            self._ended = True
            self._chunks = []
            if self.transport is not None:
                self.transport.stopProducing()  # type: ignore[attr-defined]
            why = f"{self._what}: answer larger than {self._limit} bytes"
            self.done.errback(StoreUnavailable(why))
        else:
            self._chunks.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Report the body, or that it was cut short.
        """
        if self._ended:
            return
        self._ended = True
        if reason.check(ResponseDone):
            self.done.callback(b"".join(self._chunks))
        else:
            why = f"{self._what}: answer cut short: {describe_cut(reason)}"
            self.done.errback(StoreUnavailable(why))


def read_limited(response: IResponse, limit: int, what: str = "") -> Deferred[bytes]:
    """
    A small response body, whole.

    :param response: A response whose body was not delivered yet.
    :param limit: The most bytes accepted.
    :param what: The request, for messages.
    :return: A Deferred firing with the body, or failing with
        :class:`StoreUnavailable` if it was cut short or too large.
    """
    collector = _Collector(limit, what)
    response.deliverBody(collector)
    return collector.done


class _BodyStreamer(Protocol):
    """
    Hands a body to a consumer, then reports how it ended.
    """

    def __init__(self, consumer: IConsumer, what: str) -> None:
        """
        :param consumer: Where the body goes.
        :param what: The request, for messages.
        """
        self._consumer = consumer
        self._what = what
        self._ended = False
        self.done: Deferred[None] = Deferred(self._cancel)

    def connectionMade(self) -> None:
        """
        Let the consumer pause the connection.
        """
        producer: Any = self.transport  # an IPushProducer too
        self._consumer.registerProducer(producer, True)

    def dataReceived(self, data: bytes) -> None:
        """
        Pass ``data`` on.
        """
        if not self._ended:
            self._consumer.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Unregister, and report how the body ended: only a body that came
        whole (as long as its ``Content-Length``) succeeds.
        """
        if self._ended:
            return
        self._ended = True
        self._consumer.unregisterProducer()
        if reason.check(ResponseDone):
            self.done.callback(None)
        else:
            why = f"{self._what}: body cut short: {describe_cut(reason)}"
            self.done.errback(StoreUnavailable(why))

    def _cancel(self, done: Deferred[None]) -> None:
        """
        The consumer gave up: unregister and close the connection.
        """
        if self._ended:
            return
        self._ended = True
        self._consumer.unregisterProducer()
        if self.transport is not None:
            self.transport.stopProducing()  # type: ignore[attr-defined]


def stream_body(
    response: IResponse, consumer: IConsumer, what: str = ""
) -> Deferred[None]:
    """
    Write a response body to ``consumer`` as it arrives, the connection
    registered as its streaming producer meanwhile.

    :param response: A response whose body was not delivered yet.
    :param consumer: Where the body goes.
    :param what: The request, for messages.
    :return: A Deferred firing with ``None`` once the whole body was
        written, or failing with :class:`StoreUnavailable` if it was cut
        short.  Cancelling it closes the connection and unregisters.
    """
    streamer = _BodyStreamer(consumer, what)
    response.deliverBody(streamer)
    return streamer.done


class _Discard(Protocol):
    """
    Closes the connection of a body nobody reads.
    """

    def connectionMade(self) -> None:
        """
        Stop at once.
        """
        assert self.transport is not None
        self.transport.stopProducing()  # type: ignore[attr-defined]


def discard_body(response: IResponse) -> None:
    """
    Do not read a body: close its connection.
    """
    response.deliverBody(_Discard())
