# -*- test-case-name: tests.storage.test_dirplace -*-
"""
Where a private index (``--local``) keeps its files: the seam between the
index (:class:`~twisted_pypi.sources.local.LocalIndex`, which builds pages)
and the place that holds the files, a directory
(:class:`~twisted_pypi.storage.dirplace.DirectoryPlace`) or a bucket of an
object store (:class:`~twisted_pypi.storage.bucketindex.BucketIndexPlace`).

A place lists its files with what a page says of each (:class:`LocalFile`:
size, sha256, core metadata), opens one for reading by ranges, and
publishes a new one whole, create-only: an existing name is never replaced.
The facts of a file (hash, metadata) are found once per file version: a
directory inspects a new file in a thread, a bucket reads what the upload
that wrote the object computed.
"""

from __future__ import annotations

import email.parser
import hashlib
import os
import zlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone

from attrs import field, frozen
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from zope.interface import Attribute, Interface

from twisted_pypi.core.metadata import (
    MetadataUnavailable,
    metadata_from_sdist,
    metadata_from_wheel,
)
from twisted_pypi.storage.interfaces import IFileReader

__all__ = [
    "IPrivatePlace",
    "LocalFile",
    "NameTaken",
    "PlaceListing",
    "inspect_file",
    "requires_python_of",
]

log = Logger()


@frozen
class LocalFile:
    """
    One distribution file of a private index.

    :ivar filename: The file's name.
    :ivar project: Its normalized project name.
    :ivar size: Its size in bytes.
    :ivar mtime_ns: Its modification time, to notice a changed file.
    :ivar sha256: Its sha256, hex; ``""`` if unknown (an object put into a
        bucket by other means than an upload).
    :ivar metadata: The core metadata (``METADATA`` of a wheel, ``PKG-INFO``
        of an sdist), or ``None`` if it could not be read.
    :ivar requires_python: ``Requires-Python`` from the metadata.
    :ivar version: The place's version of the file (an object's entity tag;
        ``""`` for a directory, where ``mtime_ns`` tells).
    """

    filename: str
    project: str
    size: int
    mtime_ns: int
    sha256: str
    metadata: bytes | None
    requires_python: str | None
    version: str = field(default="", kw_only=True)

    @property
    def upload_time(self) -> str:
        """
        The modification time in the PEP 700 form.
        """
        moment = datetime.fromtimestamp(self.mtime_ns / 1e9, tz=timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@frozen
class PlaceListing:
    """
    What a place holds, as one look found it.

    :ivar files: The files by name.
    :ivar unreadable: Projects with a file that could not be read, and why.
    """

    files: Mapping[str, LocalFile]
    unreadable: Mapping[str, str] = field(factory=dict)


class NameTaken(Exception):
    """
    A file could not be published: the name (or, as the caller's check
    says, the same distribution under another name) is there already.

    :ivar existing: The name that is there.
    """

    def __init__(self, existing: str) -> None:
        """
        :param existing: The name that is there.
        """
        super().__init__(existing)
        self.existing = existing


class IPrivatePlace(Interface):
    """
    Where a private index's files live.
    """

    where = Attribute("The place, for messages: a directory or s3://BUCKET/PREFIX/.")
    ttl = Attribute(
        "Seconds a listing stays good (then it is refreshed in the"
        " background); 0: look again on every request."
    )
    spool_dir = Attribute("A local directory where uploads are spooled.")

    def scan(
        known: Mapping[str, LocalFile],  # noqa: N805
    ) -> Deferred[PlaceListing | None]:
        """
        Look at the place: the files it holds, their facts found once per
        version (``known`` holds those of the last look).

        :return: A Deferred firing with the listing, or ``None`` if nothing
            changed since the last look; failing with ``OSError`` (a
            :class:`~twisted_pypi.storage.interfaces.StoreUnreachable` for a
            bucket) if the place could not be read.
        """

    def open(file: LocalFile) -> IFileReader:  # noqa: N805
        """
        Open a listed file for reading by ranges.

        :raise OSError: If it is gone.
        """

    def publish(
        spool: str,  # noqa: N805
        file: LocalFile,
        conflict: Callable[[Iterable[str]], str | None],
    ) -> Deferred[None]:
        """
        Give a complete, verified local file its name in the place, whole
        and at once, unless ``conflict`` finds a name in the place that
        stands in the way (checked as close to the write as the place
        allows) or the name is taken.

        :param spool: The local file (the caller removes it afterwards).
        :param file: Its facts (as :func:`inspect_file` found them).
        :param conflict: Given the names in the place, the one that
            conflicts with the new file, or ``None``.
        :return: A Deferred failing with :class:`NameTaken` if the file is
            not published because of an existing one.
        """


def requires_python_of(metadata: bytes | None) -> str | None:
    """
    ``Requires-Python`` of core metadata, whitespace folded.

    :param metadata: The metadata, or ``None``.
    """
    if metadata is None:
        return None
    parsed = email.parser.BytesParser().parsebytes(metadata, headersonly=True)
    value = parsed.get("Requires-Python")
    return " ".join(str(value).split()) or None if value else None


def inspect_file(
    path: str, filename: str, project: str, sha256: str | None = None
) -> LocalFile:
    """
    Hash a distribution file and read its metadata (blocking).

    :param path: The file.
    :param filename: Its name.
    :param project: Its normalized project name.
    :param sha256: Its sha256 if already known (then it is not read again
        for that).
    """
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        if sha256 is None:
            digest = hashlib.sha256()
            while chunk := f.read(1 << 20):
                digest.update(chunk)
            sha256 = digest.hexdigest()
            f.seek(0)
        metadata: bytes | None
        try:
            if filename.endswith(".whl"):
                metadata = metadata_from_wheel(f, filename)
            else:
                metadata = metadata_from_sdist(f.read(), filename)
        except (MetadataUnavailable, zlib.error) as e:
            log.warn("No metadata in {path}: {error}", path=path, error=e)
            metadata = None
    return LocalFile(
        filename=filename,
        project=project,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        sha256=sha256,
        metadata=metadata,
        requires_python=requires_python_of(metadata),
    )
