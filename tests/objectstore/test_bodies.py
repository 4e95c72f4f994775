"""
Tests for :mod:`twisted_pypi.objectstore.bodies`: a file range sent a chunk
per step with backpressure, and small answers read up to a cap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.internet.task import CooperativeTask, Cooperator
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.client import ResponseFailed
from twisted.web.http import _DataLoss

from tests.consumers import Consumer
from tests.fakes import HandFedResponse
from twisted_pypi.objectstore.bodies import (
    FileSliceProducer,
    ShortFile,
    describe_cut,
    read_limited,
    stream_body,
)
from twisted_pypi.objectstore.errors import StoreUnavailable


class FileSliceTests(SynchronousTestCase):
    """
    :class:`FileSliceProducer`, stepped by hand.
    """

    def setUp(self) -> None:
        """
        A file of 10 bytes and a cooperator the test steps.
        """
        self.path = self.mktemp()
        with open(self.path, "wb") as f:
            f.write(b"0123456789")
        self.steps: list[Callable[[], object]] = []
        self.cooperator = Cooperator(
            scheduler=self.schedule, terminationPredicateFactory=lambda: lambda: True
        )

    def schedule(self, step: Callable[[], object]) -> Any:
        """
        Keep a cooperator step for :meth:`run_steps`.
        """
        self.steps.append(step)

    def cooperate(self, work: Iterator[None]) -> CooperativeTask:
        """
        Schedule ``work`` on the test's cooperator.
        """
        return self.cooperator.cooperate(work)

    def run_steps(self) -> None:
        """
        Run every scheduled step.
        """
        while self.steps:
            self.steps.pop(0)()

    def test_range_in_chunks(self) -> None:
        """
        The range is written a chunk per step; while paused nothing is
        read.
        """
        producer = FileSliceProducer(self.path, 2, 7, self.cooperate, chunk_size=3)
        consumer = Consumer()
        done = producer.startProducing(consumer)
        producer.pauseProducing()
        self.run_steps()
        self.assertEqual(consumer.chunks, [])
        producer.resumeProducing()
        self.run_steps()
        self.successResultOf(done)
        self.assertEqual(consumer.chunks, [b"234", b"567", b"8"])

    def test_short(self) -> None:
        """
        A file shorter than the range fails with :class:`ShortFile`.
        """
        producer = FileSliceProducer(self.path, 5, 9, self.cooperate)
        done = producer.startProducing(Consumer())
        self.run_steps()
        self.failureResultOf(done, ShortFile)

    def test_stopped(self) -> None:
        """
        A stopped producer writes no more and its Deferred never fires.
        """
        producer = FileSliceProducer(self.path, 0, 10, self.cooperate, chunk_size=1)
        consumer = Consumer()
        done = producer.startProducing(consumer)
        producer.stopProducing()
        self.run_steps()
        self.assertEqual(consumer.chunks, [])
        self.assertNoResult(done)


class ReadLimitedTests(SynchronousTestCase):
    """
    :func:`read_limited`.
    """

    def test_too_large(self) -> None:
        """
        An answer larger than the cap fails and its connection is closed.
        """
        response = HandFedResponse(200)
        done = read_limited(response, 4, "GET b/k")
        response.send(b"12345")
        error = self.failureResultOf(done, StoreUnavailable).value
        self.assertIn("larger than 4 bytes", str(error))
        self.assertTrue(
            response.transport.disconnecting
            or response.transport.producerState == "stopped"
        )


class CutBodyTests(SynchronousTestCase):
    """
    Bodies the store cut short are reported in words.
    """

    def test_streamed_body_cut(self) -> None:
        """
        A streamed body whose connection was lost fails with a readable
        reason (no list of failures, no ``repr``).
        """
        response = HandFedResponse(200)
        done = stream_body(response, Consumer(), "GET b/k")
        response.send(b"123")
        lost = ResponseFailed([Failure(ConnectionLost("reset")), Failure(_DataLoss())])
        response.end(Failure(lost))
        message = str(self.failureResultOf(done, StoreUnavailable).value)
        self.assertIn(
            "GET b/k: body cut short: the connection to the store was lost", message
        )
        self.assertNotIn("Failure", message)
        self.assertNotIn("[", message)

    def test_small_answer_cut(self) -> None:
        """
        A small answer cut short says how, in words.
        """
        response = HandFedResponse(200)
        done = read_limited(response, 100, "LIST b")
        response.send(b"<List")
        response.end(Failure(ResponseFailed([Failure(ConnectionDone())])))
        message = str(self.failureResultOf(done, StoreUnavailable).value)
        self.assertIn("answer cut short: the store closed the connection", message)

    def test_describe_cut(self) -> None:
        """
        Each cause is named once; the body-ended marker only when nothing
        else says why; anything else by its message.
        """
        self.assertEqual(
            describe_cut(ResponseFailed([Failure(_DataLoss())])),
            "the body ended before its length",
        )
        self.assertEqual(
            describe_cut(
                ResponseFailed([Failure(ConnectionDone()), Failure(ConnectionDone())])
            ),
            "the store closed the connection",
        )
        self.assertEqual(describe_cut(ValueError("odd")), "odd")
