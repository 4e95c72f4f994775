"""
Tests for :mod:`twisted_pypi.storage.indexmeta`: the indexes a cache
directory was filled from, recorded and recovered.
"""

from __future__ import annotations

import json

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.lookup import LIST_KEY
from twisted_pypi.storage.indexmeta import (
    INDEXES_FILE,
    MAX_RECOVERY_READS,
    read_index_urls,
    record_index_urls,
    recover_index_url,
)
from twisted_pypi.storage.pagestore import PageStore, StoredPage

A = "https://a.example/simple/"
B = "http://127.0.0.1:9/simple/"


def _page(url: str) -> StoredPage:
    """A stored page from ``url``."""
    return StoredPage(url, b"", "text/html", None, 0.0)


class RecordTests(SynchronousTestCase):
    """
    :func:`record_index_urls` and :func:`read_index_urls`.
    """

    def setUp(self) -> None:
        self.root = FilePath(self.mktemp())

    def test_missing(self) -> None:
        """
        A cache without the file (or without a directory) records nothing.
        """
        self.assertEqual(read_index_urls(self.root), {})

    def test_round_trip_and_order(self) -> None:
        """
        Recorded indexes are read back in the order first recorded; a URL
        recorded again replaces the old one in its place.
        """
        self.assertTrue(record_index_urls(self.root, [("a", A), ("b", B)]))
        self.assertTrue(record_index_urls(self.root, [("c", B), ("a", B)]))
        found = read_index_urls(self.root)
        self.assertEqual(list(found.items()), [("a", B), ("b", B), ("c", B)])

    def test_unchanged_not_written(self) -> None:
        """
        Recording what is recorded already does not write the file again.
        """
        record_index_urls(self.root, [("a", A)])
        path = self.root.child(INDEXES_FILE)
        path.setContent(path.getContent() + b" ")
        self.assertFalse(record_index_urls(self.root, [("a", A)]))
        self.assertTrue(path.getContent().endswith(b" "))

    def test_no_credentials(self) -> None:
        """
        Credentials in a URL are never written.
        """
        record_index_urls(self.root, [("a", "https://u:s3cret@a.example/simple/")])
        self.assertNotIn(b"s3cret", self.root.child(INDEXES_FILE).getContent())
        self.assertEqual(read_index_urls(self.root), {"a": A})

    def test_atomic_and_clean(self) -> None:
        """
        The file is written through a temporary file that does not remain.
        """
        record_index_urls(self.root, [("a", A)])
        self.assertEqual(self.root.listdir(), [INDEXES_FILE])

    def test_bad_entries_ignored(self) -> None:
        """
        Unusable entries (an unsafe name, a non-HTTP URL, a wrong shape) and
        a file that is not JSON are ignored.
        """
        self.root.makedirs()
        entries = [
            {"name": "../x", "url": A},
            {"name": "f", "url": "file:///etc/"},
            "junk",
            {"name": "a", "url": A},
        ]
        self.root.child(INDEXES_FILE).setContent(
            json.dumps({"version": 1, "indexes": entries}).encode()
        )
        self.assertEqual(read_index_urls(self.root), {"a": A})
        self.root.child(INDEXES_FILE).setContent(b"\xff")
        self.assertEqual(read_index_urls(self.root), {})

    def test_write_failure(self) -> None:
        """
        A cache directory that cannot be made raises :class:`OSError`.
        """
        self.root.setContent(b"a file")
        self.assertRaises(OSError, record_index_urls, self.root, [("a", A)])


class RecoverTests(SynchronousTestCase):
    """
    :func:`recover_index_url`.
    """

    def setUp(self) -> None:
        self.pages = PageStore.on_disk(FilePath(self.mktemp()))

    def test_project_page(self) -> None:
        """
        A project page's URL less ``<project>/`` is the index's URL,
        without credentials.
        """
        self.pages.save("a", "demo", _page("https://u:p@a.example/simple/demo/"))
        self.assertEqual(recover_index_url(self.pages, "a"), A)

    def test_project_list(self) -> None:
        """
        The project list's URL is the index's.
        """
        self.pages.save("b", LIST_KEY, _page(B))
        self.assertEqual(recover_index_url(self.pages, "b"), B)

    def test_redirected_page_skipped(self) -> None:
        """
        A page that answered from elsewhere (a redirect) does not tell; the
        next one does.
        """
        self.pages.save("a", "aaa", _page("https://cdn.example/x"))
        self.pages.save("a", "bbb", _page(A + "bbb/"))
        self.assertEqual(recover_index_url(self.pages, "a"), A)

    def test_unknown(self) -> None:
        """
        No pages, or only pages that do not tell within the reads allowed,
        give ``None``.
        """
        self.assertIsNone(recover_index_url(self.pages, "a"))
        for n in range(MAX_RECOVERY_READS):
            self.pages.save("a", f"p{n}", _page("https://cdn.example/x"))
        self.pages.save("a", "zzz", _page(A + "zzz/"))
        self.assertIsNone(recover_index_url(self.pages, "a"))
