# -*- test-case-name: tests.storage.test_bucketindex -*-
"""
A private index's files in a bucket (``--local NAME=s3://BUCKET/PREFIX``),
shared by every node.

The files are the objects directly under the prefix (``PREFIX/six-1.0.whl``),
listed with ``ListObjectsV2`` (delimiter ``/``), served by ranged ``GET``
(:class:`~twisted_pypi.storage.objectreader.ObjectReader`).

Their facts are computed once, by the node that took the upload, and kept
with them, so no node ever reads a whole object to hash it:

- the file object's user metadata holds its ``sha256``, its
  ``requires-python`` (percent-encoded) and the sha256 of its core metadata;
- the core metadata itself is a small object named by the file's sha256,
  ``PREFIX/.pypiproxy/<sha256>.metadata``, written before the file (being
  named by content, a writer that loses a race leaves only a harmless
  duplicate).

A node reads those once per object version (a ``HEAD``, and a ``GET`` of the
metadata); an object put into the bucket by other means is listed without
hashes, and, if it is a wheel, with the ``METADATA`` read by ranges of it
(its zip directory and that member: a few KB, never the whole object), so
that every wheel of the index has its ``.metadata``.

Publishing is one create-only upload of the file (in parts above the
threshold), so two nodes taking the same name cannot both succeed, and
nobody sees a partial file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, unquote

from twisted.internet.defer import Deferred, DeferredSemaphore
from twisted.logger import Logger
from zope.interface import implementer

from twisted_pypi.core.metadata import MetadataUnavailable
from twisted_pypi.core.names import project_of_filename
from twisted_pypi.core.runner import Runner, run_now
from twisted_pypi.core.zipranges import metadata_by_ranges
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.errors import AlreadyExists, NotFound, S3Error
from twisted_pypi.objectstore.multipart import DEFAULT_THRESHOLD, put_file
from twisted_pypi.objectstore.s3xml import ListedObject
from twisted_pypi.storage.interfaces import FileStat, ShortRead, StoreUnreachable
from twisted_pypi.storage.objectreader import ObjectReader
from twisted_pypi.storage.privateplace import (
    IPrivatePlace,
    LocalFile,
    NameTaken,
    PlaceListing,
    requires_python_of,
)
from twisted_pypi.storage.wheelread import stored_ranges

__all__ = ["FACTS_FOLDER", "BucketIndexPlace"]

log = Logger()

#: The folder (under the prefix) of the core metadata objects.
FACTS_FOLDER = ".pypiproxy/"

#: The largest core metadata object read.
_MAX_METADATA = 1 << 20

#: Objects whose facts are read at once while listing.
_CONCURRENT = 8

#: The content type of distribution files.
_OCTETS = "application/octet-stream"


@implementer(IPrivatePlace)
class BucketIndexPlace:
    """
    The objects under a prefix of a bucket.

    :ivar where: ``s3://BUCKET/PREFIX``.
    :ivar ttl: Seconds a listing stays good.
    :ivar spool_dir: Where uploads are spooled before they are published.
    """

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str,
        spool_dir: str,
        ttl: float,
        threshold: int = DEFAULT_THRESHOLD,
        run: Runner | None = None,
    ) -> None:
        """
        :param client: Talks to the store.
        :param bucket: The bucket.
        :param prefix: ``""`` or a prefix ending in ``/``.
        :param spool_dir: A local directory for upload spools.
        :param ttl: Seconds a listing stays good (the page TTL).
        :param threshold: Files larger than this are uploaded in parts.
        :param run: Reads the zip of a wheel put into the bucket by other
            means (its metadata) away from the reactor; by default at once.
        """
        self.where = f"s3://{bucket}/{prefix}"
        self.ttl = ttl
        self.spool_dir = spool_dir
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._threshold = threshold
        self._run: Runner = run if run is not None else run_now

    def _metadata_key(self, sha256: str) -> str:
        return f"{self._prefix}{FACTS_FOLDER}{sha256}.metadata"

    async def _names(self) -> list[ListedObject]:
        """Every object directly under the prefix."""
        listed: list[ListedObject] = []
        token: str | None = None
        while True:
            page = await self._client.list_objects(
                self._bucket, self._prefix, token, delimiter="/"
            )
            listed.extend(page.objects)
            token = page.next_token
            if token is None:
                return listed

    def scan(self, known: Mapping[str, LocalFile]) -> Deferred[PlaceListing | None]:
        """
        See :meth:`IPrivatePlace.scan`: one listing, and the facts of each
        object not known in this version.
        """
        return Deferred.fromCoroutine(self._scan(known))

    async def _scan(self, known: Mapping[str, LocalFile]) -> PlaceListing | None:
        try:
            listed = await self._names()
        except S3Error as e:
            raise StoreUnreachable(f"cannot list {self.where}: {e}") from None
        found: dict[str, LocalFile] = {}
        unreadable: dict[str, str] = {}
        limit = DeferredSemaphore(_CONCURRENT)
        pending: list[tuple[str, str, Deferred[LocalFile]]] = []
        for obj in listed:
            filename = obj.key[len(self._prefix) :]
            project = project_of_filename(filename)
            if project is None:
                continue
            old = known.get(filename)
            if old is not None and old.version == obj.etag:
                found[filename] = old
                continue
            facts = limit.run(self._facts, obj, filename, project)
            pending.append((filename, project, facts))
        for name, of_project, facts in pending:
            try:
                found[name] = await facts
            except S3Error as e:
                log.warn(
                    "Cannot read {where}{filename}: {error}",
                    where=self.where, filename=name, error=str(e),
                )  # fmt: skip
                unreadable[of_project] = f"cannot read {name}: {e}"
        return PlaceListing(found, unreadable)

    async def _facts(self, obj: ListedObject, filename: str, project: str) -> LocalFile:
        """What the upload that wrote the object computed (``HEAD``, ``GET``)."""
        info = await self._client.head(self._bucket, obj.key)
        meta = info.metadata
        sha256 = meta.get("sha256", "")
        metadata: bytes | None = None
        expected = meta.get("metadata-sha256")
        version = info.etag
        if sha256 and expected:
            try:
                _, data = await self._client.read(
                    self._bucket, self._metadata_key(sha256), _MAX_METADATA
                )
            except NotFound:
                data = None
            if data is not None and hashlib.sha256(data).hexdigest() == expected:
                metadata = data
            else:
                version = ""  # look again next time
        requires = meta.get("requires-python")
        requires_python = unquote(requires) if requires else None
        if not sha256 and filename.endswith(".whl"):
            stat = FileStat(info.size, info.modified or obj.modified, info.etag)
            metadata = await self._ranged_metadata(obj.key, filename, stat)
            requires_python = requires_python_of(metadata)
        return LocalFile(
            filename=filename,
            project=project,
            size=info.size,
            mtime_ns=int((info.modified or obj.modified) * 1e9),
            sha256=sha256,
            metadata=metadata,
            requires_python=requires_python,
            version=version,
        )

    async def _ranged_metadata(
        self, key: str, filename: str, stat: FileStat
    ) -> bytes | None:
        """
        The ``METADATA`` of a wheel put into the bucket by other means than
        an upload, read by ranged ``GET`` requests; ``None`` if it has none
        (logged).
        """
        reader = ObjectReader(self._client, self._bucket, key, stat)
        try:
            ranged = await metadata_by_ranges(
                stored_ranges(reader), filename, self._run
            )
        except (MetadataUnavailable, S3Error, ShortRead, OSError) as e:
            log.warn(
                "No metadata in {where}{filename}: {error}",
                where=self.where,
                filename=filename,
                error=str(e),
            )
            return None
        finally:
            reader.close()
        return ranged.metadata

    def open(self, file: LocalFile) -> ObjectReader:
        """
        See :meth:`IPrivatePlace.open`: ranged ``GET`` requests of the
        listed version.
        """
        stat = FileStat(file.size, file.mtime_ns / 1e9, file.version)
        return ObjectReader(
            self._client, self._bucket, self._prefix + file.filename, stat
        )

    def publish(
        self,
        spool: str,
        file: LocalFile,
        conflict: Callable[[Iterable[str]], str | None],
    ) -> Deferred[None]:
        """
        See :meth:`IPrivatePlace.publish`: a fresh listing is checked, the
        core metadata written, then the file created (create-only).
        """
        return Deferred.fromCoroutine(self._publish(spool, file, conflict))

    async def _publish(
        self,
        spool: str,
        file: LocalFile,
        conflict: Callable[[Iterable[str]], str | None],
    ) -> None:
        try:
            names = [o.key[len(self._prefix) :] for o in await self._names()]
            existing = conflict(names)
            if existing is not None:
                raise NameTaken(existing)
            meta = {"sha256": file.sha256}
            if file.requires_python is not None:
                meta["requires-python"] = quote(file.requires_python, safe="")
            if file.metadata is not None:
                meta["metadata-sha256"] = hashlib.sha256(file.metadata).hexdigest()
                await self._client.put(
                    self._bucket,
                    self._metadata_key(file.sha256),
                    file.metadata,
                    content_type="text/plain; charset=utf-8",
                )
            await put_file(
                self._client,
                self._bucket,
                self._prefix + file.filename,
                spool,
                file.size,
                sha256=file.sha256,
                content_type=_OCTETS,
                metadata=meta,
                create_only=True,
                threshold=self._threshold,
            )
        except AlreadyExists:
            raise NameTaken(file.filename) from None
        except S3Error as e:
            raise StoreUnreachable(f"cannot publish to {self.where}: {e}") from None
