"""
Tests for :mod:`twisted_pypi.storage.jsonstore`: JSON API documents as
records.
"""

from __future__ import annotations

import json

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.jsonstore import JsonDocument, JsonStore, document_key

BODY = json.dumps({"info": {"name": "demo", "version": "1.0"}, "urls": []}).encode()


def document(body: bytes = BODY) -> JsonDocument:
    """A document as the upstream sent it."""
    return JsonDocument.parse(
        "https://pypi.example/pypi/demo/json", body, '"e"', "42", 1_700_000_000.0
    )


class JsonStoreTests(SynchronousTestCase):
    """
    :class:`JsonStore` on disk.
    """

    def setUp(self) -> None:
        """An empty store in a fresh directory."""
        self.root = FilePath(self.mktemp())
        self.store = JsonStore.on_disk(self.root)

    def test_round_trip(self) -> None:
        """A saved document loads back with its body, ETag and serial."""
        self.store.save("pypi", "demo", document())
        loaded = self.store.load("pypi", "demo")
        assert loaded is not None
        self.assertEqual(
            (loaded.url, loaded.body, loaded.etag, loaded.serial, loaded.fetched_at),
            (document().url, BODY, '"e"', "42", 1_700_000_000.0),
        )
        self.assertEqual(loaded.data["info"]["name"], "demo")

    def test_on_disk_format(self) -> None:
        """
        A document is ``<index>/<key>.json``: one line of JSON metadata, then
        the body as received.
        """
        self.store.save("pypi", document_key("demo", "1.0"), document())
        path = self.root.child("pypi").child("demo@1.0.json")
        head, _, body = path.getContent().partition(b"\n")
        self.assertEqual(
            json.loads(head),
            {
                "url": document().url,
                "etag": '"e"',
                "serial": "42",
                "fetched_at": 1_700_000_000.0,
                "length": len(BODY),
            },
        )
        self.assertEqual(body, BODY)

    def test_corrupt_or_truncated_absent(self) -> None:
        """A damaged file, or a body that is not a document, loads as None."""
        self.store.save("pypi", "demo", document())
        path = self.root.child("pypi").child("demo.json")
        whole = path.getContent()
        for damaged in (whole[:-2], b"{", whole.replace(b'"info"', b'"nope"')):
            path.setContent(damaged)
            self.assertIsNone(self.store.load("pypi", "demo"))

    def test_remove_project(self) -> None:
        """
        Removing a project removes its document and its versions', not
        another project's.
        """
        for key in ("demo", "demo@1.0", "demo@2.0", "demos", "other@1.0"):
            self.store.save("pypi", key, document())
        removed = self.store.remove_project("pypi", "demo")
        self.assertEqual(sorted(removed), ["demo", "demo@1.0", "demo@2.0"])
        self.assertEqual(self.store.keys("pypi"), ["demos", "other@1.0"])
        self.assertEqual(self.store.indexes(), ["pypi"])
        self.assertFalse(self.store.remove("pypi", "demo"))
