"""
Tests for :mod:`twisted_pypi.web.connections`: open connections kept under
a limit by closing the one that waited longest for a request.
"""

from __future__ import annotations

import resource
from collections.abc import Sequence
from typing import Any

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource

from twisted_pypi.web.channel import ProxyChannel
from twisted_pypi.web.connections import (
    WARN_INTERVAL,
    ConnectionTable,
    connection_limit,
)
from twisted_pypi.web.site import ProxySite

REQUEST = b"GET / HTTP/1.1\r\nHost: proxy.test\r\n\r\n"


class Hold(Resource):
    """
    Keeps every request open.
    """

    isLeaf = True

    def render_GET(self, request: object) -> int:
        """
        Nothing yet.
        """
        return 1  # NOT_DONE_YET


def warnings(events: Sequence[dict[str, Any]]) -> list[str]:
    """
    The table's warnings, formatted.
    """
    return [
        formatEvent(e)
        for e in events
        if e.get("log_namespace") == "twisted_pypi.web.connections"
    ]


class ConnectionTableTests(SynchronousTestCase):
    """
    At the limit, a new connection closes the one that has waited longest
    for a request's headers, never one being answered.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.limit = 3
        self.site = ProxySite(
            Hold(),
            self.clock,
            reactor=self.clock,
            connections=ConnectionTable(self.clock, lambda: self.limit),
        )

    def connect(self) -> tuple[ProxyChannel, StringTransport]:
        """
        A new connection to the site.
        """
        channel: ProxyChannel = self.site.buildProtocol(None)
        transport = StringTransport()
        channel.makeConnection(transport)
        return channel, transport

    def test_oldest_waiting_closed(self) -> None:
        """
        The connection waiting longest for a request is closed to make room;
        busy ones are kept, and a warning says what happened.
        """
        busy, busy_transport = self.connect()
        busy.dataReceived(REQUEST)
        _, old_transport = self.connect()
        self.clock.advance(1)
        _, newer_transport = self.connect()
        with capturedLogs() as events:
            _, newest_transport = self.connect()
        self.assertTrue(old_transport.disconnecting)
        self.assertFalse(busy_transport.disconnecting)
        self.assertFalse(newer_transport.disconnecting)
        self.assertFalse(newest_transport.disconnecting)
        self.assertEqual(self.site.connections.open_count, 3)
        [warning] = warnings(events)
        self.assertIn("closed 1 waiting for a request", warning)
        self.assertIn("limit of 3 open connections", warning)

    def test_all_busy(self) -> None:
        """
        When every other connection is busy, the new one is kept anyway, and
        a warning says to raise the limit.
        """
        for _ in range(self.limit):
            channel, _ = self.connect()
            channel.dataReceived(REQUEST)
        with capturedLogs() as events:
            _, transport = self.connect()
        self.assertFalse(transport.disconnecting)
        [warning] = warnings(events)
        self.assertIn("ulimit -n", warning)

    def test_closed_forgotten(self) -> None:
        """
        A closed connection no longer counts.
        """
        channel, _ = self.connect()
        _, second = self.connect()
        self.connect()
        channel.connectionLost()
        self.assertEqual(self.site.connections.open_count, 2)
        self.connect()
        self.assertEqual(self.site.connections.open_count, 3)
        self.assertFalse(second.disconnecting)

    def test_warnings_rate_limited(self) -> None:
        """
        Closures are warned about once, then counted and summed up at most
        once per :data:`WARN_INTERVAL`.
        """
        with capturedLogs() as events:
            for _ in range(10):
                self.connect()
            self.clock.pump([1.0] * int(2 * WARN_INTERVAL))
        first, second = warnings(events)
        self.assertIn("closed 1 waiting", first)
        # The three left were closed at their header deadline.
        self.assertIn("closed 3 that were too slow", second)
        self.assertIn("closed 6 waiting", second)
        self.assertEqual(self.clock.getDelayedCalls()[1:], [])

    def test_late_counted(self) -> None:
        """
        Connections closed for slow headers are in the warning.
        """
        self.limit = 100
        with capturedLogs() as events:
            self.connect()
            self.clock.advance(30)
        [warning] = warnings(events)
        self.assertIn("closed 1 that were too slow to send a request's headers",
                      warning)  # fmt: skip


class LimitTests(SynchronousTestCase):
    """
    :func:`connection_limit` follows the open files limit.
    """

    def test_three_quarters(self) -> None:
        """
        The limit is three quarters of the soft open files limit.
        """
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        expected = None if soft == resource.RLIM_INFINITY else soft * 3 // 4
        self.assertEqual(connection_limit(), expected)
