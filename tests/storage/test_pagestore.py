"""
Tests for :mod:`twisted_pypi.storage.pagestore`: upstream pages as records.
"""

from __future__ import annotations

import io
import json
from typing import Any

from attrs import evolve
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.pagestore import PageStore, StoredPage
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.storage.recordstore import Record
from twisted_pypi.storage.s3place import BucketPlace
from twisted_pypi.storage.s3records import S3Records

PAGE = StoredPage(
    url="https://i.example/simple/demo/",
    body=b'{"files": []}',
    content_type="application/vnd.pypi.simple.v1+json",
    etag='"e1"',
    fetched_at=1_700_000_000.5,
)


#: A page of files listed without upload times, with when each was first seen.
DATED = evolve(
    PAGE,
    body=b"<a href='demo-1.0.tar.gz'>demo-1.0.tar.gz</a>",
    content_type="text/html",
    first_seen={"demo-1.0.tar.gz": "2026-01-02T03:04:05Z"},
)


class _Objects:
    """
    Enough of a botocore S3 client for :class:`S3Records` to save and load:
    objects in a dictionary.
    """

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803
        """Keep an object."""
        self.objects[Key] = Body

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        """Give an object back."""
        return {"Body": io.BytesIO(self.objects[Key])}


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

    def test_first_seen_round_trip(self) -> None:
        """
        A page's first-seen times are kept in its record's metadata line and
        load back; the body stays as the upstream sent it.
        """
        self.store.save("pypi", "demo", DATED)
        self.assertEqual(self.store.load("pypi", "demo"), DATED)
        head, _, body = (
            self.root.child("pypi").child("demo.page").getContent().partition(b"\n")
        )
        self.assertEqual(json.loads(head)["first_seen"], dict(DATED.first_seen))
        self.assertEqual(body, DATED.body)

    def test_first_seen_in_bucket(self) -> None:
        """
        A page store over a bucket keeps the first-seen times too.
        """
        store = PageStore(
            S3Records(_Objects(), BucketPlace("b", "p/"), "pages", ".page")
        )
        store.save("pypi", "demo", DATED)
        self.assertEqual(store.load("pypi", "demo"), DATED)

    def test_no_first_seen(self) -> None:
        """
        A page with no first-seen times (every file has an upload time, or a
        record written before they were kept) loads with none, and a value
        that is not a mapping of strings is left out.
        """
        records = LocalRecords(self.root, ".page")
        meta = {"url": "u", "fetched_at": 1, "first_seen": {"a": 1, "b": "t"}}
        records.save("pypi", "odd", Record(meta, b""))
        records.save("pypi", "bad", Record({**meta, "first_seen": ["a"]}, b""))
        odd = self.store.load("pypi", "odd")
        bad = self.store.load("pypi", "bad")
        assert odd is not None and bad is not None
        self.assertEqual((odd.first_seen, bad.first_seen), ({"b": "t"}, {}))
