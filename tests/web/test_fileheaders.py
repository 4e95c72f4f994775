"""
Tests for :mod:`twisted_pypi.web.fileheaders`: the content type and
validators of a served file, and the conditional request headers.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from twisted.web import http
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

from twisted_pypi.storage.interfaces import FileStat
from twisted_pypi.web.fileheaders import (
    content_type,
    entity_tag,
    if_range_holds,
    last_modified,
    not_modified,
)

STAT = FileStat(10, 1000.25, "abc")
ETAG = b'"abc"'


def request(**headers: bytes) -> Request:
    """
    A request with ``headers`` (underscores in names become dashes).
    """
    req = Request(DummyChannel(), False)
    for name, value in headers.items():
        req.requestHeaders.setRawHeaders(name.replace("_", "-"), [value])
    return req


class HeaderValueTests(SynchronousTestCase):
    """
    :func:`content_type`, :func:`entity_tag` and :func:`last_modified`.
    """

    def test_content_type(self) -> None:
        """
        Package files get their media type by suffix, case-insensitively;
        anything else is an octet stream.
        """
        self.assertEqual(content_type("x-1.0.TAR.GZ"), b"application/gzip")
        self.assertEqual(content_type("x-1.0-py3-none-any.whl"), b"application/zip")
        self.assertEqual(content_type("x.whl.metadata"), b"text/plain; charset=utf-8")
        self.assertEqual(content_type("x.exe"), b"application/octet-stream")

    def test_validators(self) -> None:
        """
        The entity tag is the stat's quoted; the modification time is rounded
        up to whole seconds.
        """
        self.assertEqual(entity_tag(STAT), ETAG)
        self.assertEqual(last_modified(STAT), 1001)


class ConditionalTests(SynchronousTestCase):
    """
    :func:`not_modified` and :func:`if_range_holds`.
    """

    def test_if_none_match(self) -> None:
        """
        ``If-None-Match`` with the tag (weak or not) or ``*`` means not
        modified, and overrides ``If-Modified-Since``.
        """
        date = http.datetimeToString(2000)
        self.assertTrue(not_modified(request(if_none_match=b'W/"abc"'), ETAG, 1001))
        self.assertTrue(not_modified(request(if_none_match=b'"x", *'), ETAG, 1001))
        both = request(if_none_match=b'"other"', if_modified_since=date)
        self.assertFalse(not_modified(both, ETAG, 1001))

    def test_if_modified_since(self) -> None:
        """
        ``If-Modified-Since`` at or after the modification time means not
        modified; an earlier or unparseable date, or none, means modified.
        """
        self.assertTrue(
            not_modified(
                request(if_modified_since=http.datetimeToString(1001)), ETAG, 1001
            )
        )
        self.assertFalse(
            not_modified(
                request(if_modified_since=http.datetimeToString(900)), ETAG, 1001
            )
        )
        self.assertFalse(not_modified(request(if_modified_since=b"junk"), ETAG, 1001))
        self.assertFalse(not_modified(request(), ETAG, 1001))

    def test_if_range(self) -> None:
        """
        A range holds without ``If-Range`` or with the exact tag or date; a
        weak tag or another date does not hold.
        """
        self.assertTrue(if_range_holds(request(), ETAG, 1001))
        self.assertTrue(if_range_holds(request(if_range=ETAG), ETAG, 1001))
        self.assertTrue(
            if_range_holds(request(if_range=http.datetimeToString(1001)), ETAG, 1001)
        )
        self.assertFalse(if_range_holds(request(if_range=b'W/"abc"'), ETAG, 1001))
        self.assertFalse(
            if_range_holds(request(if_range=http.datetimeToString(5)), ETAG, 1001)
        )
