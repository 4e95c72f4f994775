"""
Tests for :mod:`twisted_pypi.storage.interfaces`: each local implementation
provides the interface the upper layers program against.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.interfaces import (
    IFileReader,
    IFileStore,
    IReservation,
    ISpool,
    ISpoolReader,
)
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.storage.recordstore import IRecordStore


class ImplementationTests(SynchronousTestCase):
    """
    The local file store, its readers, spools and reservations, and the
    local record store verify against their interfaces.
    """

    def setUp(self) -> None:
        self.root = FilePath(self.mktemp())
        self.cache = FileCache(self.root, None, Clock())
        self.cache.scan()

    def test_file_store(self) -> None:
        """
        :class:`FileCache` provides :class:`IFileStore`.
        """
        self.assertTrue(verifyObject(IFileStore, self.cache))

    def test_spool_and_reader(self) -> None:
        """
        A spool of the file cache provides :class:`ISpool`, and its readers
        :class:`ISpoolReader`.
        """
        spool = self.cache.open_spool()
        self.addCleanup(spool.discard)
        self.assertTrue(verifyObject(ISpool, spool))
        reader = spool.open_reader()
        self.addCleanup(reader.close)
        self.assertTrue(verifyObject(ISpoolReader, reader))

    def test_file_reader(self) -> None:
        """
        A cached file is opened as an :class:`IFileReader`.
        """
        spool = self.cache.open_spool()
        spool.write(b"data")
        self.successResultOf(self.cache.commit(spool, ("i", "x-1.0.tar.gz")))
        reader = self.cache.open(("i", "x-1.0.tar.gz"))
        assert reader is not None
        self.addCleanup(reader.close)
        self.assertTrue(verifyObject(IFileReader, reader))

    def test_reservation(self) -> None:
        """
        Reserving room gives an :class:`IReservation`.
        """
        reservation = self.cache.reserve(10)
        self.addCleanup(reservation.release)
        self.assertTrue(verifyObject(IReservation, reservation))

    def test_record_store(self) -> None:
        """
        :class:`LocalRecords` provides :class:`IRecordStore`.
        """
        records = LocalRecords(FilePath(self.mktemp()), ".page")
        self.assertTrue(verifyObject(IRecordStore, records))
