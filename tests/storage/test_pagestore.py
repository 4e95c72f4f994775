"""
Tests for :mod:`twisted_pypi.storage.pagestore`: upstream pages as records.
"""

from __future__ import annotations

import json

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.interfaces import Record
from twisted_pypi.storage.pagestore import PageStore, StoredPage
from twisted_pypi.storage.records import LocalRecords

PAGE = StoredPage(
    url="https://i.example/simple/demo/",
    body=b'{"files": []}',
    content_type="application/vnd.pypi.simple.v1+json",
    etag='"e1"',
    fetched_at=1_700_000_000.5,
)


class PageStoreTests(SynchronousTestCase):
    """
    :class:`PageStore` on disk.
    """

    def setUp(self) -> None:
        """An empty page store in a fresh directory."""
        self.root = FilePath(self.mktemp())
        self.store = PageStore.on_disk(self.root)

    def test_round_trip(self) -> None:
        """A saved page loads back equal."""
        self.store.save("pypi", "demo", PAGE)
        self.assertEqual(self.store.load("pypi", "demo"), PAGE)

    def test_on_disk_format(self) -> None:
        """
        A page is ``<index>/<key>.page``: one line of JSON (URL, type, ETag,
        fetch time, body length), then the body as the upstream sent it.
        """
        self.store.save("pypi", "demo", PAGE)
        head, _, body = (
            self.root.child("pypi").child("demo.page").getContent().partition(b"\n")
        )
        self.assertEqual(
            json.loads(head),
            {
                "url": PAGE.url,
                "content_type": PAGE.content_type,
                "etag": PAGE.etag,
                "fetched_at": PAGE.fetched_at,
                "length": len(PAGE.body),
            },
        )
        self.assertEqual(body, PAGE.body)

    def test_older_format(self) -> None:
        """A page written before lengths were recorded still loads."""
        path = self.root.child("pypi").child("demo.page")
        path.parent().makedirs()
        meta = {"url": PAGE.url, "fetched_at": 5}
        path.setContent(json.dumps(meta).encode() + b"\n<html>")
        stored = self.store.load("pypi", "demo")
        assert stored is not None
        self.assertEqual(
            (stored.body, stored.etag, stored.fetched_at), (b"<html>", None, 5.0)
        )

    def test_unusable_metadata_absent(self) -> None:
        """A record lacking the URL or with a bad fetch time loads as None."""
        records = LocalRecords(self.root, ".page")
        records.save("pypi", "a", Record({"fetched_at": 1}, b""))
        records.save("pypi", "b", Record({"url": "u", "fetched_at": "soon"}, b""))
        self.assertIsNone(self.store.load("pypi", "a"))
        self.assertIsNone(self.store.load("pypi", "b"))

    def test_truncated_absent(self) -> None:
        """A page file cut short loads as None."""
        self.store.save("pypi", "demo", PAGE)
        path = self.root.child("pypi").child("demo.page")
        path.setContent(path.getContent()[:-1])
        self.assertIsNone(self.store.load("pypi", "demo"))

    def test_keys_indexes_remove(self) -> None:
        """Pages are listed by index and key, and removed one by one."""
        self.store.save("pypi", "demo", PAGE)
        self.store.save("pypi", "_list", PAGE)
        self.store.save("corp", "x", PAGE)
        self.assertEqual(self.store.keys("pypi"), ["_list", "demo"])
        self.assertEqual(self.store.indexes(), ["corp", "pypi"])
        self.assertTrue(self.store.remove("pypi", "demo"))
        self.assertFalse(self.store.remove("pypi", "demo"))
        self.assertEqual(self.store.keys("pypi"), ["_list"])
