"""
Tests for :mod:`twisted_pypi.core.config`.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.config import (
    index_name_for,
    parse_http_url,
    parse_seconds,
    parse_size,
)


class ParserTests(SynchronousTestCase):
    """
    Parsers for option values.
    """

    def test_sizes(self) -> None:
        """
        Sizes take binary units with optional B or iB and decimals.
        """
        self.assertEqual(parse_size("1024"), 1024)
        self.assertEqual(parse_size("500M"), 500 << 20)
        self.assertEqual(parse_size("20G"), 20 << 30)
        self.assertEqual(parse_size("1.5GiB"), 3 << 29)
        self.assertEqual(parse_size("2kb"), 2048)
        for bad in ("", "M", "-1G", "1X", "0", "1e9"):
            self.assertRaises(ValueError, parse_size, bad)

    def test_seconds(self) -> None:
        """
        Durations are non-negative finite numbers.
        """
        self.assertEqual(parse_seconds("0"), 0.0)
        self.assertEqual(parse_seconds("2.5"), 2.5)
        for bad in ("-1", "nan", "inf", "x"):
            self.assertRaises(ValueError, parse_seconds, bad)

    def test_urls(self) -> None:
        """
        URLs must be absolute http(s) without query or fragment, and gain a
        trailing slash.
        """
        self.assertEqual(parse_http_url("https://h/simple", "x"), "https://h/simple/")
        self.assertEqual(parse_http_url("http://h:81/", "x"), "http://h:81/")
        for bad in ("h/simple", "ftp://h/", "https://h/?a=1", "https://h:99999/"):
            self.assertRaises(ValueError, parse_http_url, bad, "x")

    def test_index_names(self) -> None:
        """
        An index is named after its host, with the port when one is given.
        """
        self.assertEqual(index_name_for("https://pypi.org/simple/"), "pypi.org")
        self.assertEqual(index_name_for("http://127.0.0.1:81/s/"), "127.0.0.1:81")
