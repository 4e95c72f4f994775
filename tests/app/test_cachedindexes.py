"""
Tests for :mod:`twisted_pypi.app.cachedindexes`: ``export`` and
``serve --offline`` on a cache that holds other indexes than those named.
"""

from __future__ import annotations

import os

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.cachedindexes import cached_index_names
from twisted_pypi.app.cli import Options


class CachedIndexTests(SynchronousTestCase):
    """
    The indexes a cache holds, checked against the options.
    """

    def setUp(self) -> None:
        self.cache = self.mktemp()
        os.makedirs(os.path.join(self.cache, "pages", "127.0.0.1_9999"))
        os.makedirs(os.path.join(self.cache, "files", "mirror", "https"))

    def parse(self, *argv: str) -> Options:
        options = Options()
        options.parseOptions(list(argv))
        return options

    def test_names(self) -> None:
        """
        The names are those of the page and file areas, sorted; none for a
        missing directory.
        """
        self.assertEqual(cached_index_names(self.cache), ["127.0.0.1_9999", "mirror"])
        self.assertEqual(cached_index_names(self.mktemp()), [])

    def test_export_mismatch(self) -> None:
        """
        ``export`` without the ``--index`` that warm was given is an error
        naming the indexes the cache holds, not an empty export.
        """
        e = self.assertRaises(
            usage.UsageError, self.parse, "export", "out", "--cache-dir", self.cache
        )
        self.assertIn("holds nothing of the index pypi.org", str(e))
        self.assertIn("127.0.0.1_9999, mirror", str(e))
        self.assertIn("--index", str(e))

    def test_offline_mismatch(self) -> None:
        """
        ``serve --offline`` is refused the same way.
        """
        e = self.assertRaises(
            usage.UsageError,
            self.parse,
            "serve",
            "--offline",
            "--cache-dir",
            self.cache,
        )
        self.assertIn("--offline: the cache", str(e))
        self.assertIn("127.0.0.1_9999", str(e))

    def test_matching_index(self) -> None:
        """
        With the index the cache holds, ``export`` and ``serve --offline``
        parse.
        """
        index = "mirror=http://127.0.0.1:9999/simple/"
        self.parse("export", "out", "--cache-dir", self.cache, "--index", index)
        self.parse("serve", "--offline", "--cache-dir", self.cache, "--index", index)

    def test_empty_cache(self) -> None:
        """
        An empty cache is no mismatch.
        """
        self.parse("export", "out", "--cache-dir", self.mktemp())
