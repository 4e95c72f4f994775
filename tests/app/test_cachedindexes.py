"""
Tests for :mod:`twisted_pypi.app.cachedindexes`: ``export`` and
``serve --offline`` use the indexes the cache holds, and refuse ``--index``
options naming others.
"""

from __future__ import annotations

import os

from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.app.cachefill import fill_cache
from twisted_pypi.app.cachedindexes import cached_index_names, remember_indexes
from twisted_pypi.app.cli import Options
from twisted_pypi.core.config import DEFAULT_INDEX, IndexConfig, ProxyConfig
from twisted_pypi.storage.indexmeta import (
    INDEXES_FILE,
    read_index_urls,
    record_index_urls,
)

PYPI = DEFAULT_INDEX


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
        ``export`` with an ``--index`` the cache holds nothing of is an
        error naming the indexes the cache holds, not an empty export.
        """
        e = self.assertRaises(
            usage.UsageError,
            self.parse,
            *("export", "out", "--cache-dir", self.cache, "--index", PYPI),
        )
        self.assertIn("holds nothing of the index pypi.org", str(e))
        self.assertIn("127.0.0.1_9999, mirror", str(e))
        self.assertIn("--index", str(e))

    def test_offline_mismatch(self) -> None:
        """
        ``serve --offline`` with such an ``--index`` is refused the same way.
        """
        e = self.assertRaises(
            usage.UsageError,
            self.parse,
            *("serve", "--offline", "--cache-dir", self.cache, "--index", PYPI),
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

    def test_empty_cache_with_index(self) -> None:
        """
        An empty cache is no mismatch for an explicit ``--index``.
        """
        self.parse("export", "out", "--cache-dir", self.mktemp(), "--index", PYPI)


class DefaultIndexTests(SynchronousTestCase):
    """
    Without ``--index``, ``export`` and ``serve --offline`` use the indexes
    the cache holds.
    """

    def setUp(self) -> None:
        self.cache = self.mktemp()

    def indexes(self, *argv: str) -> list[IndexConfig]:
        """
        The indexes of ``export`` and of ``serve --offline`` (which must
        agree) on :attr:`cache` with ``argv``.
        """
        found = []
        for command in (["export", "out"], ["serve", "--offline"]):
            options = Options()
            options.parseOptions([*command, "--cache-dir", self.cache, *argv])
            found.append(list(options.subOptions["config"].indexes))
        self.assertEqual(found[0], found[1])
        return found[0]

    def test_recorded(self) -> None:
        """
        The indexes recorded in the cache are used in the order recorded,
        with ``--index-ttl``; recorded ones the cache holds nothing of are
        left out.
        """
        fill_cache(self.cache, "http://127.0.0.1:2/simple/", "second")
        fill_cache(self.cache, "http://127.0.0.1:1/simple/", "first")
        record_index_urls(
            FilePath(self.cache),
            [
                ("second", "http://127.0.0.1:2/simple/"),
                ("gone", "http://127.0.0.1:3/simple/"),
                ("first", "http://127.0.0.1:1/simple/"),
            ],
        )
        self.assertEqual(
            self.indexes("--index-ttl", "5"),
            [
                IndexConfig("second", "http://127.0.0.1:2/simple/", ttl=5.0),
                IndexConfig("first", "http://127.0.0.1:1/simple/", ttl=5.0),
            ],
        )

    def test_recovered_from_pages(self) -> None:
        """
        A cache made before the indexes were recorded: each index's URL is
        recovered from its stored pages, after the recorded ones.
        """
        fill_cache(self.cache, "http://127.0.0.1:2/simple/", "old")
        fill_cache(self.cache, "http://127.0.0.1:1/simple/", "new")
        record_index_urls(FilePath(self.cache), [("new", "http://127.0.0.1:1/simple/")])
        self.assertEqual(
            self.indexes(),
            [
                IndexConfig("new", "http://127.0.0.1:1/simple/"),
                IndexConfig("old", "http://127.0.0.1:2/simple/"),
            ],
        )

    def test_no_index_in_cache(self) -> None:
        """
        A cache holding no index at all is an error saying so and how to
        fill it, as is one holding files of indexes but no pages.
        """
        for command in (["export", "out"], ["serve", "--offline"]):
            e = self.assertRaises(
                usage.UsageError,
                Options().parseOptions,
                [*command, "--cache-dir", self.cache],
            )
            self.assertIn("holds no pages of any index", str(e))
            self.assertIn("pypiproxy warm", str(e))
        os.makedirs(os.path.join(self.cache, "files", "mirror"))
        e = self.assertRaises(
            usage.UsageError,
            Options().parseOptions,
            ["export", "out", "--cache-dir", self.cache],
        )
        self.assertIn("it holds only files of mirror", str(e))

    def test_only_local_indexes(self) -> None:
        """
        With ``--local`` an empty cache is fine: the local indexes are
        served alone.
        """
        local = self.mktemp()
        os.makedirs(local)
        self.assertEqual(self.indexes("--local", f"here={local}"), [])

    def test_explicit_index_wins(self) -> None:
        """
        ``--index`` replaces the indexes the cache holds.
        """
        fill_cache(self.cache, "http://127.0.0.1:1/simple/", "mirror")
        index = "mirror=http://127.0.0.1:7/simple/"
        self.assertEqual(
            self.indexes("--index", index),
            [IndexConfig("mirror", "http://127.0.0.1:7/simple/")],
        )


class RememberIndexesTests(SynchronousTestCase):
    """
    :func:`remember_indexes`.
    """

    def test_recorded(self) -> None:
        """
        The configuration's indexes are recorded in its cache directory,
        without their credentials.
        """
        cache = self.mktemp()
        config = ProxyConfig(
            indexes=(
                IndexConfig(
                    "a", "http://127.0.0.1:1/simple/", username="u", password="s3cret"
                ),
                IndexConfig("b", "http://127.0.0.1:2/simple/"),
            ),
            cache_dir=cache,
        )
        remember_indexes(config)
        self.assertEqual(
            read_index_urls(FilePath(cache)),
            {"a": "http://127.0.0.1:1/simple/", "b": "http://127.0.0.1:2/simple/"},
        )
        self.assertNotIn(b"s3cret", FilePath(cache).child(INDEXES_FILE).getContent())

    def test_failure_logged(self) -> None:
        """
        A cache directory that cannot be written is logged as a warning,
        never raised.
        """
        blocker = FilePath(self.mktemp())
        blocker.setContent(b"a file")
        with capturedLogs() as events:
            remember_indexes(ProxyConfig(cache_dir=blocker.child("cache").path))
        [event] = [e for e in events if e["log_namespace"].endswith("cachedindexes")]
        self.assertEqual(event["log_level"], LogLevel.warn)
        self.assertIn("Cannot record the indexes", formatEvent(event))
