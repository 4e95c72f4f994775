"""
Tests for :mod:`twisted_pypi.upstream.ranged`: small ranges of upstream
files read into memory, and what origins show about ranges.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers

from tests.fakes import FakeResponse
from twisted_pypi.upstream.client import UpstreamError
from twisted_pypi.upstream.ranged import (
    RangeNotHonoured,
    RangeSupport,
    origin_key,
    read_range,
)

_URL = "https://files.test/a/b-1.0-py3-none-any.whl"


class _Upstream:
    """
    A fetch function answering each request with a canned response, and
    recording the requests' extra headers.
    """

    def __init__(self, response: FakeResponse) -> None:
        self.response = response
        self.asked: list[Mapping[bytes, bytes] | None] = []

    def __call__(
        self, url: str, method: bytes = b"GET", extra: Any = None
    ) -> Deferred[Any]:
        self.asked.append(extra)
        return succeed(self.response)


def _partial(content_range: bytes, body: bytes) -> FakeResponse:
    """A 206 with ``content_range`` and ``body``."""
    headers = Headers({b"content-range": [content_range]})
    return FakeResponse(code=206, headers=headers, body=body)


class ReadRangeTests(SynchronousTestCase):
    """
    :func:`read_range` asks for a range and accepts exactly that range.
    """

    def read(
        self,
        response: FakeResponse,
        offset: int | None,
        length: int,
        support: RangeSupport | None = None,
    ) -> tuple[_Upstream, Deferred[tuple[bytes, int]]]:
        upstream = _Upstream(response)
        d = Deferred.fromCoroutine(
            read_range(upstream, Clock(), _URL, offset, length, support)
        )
        return upstream, d

    def test_offset(self) -> None:
        """
        A range at an offset is asked for with its first and last byte, and
        its bytes come back with the file's total size; the origin is
        learned to honour ranges.
        """
        support = RangeSupport()
        upstream, d = self.read(_partial(b"bytes 10-14/100", b"abcde"), 10, 5, support)
        self.assertEqual(self.successResultOf(d), (b"abcde", 100))
        self.assertEqual(upstream.asked, [{b"range": b"bytes=10-14"}])
        self.assertIs(support.honours("https://FILES.test/other"), True)

    def test_suffix(self) -> None:
        """
        A suffix range asks for the last bytes; a file shorter than asked
        for is answered whole.
        """
        upstream, d = self.read(_partial(b"bytes 0-2/3", b"abc"), None, 10)
        self.assertEqual(self.successResultOf(d), (b"abc", 3))
        self.assertEqual(upstream.asked, [{b"range": b"bytes=-10"}])

    def test_whole_file(self) -> None:
        """
        A 200 to a range is :class:`RangeNotHonoured`: the connection is
        closed at once and the origin is learned not to honour ranges.
        """
        response = FakeResponse(code=200)
        support = RangeSupport()
        _, d = self.read(response, None, 10, support)
        self.failureResultOf(d, RangeNotHonoured)
        self.assertTrue(response.transport.stopped)
        self.assertIs(support.honours(_URL), False)

    def test_wrong_range(self) -> None:
        """
        A 206 for other bytes than those asked for is an upstream error.
        """
        _, d = self.read(_partial(b"bytes 0-4/100", b"abcde"), 10, 5)
        failure = self.failureResultOf(d, UpstreamError)
        self.assertIn("asked for bytes 10-14", str(failure.value))

    def test_short_body(self) -> None:
        """
        A 206 whose body is shorter than its Content-Range is an error.
        """
        _, d = self.read(_partial(b"bytes 10-14/100", b"abc"), 10, 5)
        self.failureResultOf(d, UpstreamError)

    def test_error_status(self) -> None:
        """
        Another status (404) is an upstream error naming it.
        """
        _, d = self.read(FakeResponse(code=404), 0, 5)
        failure = self.failureResultOf(d, UpstreamError)
        self.assertIn("404", str(failure.value))


class OriginKeyTests(SynchronousTestCase):
    """
    :func:`origin_key` names an origin whatever the case and credentials.
    """

    def test_key(self) -> None:
        """
        Scheme and host are lower-cased, credentials and path dropped.
        """
        self.assertEqual(
            origin_key("HTTPS://u:p@Files.Test:8443/x/y"), "https://files.test:8443"
        )


class RangeSupportTests(SynchronousTestCase):
    """
    :class:`RangeSupport` remembers what each origin showed.
    """

    def test_learn(self) -> None:
        """
        What an origin showed is known for every URL of it, starting from
        what was known before; others stay unknown.
        """
        support = RangeSupport({"https://old.test": False})
        support.learn(_URL, True)
        self.assertIs(support.honours("https://files.test/other.whl"), True)
        self.assertIs(support.honours("https://old.test/x.whl"), False)
        self.assertIsNone(support.honours("https://else.test/x.whl"))

    def test_changes(self) -> None:
        """
        Each change moves the generation on and is told to ``changed`` with
        all that is known; learning what was known changes nothing.
        """
        told: list[dict[str, bool]] = []
        support = RangeSupport(changed=told.append)
        support.learn(_URL, True)
        support.learn(_URL, True)
        self.assertEqual(support.generation, 1)
        support.learn(_URL, False)
        self.assertEqual(support.generation, 2)
        self.assertEqual(
            told, [{"https://files.test": True}, {"https://files.test": False}]
        )
