"""
Tests for :mod:`twisted_pypi.storage.records`: the on-disk record format and
the local record store.
"""

from __future__ import annotations

import errno
import json
import os

from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from twisted_pypi.storage.records import (
    LocalRecords,
    decode_record,
    encode_record,
    write_atomically,
)
from twisted_pypi.storage.recordstore import IRecordStore, Record
from twisted_pypi.storage.space import StoreSpace

RECORD = Record({"url": "https://i.example/simple/demo/", "n": 1}, b"<html>\n\x00body")


class FormatTests(SynchronousTestCase):
    """
    :func:`encode_record` and :func:`decode_record`.
    """

    def test_round_trip(self) -> None:
        """A record decodes to what was encoded, newlines and NULs included."""
        self.assertEqual(decode_record(encode_record(RECORD)), RECORD)

    def test_layout(self) -> None:
        """
        A record is one line of JSON metadata, with the body's length, then
        the body exactly.
        """
        head, _, body = encode_record(RECORD).partition(b"\n")
        self.assertEqual(json.loads(head), {**RECORD.meta, "length": len(RECORD.body)})
        self.assertEqual(body, RECORD.body)

    def test_without_length(self) -> None:
        """A record written before the length was recorded is read whole."""
        data = json.dumps({"url": "u"}).encode() + b"\nbody"
        self.assertEqual(decode_record(data), Record({"url": "u"}, b"body"))

    def test_truncated(self) -> None:
        """A record cut anywhere is refused."""
        data = encode_record(RECORD)
        for cut in (0, 5, data.index(b"\n"), data.index(b"\n") + 1, len(data) - 1):
            self.assertRaises(ValueError, decode_record, data[:cut])

    def test_corrupt(self) -> None:
        """A metadata line that is not a JSON object is refused."""
        for data in (b"not json\nbody", b"[1, 2]\nbody", b"\xff\nbody"):
            self.assertRaises(ValueError, decode_record, data)

    def test_longer_body(self) -> None:
        """A body longer than recorded is refused too."""
        self.assertRaises(ValueError, decode_record, encode_record(RECORD) + b"x")


class LocalRecordsTests(SynchronousTestCase):
    """
    :class:`LocalRecords`.
    """

    def setUp(self) -> None:
        """An empty store of ``.page`` records."""
        self.root = FilePath(self.mktemp())
        self.records = LocalRecords(self.root, ".page")

    def test_interface(self) -> None:
        """The local store provides the record store interface."""
        self.assertTrue(verifyObject(IRecordStore, self.records))

    def test_round_trip(self) -> None:
        """A saved record loads back, from ``<root>/<index>/<key><suffix>``."""
        self.assertTrue(self.records.save("pypi", "demo", RECORD))
        self.assertEqual(self.records.load("pypi", "demo"), RECORD)
        path = self.root.child("pypi").child("demo.page")
        self.assertEqual(decode_record(path.getContent()), RECORD)

    def test_missing(self) -> None:
        """A record never saved loads as None."""
        self.assertIsNone(self.records.load("pypi", "demo"))

    def test_corrupt_or_truncated_absent(self) -> None:
        """A corrupt or truncated record file loads as None."""
        self.records.save("pypi", "demo", RECORD)
        path = self.root.child("pypi").child("demo.page")
        whole = path.getContent()
        for damaged in (whole[:-3], b"garbage", b""):
            path.setContent(damaged)
            self.assertIsNone(self.records.load("pypi", "demo"))

    def test_replace(self) -> None:
        """Saving again replaces the record and leaves no other file."""
        self.records.save("pypi", "demo", RECORD)
        self.records.save("pypi", "demo", Record({"v": 2}, b"new"))
        self.assertEqual(self.records.load("pypi", "demo"), Record({"v": 2}, b"new"))
        self.assertEqual(self.root.child("pypi").listdir(), ["demo.page"])

    def test_failed_write_keeps_old(self) -> None:
        """
        A write that fails part way leaves the old record, no temporary
        file, and a warning; the save says it failed.
        """
        self.records.save("pypi", "demo", RECORD)
        real_replace = os.replace

        def broken(source: str, target: str) -> None:
            """Fail like a full disk would, after the data was written."""
            raise OSError(28, "No space left on device")

        self.patch(os, "replace", broken)
        with capturedLogs() as events:
            saved = self.records.save("pypi", "demo", Record({"v": 2}, b"new"))
        self.patch(os, "replace", real_replace)
        self.assertFalse(saved)
        self.assertEqual(self.records.load("pypi", "demo"), RECORD)
        self.assertEqual(self.root.child("pypi").listdir(), ["demo.page"])
        self.assertEqual([e["log_level"] for e in events], [LogLevel.warn])

    def test_full_disk_told_to_the_space(self) -> None:
        """
        A write that finds the disk full is told to the store's space, which
        warns once however many records fail (each failure only a debug
        line); the next successful write clears it.
        """
        space = StoreSpace(Clock())
        records = LocalRecords(self.root, ".page", space)

        def full(source: str, target: str) -> None:
            """Fail like a full disk would, after the data was written."""
            raise OSError(errno.ENOSPC, "No space left on device")

        real_replace = os.replace
        self.patch(os, "replace", full)
        with capturedLogs() as events:
            for key in ("a", "b", "c"):
                self.assertFalse(records.save("pypi", key, RECORD))
        self.patch(os, "replace", real_replace)
        self.assertTrue(space.full)
        self.assertEqual(space.episodes, 1)
        warnings = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertIn("disk is full", warnings[0]["log_format"])
        self.assertTrue(records.save("pypi", "a", RECORD))
        self.assertFalse(space.full)

    def test_other_failures_warned(self) -> None:
        """
        A write that fails for another reason is warned of each time and
        does not make the space full.
        """
        space = StoreSpace(Clock())
        records = LocalRecords(self.root, ".page", space)

        def broken(source: str, target: str) -> None:
            """Fail like a broken disk would."""
            raise OSError(errno.EIO, "Input/output error")

        self.patch(os, "replace", broken)
        with capturedLogs() as events:
            records.save("pypi", "a", RECORD)
            records.save("pypi", "b", RECORD)
        self.assertFalse(space.full)
        levels = [e["log_level"] for e in events]
        self.assertEqual(levels, [LogLevel.warn, LogLevel.warn])

    def test_keys_and_indexes(self) -> None:
        """
        Keys are listed sorted by index, ignoring other suffixes and hidden
        files; indexes are the directories holding records.
        """
        for key in ("b", "a", "_list"):
            self.records.save("pypi", key, RECORD)
        self.records.save("corp", "c", RECORD)
        self.root.child("pypi").child("x.json").setContent(b"")
        self.root.child("pypi").child(".tmp-1.page").setContent(b"")
        self.root.child(".hidden").makedirs()
        self.assertEqual(self.records.keys("pypi"), ["_list", "a", "b"])
        self.assertEqual(self.records.keys("nowhere"), [])
        self.assertEqual(self.records.indexes(), ["corp", "pypi"])

    def test_remove(self) -> None:
        """Removing a record says whether there was one."""
        self.records.save("pypi", "demo", RECORD)
        self.assertTrue(self.records.remove("pypi", "demo"))
        self.assertFalse(self.records.remove("pypi", "demo"))
        self.assertIsNone(self.records.load("pypi", "demo"))


class WriteAtomicallyTests(SynchronousTestCase):
    """
    :func:`write_atomically`.
    """

    def test_replaces(self) -> None:
        """Writing replaces the content and leaves no temporary file."""
        target = FilePath(self.mktemp()).child("x")
        write_atomically(target, b"one")
        write_atomically(target, b"two")
        self.assertEqual(target.getContent(), b"two")
        self.assertEqual(target.parent().listdir(), ["x"])

    def test_failure_leaves_old(self) -> None:
        """A failed write raises, keeps the old content and removes its temp."""
        target = FilePath(self.mktemp()).child("x")
        write_atomically(target, b"one")

        def broken(source: str, target: str) -> None:
            """Refuse to rename."""
            raise PermissionError(13, "Permission denied")

        self.patch(os, "replace", broken)
        self.assertRaises(PermissionError, write_atomically, target, b"two")
        self.assertEqual(target.getContent(), b"one")
        self.assertEqual(target.parent().listdir(), ["x"])
