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
    parse_store,
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


class StoreTests(SynchronousTestCase):
    """
    ``--store``, ``--s3-endpoint`` and ``--s3-region`` parse into a
    :class:`~twisted_pypi.core.config.StoreConfig`.
    """

    def test_store(self) -> None:
        """
        A bucket with a prefix, at a given endpoint and region.
        """
        store = parse_store(
            "s3://wheels/team//ci", "http://127.0.0.1:8333", "eu-west-3"
        )
        assert store is not None
        self.assertEqual(
            (store.bucket, store.prefix, store.endpoint, store.region),
            ("wheels", "team/ci/", "http://127.0.0.1:8333", "eu-west-3"),
        )
        self.assertEqual(store.url, "s3://wheels/team/ci/")

    def test_defaults(self) -> None:
        """
        Without a prefix the bucket's root is used; the region defaults to
        ``us-east-1`` and the endpoint to AWS's for the region.
        """
        store = parse_store("s3://wheels", None, None)
        assert store is not None
        self.assertEqual(store.prefix, "")
        self.assertEqual(store.endpoint, "https://s3.us-east-1.amazonaws.com")
        store = parse_store("s3://wheels/", None, "ap-south-1")
        assert store is not None
        self.assertEqual(store.endpoint, "https://s3.ap-south-1.amazonaws.com")
        self.assertIsNone(parse_store(None, None, None))

    def test_bad_values(self) -> None:
        """
        Each bad value is refused with a message naming the option.
        """
        cases = [
            (("http://wheels", None, None), "--store"),
            (("s3://Wheels_1", None, None), "bucket name"),
            (("s3://ab", None, None), "bucket name"),
            (("s3://wheels/a/../b", None, None), "prefix"),
            (("s3://wheels", "ftp://x", None), "--s3-endpoint"),
            (("s3://wheels", "http://h/path", None), "--s3-endpoint"),
            (("s3://wheels", "http://key:secret@h", None), "--s3-endpoint"),
            (("s3://wheels", None, "EU WEST"), "--s3-region"),
            ((None, "http://h", None), "need --store"),
        ]
        for args, words in cases:
            with self.assertRaises(ValueError) as raised:
                parse_store(*args)
            self.assertIn(words, str(raised.exception), args)
            self.assertNotIn("secret", str(raised.exception))
