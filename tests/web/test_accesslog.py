"""
Tests for ``--access-log`` (:mod:`twisted_pypi.web.accesslog`): Combined Log
Format lines in a file.
"""

from __future__ import annotations

import os
import re
from typing import Any

import treq
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.static import Data

from twisted_pypi.app.service import make_service
from twisted_pypi.app.tap import Options
from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.web.accesslog import AccessLogSite, check_access_log

#: A Combined Log Format line, as Apache's and nginx's ``combined``.
COMBINED = re.compile(
    r'^(?P<host>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<request>[^"\\]*'
    r'(?:\\.[^"\\]*)*)" (?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referer>[^"\\]*'
    r'(?:\\.[^"\\]*)*)" "(?P<agent>[^"\\]*(?:\\.[^"\\]*)*)"$'
)


class _Partial(Resource):
    """
    Sends part of a body and never finishes.
    """

    isLeaf = True

    def render_GET(self, request: Request) -> int:
        request.setHeader(b"content-length", b"100")
        request.write(b"x" * 10)
        return NOT_DONE_YET


class _Site(SynchronousTestCase):
    """
    An access-logging site over a small tree, on a ``Clock``, and raw
    requests to it.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        tree = Resource()
        tree.putChild(b"hello", Data(b"hi", "text/plain"))
        tree.putChild(b"partial", _Partial())
        self.path = os.path.join(self.mktemp() + "-access.log")
        self.site = AccessLogSite(tree, self.clock, self.path, reactor=self.clock)
        self.site.startFactory()
        self.addCleanup(self.site.stopFactory)

    def send(self, data: bytes) -> StringTransport:
        """
        Send raw request bytes from 127.0.0.1.
        """
        peer = IPv4Address("TCP", "127.0.0.1", 40000)
        protocol = self.site.buildProtocol(peer)
        assert protocol is not None
        transport = StringTransport(peerAddress=peer)
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        self.transport, self.protocol = transport, protocol
        return transport

    def lines(self) -> list[str]:
        """
        The lines of the log file.
        """
        with open(self.path, encoding="utf-8") as f:
            return f.read().splitlines()


class FormatTests(_Site):
    """
    Each request is one line in the Combined Log Format.
    """

    def test_combined_line(self) -> None:
        """
        A request gets one line: client address, user, time, request line,
        status, bytes, referer and user agent, with nothing quoted that the
        format does not quote.
        """
        self.send(
            b"GET /hello?x=1 HTTP/1.1\r\nHost: proxy.test\r\n"
            b"User-Agent: pip/26.2\r\nReferer: http://r.test/\r\n\r\n"
        )
        self.assertEqual(
            self.lines(),
            [
                '127.0.0.1 - - [12/Jan/1970:13:46:40 +0000] "GET /hello?x=1 '
                'HTTP/1.1" 200 2 "http://r.test/" "pip/26.2"'
            ],
        )
        self.assertIsNotNone(COMBINED.match(self.lines()[0]))

    def test_errors_and_empty_bodies(self) -> None:
        """
        A 404 logs its status and body size; a ``HEAD`` logs ``-`` for no
        bytes and ``-`` for missing headers.
        """
        self.send(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
        self.send(b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        lines = self.lines()
        first, second = (COMBINED.match(line) for line in lines)
        assert first is not None and second is not None
        self.assertEqual(first.group("status", "referer", "agent"), ("404", "-", "-"))
        self.assertNotEqual(first.group("bytes"), "-")
        self.assertEqual(
            second.group("request", "status"), ("HEAD /hello HTTP/1.1", "200")
        )
        self.assertEqual(second.group("bytes"), "-")

    def test_user_and_escaping(self) -> None:
        """
        The user of HTTP basic auth fills the user field; quotes,
        backslashes and control characters in headers are escaped.
        """
        self.send(
            b"GET /hello HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Basic YWxpY2U6cGFzcw==\r\n"
            b'User-Agent: a "quoted" \\ \x01 agent\r\n\r\n'
        )
        [line] = self.lines()
        match = COMBINED.match(line)
        assert match is not None, line
        self.assertEqual(match.group("user"), "alice")
        self.assertEqual(match.group("agent"), 'a \\"quoted\\" \\\\ \\x01 agent')

    def test_aborted(self) -> None:
        """
        A request whose client leaves before the end is logged with the
        bytes that were sent.
        """
        self.send(b"GET /partial HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(self.lines(), [])
        self.protocol.connectionLost(Failure(ConnectionDone("gone")))
        [line] = self.lines()
        match = COMBINED.match(line)
        assert match is not None, line
        self.assertEqual(
            match.group("request", "status"), ("GET /partial HTTP/1.1", "200")
        )
        self.assertEqual(match.group("bytes"), "10")

    def test_reopened_after_rotation(self) -> None:
        """
        After the file is moved away (as logrotate does), the next line goes
        to a new file at the configured path.
        """
        self.send(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        os.rename(self.path, self.path + ".1")
        self.clock.advance(1)
        self.send(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
        with open(self.path + ".1", encoding="utf-8") as f:
            self.assertIn('"GET /hello HTTP/1.1" 200', f.read())
        [line] = self.lines()
        self.assertIn('"GET /missing HTTP/1.1" 404', line)


class OptionTests(SynchronousTestCase):
    """
    ``--access-log FILE``.
    """

    def test_option(self) -> None:
        """
        The option gives an absolute path, created if missing; a file that
        cannot be opened is a usage error naming it.
        """
        cache = self.mktemp()
        options = Options()
        options.environ = {}
        relative = os.path.relpath(self.mktemp())
        options.parseOptions(["--cache-dir", cache, "--access-log", relative])
        self.assertEqual(options["config"].access_log, os.path.abspath(relative))
        self.assertTrue(os.path.exists(relative))
        with self.assertRaises(UsageError) as caught:
            Options().parseOptions(
                ["--cache-dir", cache, "--access-log", "/nonexistent/dir/log"]
            )
        self.assertIn("--access-log '/nonexistent/dir/log'", str(caught.exception))
        self.assertRaises(ValueError, check_access_log, cache + "/missing/log")


class ServiceTests(TestCase):
    """
    The service writes the access log of real requests.
    """

    async def test_service(self) -> None:
        """
        A proxy started with ``access_log`` appends a line per request
        served over a real connection.
        """
        path = os.path.abspath(self.mktemp())
        config = ProxyConfig(
            listen=("tcp:0:interface=127.0.0.1",),
            indexes=(IndexConfig("nowhere", "http://127.0.0.1:9/simple/"),),
            cache_dir=self.mktemp(),
            access_log=path,
        )
        service = make_service(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        address: Any = service.ports[0].getHost()
        agent: dict[bytes | str, bytes | str] = {"User-Agent": "tester/1.0"}
        response = await treq.get(
            f"http://127.0.0.1:{address.port}/",
            headers=agent,
            persistent=False,
        )
        await response.content()
        self.assertEqual(response.code, 200)
        with open(path, encoding="utf-8") as f:
            [line] = f.read().splitlines()
        self.assertRegex(
            line,
            r'^127\.0\.0\.1 - - \[.+\] "GET / HTTP/1\.1" 200 \d+ "-" "tester/1\.0"$',
        )
