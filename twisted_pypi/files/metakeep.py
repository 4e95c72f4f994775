# -*- test-case-name: tests.files.test_metakeep -*-
"""
Keeping the core metadata the proxy makes for wheels whose index offers
none (see :mod:`twisted_pypi.files.metadata`): its bytes in the file store
where an upstream ``.metadata`` would be, its sha256 in the
:class:`~twisted_pypi.storage.metacatalog.MetadataCatalog`, and the one
place it is read from a wheel the proxy downloaded: when the download is
committed (:meth:`MetadataKeeper.committed`), in the runner, from the
download's spool, checked against what the catalog had (read by ranges
before: a mismatch is logged, and the wheel's own replaces it).
"""

from __future__ import annotations

import hashlib

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pypi.core.links import metadata_segments
from twisted_pypi.core.metadata import MetadataUnavailable
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.names import project_of_filename
from twisted_pypi.core.runner import Runner
from twisted_pypi.core.zipranges import metadata_by_ranges
from twisted_pypi.files.flight import Download
from twisted_pypi.files.waiters import fire, observe
from twisted_pypi.storage.interfaces import IFileStore, ISpoolReader, ShortRead
from twisted_pypi.storage.metacatalog import (
    EXTRACTED,
    MetadataCatalog,
    Synthesized,
    file_key,
)
from twisted_pypi.storage.readout import read_bytes
from twisted_pypi.storage.wheelread import spool_metadata, stored_ranges

__all__ = ["MetadataKeeper", "Obtained", "project_of", "synthesizes"]

_log = Logger()


Key = tuple[str, ...]


@frozen
class Obtained:
    """
    A wheel's metadata, as the proxy had it.

    :ivar data: The ``METADATA`` bytes.
    :ivar source: How: ``extracted`` or ``ranged`` (see
        :mod:`~twisted_pypi.storage.metacatalog`).
    :ivar stored: Whether the store keeps it (then serve it from there).
    """

    data: bytes
    source: str
    stored: bool


def synthesizes(dist: DistFile) -> bool:
    """
    Whether the proxy makes ``dist``'s ``.metadata``: a wheel whose index
    offers none.
    """
    return dist.filename.endswith(".whl") and not dist.upstream_metadata


def project_of(dist: DistFile, project: str | None = None) -> str:
    """
    The project whose page lists ``dist``: ``project`` if given, else the
    one the page said, else the one its filename names.
    """
    return project or dist.project or project_of_filename(dist.filename) or ""


class MetadataKeeper:
    """
    Keeps the metadata the proxy makes, and reads it from committed
    wheels (see the module docstring).
    """

    def __init__(self, store: IFileStore, catalog: MetadataCatalog, run: Runner):
        """
        :param store: The file store.
        :param catalog: Where the hashes of what is kept are recorded.
        :param run: Runs reading zips, hashing and the catalog's I/O.
        """
        self.store = store
        self.catalog = catalog
        self._run = run
        self._extracting: dict[Key, list[Deferred[None]]] = {}

    def extracting(self, key: Key) -> Deferred[None] | None:
        """
        Waits for the reading of a committed wheel's metadata, if it runs.

        :param key: The wheel's place in the store.
        :return: A Deferred of this caller's own, or ``None``.
        """
        waiters = self._extracting.get(key)
        return None if waiters is None else observe(waiters)

    def committed(self, download: Download) -> None:
        """
        A download was committed: if it is a wheel the proxy makes the
        metadata of, read it from the spool (in the runner), check it
        against the catalog's, and keep it.  The hook of
        :class:`~twisted_pypi.files.download.Downloads`.

        :param download: The committed download.
        """
        dist, key = download.spec.listing, download.spec.segments
        if dist is None or not synthesizes(dist):
            return
        try:
            reader = download.open_reader()
        except OSError:
            return
        waiters = self._extracting.setdefault(key, [])
        work = Deferred.fromCoroutine(
            self._extract(dist, key, project_of(dist), reader, download.written)
        )

        def ended(result: object) -> None:
            if isinstance(result, Failure):
                _log.failure("Reading the metadata of {file}", result, file=key[-1])
            if self._extracting.get(key) is waiters:
                del self._extracting[key]
            fire(waiters, None)

        work.addBoth(ended)

    async def kept(self, key: Key) -> Obtained | None:
        """The metadata the store keeps for the wheel at ``key``, if any."""
        try:
            data = await read_bytes(self.store, metadata_segments(key))
        except (OSError, ShortRead):
            return None
        return None if data is None else Obtained(data, EXTRACTED, True)

    async def from_store(self, key: Key, filename: str) -> bytes:
        """
        The metadata of a stored wheel, read by ranges of it.

        :raises OSError: If the wheel is gone.
        :raises MetadataUnavailable: If it has no readable metadata.
        """
        reader = self.store.open(key)
        if reader is None:
            raise OSError(f"{key[-1]} is gone from the store")
        try:
            ranged = await metadata_by_ranges(
                stored_ranges(reader), filename, self._run
            )
        finally:
            reader.close()
        return ranged.metadata

    async def keep(
        self,
        key: Key,
        project: str,
        data: bytes,
        source: str,
        digest: str | None = None,
    ) -> Obtained:
        """
        Keep a wheel's metadata in the store and record it in the catalog
        (when the store could not keep it, the catalog forgets the wheel:
        no page advertises a hash that cannot be served).

        :param key: The wheel's place in the store.
        :param project: The project whose page lists it.
        :param data: The metadata.
        :param source: How it was had.
        :param digest: Its sha256, if known.
        """
        stored = await self._store_bytes(metadata_segments(key), data)
        index, entry_key = key[0], file_key(key)

        def record() -> None:
            sha256 = digest or hashlib.sha256(data).hexdigest()
            entry = Synthesized(sha256, source, len(data)) if stored else None
            self.catalog.put(index, project, entry_key, entry)

        await self._run(record)
        return Obtained(data, source, stored)

    async def _extract(
        self, dist: DistFile, key: Key, project: str, reader: ISpoolReader, size: int
    ) -> None:
        """See :meth:`committed`."""
        index, entry_key = key[0], file_key(key)

        def work() -> tuple[bytes, str, Synthesized | None]:
            data = spool_metadata(reader, size, dist.filename)
            old = self.catalog.get(index, project, entry_key)
            return data, hashlib.sha256(data).hexdigest(), old

        try:
            data, digest, old = await self._run(work)
        except MetadataUnavailable as e:
            _log.warn("No metadata in {file}: {why}", file=key[-1], why=str(e))
            return
        if old is not None and old.sha256 == digest:
            if self.store.stat(metadata_segments(key)) is not None:
                return  # what ranges gave is the wheel's
        elif old is not None:
            _log.warn(
                "The metadata of {file} read by ranges (sha256 {old}) is not"
                " the downloaded wheel's (sha256 {new}): replaced by the wheel's",
                file=key[-1],
                old=old.sha256,
                new=digest,
            )
        await self.keep(key, project, data, EXTRACTED, digest)

    async def _store_bytes(self, key: Key, data: bytes) -> bool:
        """
        Publish ``data`` as the file at ``key``: a spool of a few KB,
        written as downloads write theirs, then committed.

        :return: Whether it was published (else logged).
        """
        spool = None
        try:
            spool = self.store.open_spool()
            spool.write(data)
            await self.store.commit(spool, key)
        except OSError as e:
            if spool is not None:
                spool.discard()
            _log.warn("Could not keep {file}: {why}", file=key[-1], why=str(e))
            return False
        return True
