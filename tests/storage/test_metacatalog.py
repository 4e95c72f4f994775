"""
Tests for :mod:`twisted_pypi.storage.metacatalog`: the hashes of the core
metadata the proxy made, by index and project, in a record store.
"""

from __future__ import annotations

import threading

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.metacatalog import (
    CATALOG_SUFFIX,
    EXTRACTED,
    RANGED,
    MetadataCatalog,
    Synthesized,
    file_key,
)
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.storage.recordstore import Record

SEGMENTS = ("pypi", "https", "files.example", "p", "a-1.0-py3-none-any.whl")
KEY = file_key(SEGMENTS)
ONE = Synthesized("1" * 64, RANGED, 10)
TWO = Synthesized("2" * 64, EXTRACTED, 12)


class CatalogTests(SynchronousTestCase):
    """
    :class:`MetadataCatalog` over records on disk.
    """

    def setUp(self) -> None:
        self.records = LocalRecords(FilePath(self.mktemp()), CATALOG_SUFFIX)
        self.catalog = MetadataCatalog(self.records)

    def test_file_key(self) -> None:
        """
        A wheel's key is its place in the cache without the index.
        """
        self.assertEqual(KEY, "https/files.example/p/a-1.0-py3-none-any.whl")

    def test_empty(self) -> None:
        """
        A project never recorded has no entries, at version 0.
        """
        self.assertEqual(self.catalog.files("pypi", "a"), (0, {}))
        self.assertIsNone(self.catalog.get("pypi", "a", KEY))

    def test_put_get(self) -> None:
        """
        An entry put is found, kept in the record store, and moves the
        project's version on; putting the same entry again changes nothing.
        """
        self.assertTrue(self.catalog.put("pypi", "a", KEY, ONE))
        self.assertEqual(self.catalog.get("pypi", "a", KEY), ONE)
        version, entries = self.catalog.files("pypi", "a")
        self.assertGreater(version, 0)
        self.assertEqual(entries, {KEY: ONE})
        self.assertFalse(self.catalog.put("pypi", "a", KEY, ONE))
        self.assertEqual(self.catalog.version("pypi", "a"), version)
        self.assertEqual(
            MetadataCatalog(self.records).get("pypi", "a", KEY), ONE, "kept"
        )

    def test_replace_and_drop(self) -> None:
        """
        An entry is replaced, then dropped, each change moving the version
        on; the other projects' versions do not move.
        """
        self.catalog.put("pypi", "a", KEY, ONE)
        first = self.catalog.version("pypi", "a")
        self.catalog.put("pypi", "a", KEY, TWO)
        second = self.catalog.version("pypi", "a")
        self.catalog.put("pypi", "a", KEY, None)
        self.assertLess(first, second)
        self.assertLess(second, self.catalog.version("pypi", "a"))
        self.assertIsNone(self.catalog.get("pypi", "a", KEY))
        self.assertEqual(self.catalog.version("pypi", "b"), 0)
        self.assertEqual(self.catalog.version("other", "a"), 0)

    def test_peek(self) -> None:
        """
        :meth:`peek` answers from memory only: ``None`` for a project whose
        record was never read, its entries once read.
        """
        MetadataCatalog(self.records).put("pypi", "a", KEY, ONE)
        self.assertIsNone(self.catalog.peek("pypi", "a"))
        self.catalog.files("pypi", "a")
        self.assertEqual(self.catalog.peek("pypi", "a"), {KEY: ONE})

    def test_fresh(self) -> None:
        """
        Read ``fresh``, a record shows what another process (a node of a
        shared store) added, keeping what this one knows, and the version
        moves on; read from memory, it does not.
        """
        other = MetadataCatalog(self.records)
        self.catalog.put("pypi", "a", KEY, ONE)
        other.put("pypi", "a", "x.whl", TWO)
        version = self.catalog.version("pypi", "a")
        self.assertEqual(self.catalog.files("pypi", "a")[1], {KEY: ONE})
        newer, entries = self.catalog.files("pypi", "a", fresh=True)
        self.assertEqual(entries, {KEY: ONE, "x.whl": TWO})
        self.assertGreater(newer, version)

    def test_put_keeps_others(self) -> None:
        """
        A put reads the record again first: what another process added is
        kept in the record.
        """
        self.catalog.files("pypi", "a")
        MetadataCatalog(self.records).put("pypi", "a", "x.whl", TWO)
        self.catalog.put("pypi", "a", KEY, ONE)
        stored = MetadataCatalog(self.records).files("pypi", "a")[1]
        self.assertEqual(stored, {KEY: ONE, "x.whl": TWO})

    def test_unreadable_entries(self) -> None:
        """
        Entries of a record that are not well formed are left out.
        """
        good = {"sha256": "a" * 64, "source": "ranged", "size": 3}
        files = {
            "good": good,
            "short": {**good, "sha256": "a"},
            "source": {**good, "source": "upstream"},
            "size": {**good, "size": "3"},
            "other": [],
        }
        self.records.save("pypi", "a", Record({"files": files}))
        self.records.save("pypi", "b", Record({"files": []}))
        self.assertEqual(
            self.catalog.files("pypi", "a")[1],
            {"good": Synthesized("a" * 64, RANGED, 3)},
        )
        self.assertEqual(self.catalog.files("pypi", "b")[1], {})

    def test_memory_bounded(self) -> None:
        """
        Past ``max_projects``, the least recently used records leave memory
        (read again when asked), and versions stay.
        """
        catalog = MetadataCatalog(self.records, max_projects=2)
        catalog.put("pypi", "a", KEY, ONE)
        version = catalog.version("pypi", "a")
        catalog.files("pypi", "b")
        catalog.files("pypi", "c")
        self.assertIsNone(catalog.peek("pypi", "a"))
        self.assertEqual(catalog.version("pypi", "a"), version)
        self.assertEqual(catalog.get("pypi", "a", KEY), ONE)

    def test_threads(self) -> None:
        """
        Puts from several threads at once all land in the record.
        """

        def put(n: int) -> None:
            self.catalog.put("pypi", "a", f"{n}.whl", ONE)

        threads = [threading.Thread(target=put, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stored = MetadataCatalog(self.records).files("pypi", "a")[1]
        self.assertEqual(sorted(stored), sorted(f"{n}.whl" for n in range(8)))
