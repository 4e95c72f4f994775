"""
Tests for :mod:`twisted_pypi.files.interfaces`: the sinks the file layer
streams to provide :class:`IFollowerSink`.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest
from zope.interface.verify import verifyClass, verifyObject

from twisted_pypi.files.interfaces import IFollowerSink
from twisted_pypi.web.following import RequestSink


class FollowerSinkTests(SynchronousTestCase):
    """
    :class:`IFollowerSink` and its implementation.
    """

    def test_request_sink(self) -> None:
        """
        :class:`RequestSink`, which writes a file to an HTTP response,
        provides :class:`IFollowerSink`.
        """
        self.assertTrue(verifyClass(IFollowerSink, RequestSink))
        sink = RequestSink(DummyRequest([b""]), b"application/octet-stream")  # type: ignore[arg-type]
        self.assertTrue(verifyObject(IFollowerSink, sink))
