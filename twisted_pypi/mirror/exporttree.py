# -*- test-case-name: tests.mirror.test_exporttree -*-
"""
Where ``pypiproxy export`` writes its static tree: a directory
(:class:`DirectoryTree`, ``export DIR``) or a prefix of a bucket
(:class:`BucketTree`, ``export s3://BUCKET/PREFIX``).
:mod:`~twisted_pypi.mirror.export` decides what goes where; a tree only
writes, keeps and removes paths relative to its root.

A bucket's objects get the content types a static host or CDN serves them
with (:func:`content_type_of`).  Its export is incremental: the prefix is
listed once; a page (or ``.metadata``) whose object has the entity tag of
its bytes (the MD5 of a single-``PUT`` object) is not written again, and a
distribution file whose object has its size is kept (a distribution's
bytes never change under the same name).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from typing import Protocol

from twisted.python.filepath import FilePath

from twisted_pypi.core.links import METADATA
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.errors import NotFound
from twisted_pypi.objectstore.multipart import put_file
from twisted_pypi.storage.records import write_atomically

__all__ = [
    "BucketTree",
    "DirectoryTree",
    "ExportTree",
    "Placed",
    "content_type_of",
]

#: How a file was put in place: hard-linked, copied (or uploaded), or kept.
Placed = str

_TYPES = (
    (".html", "text/html; charset=utf-8"),
    (".v1_json", "application/vnd.pypi.simple.v1+json"),
    (".json", "application/json"),
    (METADATA, "text/plain; charset=utf-8"),
)


def content_type_of(relative: str) -> str:
    """
    The content type an exported path is served with.

    :param relative: The path within the tree.
    """
    for suffix, kind in _TYPES:
        if relative.endswith(suffix):
            return kind
    return "application/octet-stream"


class ExportTree(Protocol):
    """
    The root an export writes to.
    """

    where: str

    async def load(self) -> None:
        """Find what the tree holds (before anything else)."""

    async def read(self, relative: str) -> bytes | None:
        """A small file of the tree (the manifest), or ``None``."""

    async def write(self, relative: str, data: bytes) -> bool:
        """Write a small file unless it holds ``data``; whether it was written."""

    async def place(self, relative: str, source: FilePath[str] | bytes) -> Placed:
        """Put a distribution file in place unless it is there with its size."""

    async def size_of(self, relative: str) -> int | None:
        """The size of a file the tree holds, or ``None``."""

    async def exists(self, relative: str) -> bool:
        """Whether the tree holds ``relative``."""

    async def remove(self, relative: str) -> None:
        """Remove a file, if it is there."""

    async def remove_folder(self, relative: str) -> None:
        """Remove everything under a folder."""


class DirectoryTree:
    """
    A directory (files hard-linked from the cache where possible).
    """

    def __init__(self, root: FilePath[str]) -> None:
        """
        :param root: The export's root (created if needed).
        """
        self.root = root
        self.where = root.path

    def _path(self, relative: str) -> FilePath[str]:
        return self.root.preauthChild(relative)

    async def load(self) -> None:
        """Nothing to find: the directory is looked at as needed."""

    async def read(self, relative: str) -> bytes | None:
        """See :meth:`ExportTree.read`."""
        try:
            return self._path(relative).getContent()
        except OSError:
            return None

    async def write(self, relative: str, data: bytes) -> bool:
        """See :meth:`ExportTree.write` (atomically)."""
        path = self._path(relative)
        try:
            if path.getContent() == data:
                return False
        except OSError:
            pass
        path.parent().makedirs(ignoreExistingDirectory=True)
        write_atomically(path, data)
        return True

    async def place(self, relative: str, source: FilePath[str] | bytes) -> Placed:
        """See :meth:`ExportTree.place`: a hard link, else a copy."""
        target = self._path(relative)
        target.parent().makedirs(ignoreExistingDirectory=True)
        if isinstance(source, bytes):
            return "copied" if await self.write(relative, source) else "kept"
        if target.exists() and target.getsize() == source.getsize():
            return "kept"
        temp = target.temporarySibling(".part")
        placed = "linked"
        try:
            os.link(source.path, temp.path)
        except OSError:
            shutil.copyfile(source.path, temp.path)
            placed = "copied"
        os.replace(temp.path, target.path)
        return placed

    async def exists(self, relative: str) -> bool:
        """See :meth:`ExportTree.exists`."""
        return self._path(relative).exists()

    async def size_of(self, relative: str) -> int | None:
        """See :meth:`ExportTree.size_of`."""
        try:
            return self._path(relative).getsize()
        except OSError:
            return None

    async def remove(self, relative: str) -> None:
        """See :meth:`ExportTree.remove`."""
        try:
            os.remove(self._path(relative).path)
        except FileNotFoundError:
            pass

    async def remove_folder(self, relative: str) -> None:
        """See :meth:`ExportTree.remove_folder`."""
        shutil.rmtree(self._path(relative).path, True)


class BucketTree:
    """
    The objects under a prefix of a bucket.
    """

    def __init__(self, client: S3Client, bucket: str, prefix: str) -> None:
        """
        :param client: Talks to the store.
        :param bucket: The bucket.
        :param prefix: ``""`` or a prefix ending in ``/``.
        """
        self.where = f"s3://{bucket}/{prefix}"
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        #: What the prefix holds: relative path to (size, entity tag).
        self._objects: dict[str, tuple[int, str]] = {}

    async def load(self) -> None:
        """See :meth:`ExportTree.load`: one listing of the prefix."""
        token: str | None = None
        while True:
            page = await self._client.list_objects(self._bucket, self._prefix, token)
            for listed in page.objects:
                relative = listed.key[len(self._prefix) :]
                self._objects[relative] = (listed.size, listed.etag)
            token = page.next_token
            if token is None:
                return

    async def read(self, relative: str) -> bytes | None:
        """See :meth:`ExportTree.read`."""
        if relative not in self._objects:
            return None
        try:
            _, data = await self._client.read(self._bucket, self._prefix + relative)
        except NotFound:
            return None
        return data

    async def write(self, relative: str, data: bytes) -> bool:
        """
        See :meth:`ExportTree.write`: skipped if the object's entity tag is
        the MD5 of ``data``.
        """
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        if self._objects.get(relative) == (len(data), md5):
            return False
        etag = await self._client.put(
            self._bucket,
            self._prefix + relative,
            data,
            content_type=content_type_of(relative),
        )
        self._objects[relative] = (len(data), etag)
        return True

    async def place(self, relative: str, source: FilePath[str] | bytes) -> Placed:
        """
        See :meth:`ExportTree.place`: uploaded (in parts if large) unless
        an object of its size is there.
        """
        if isinstance(source, bytes):
            return "copied" if await self.write(relative, source) else "kept"
        size = source.getsize()
        known = self._objects.get(relative)
        if known is not None and known[0] == size:
            return "kept"
        etag = await put_file(
            self._client,
            self._bucket,
            self._prefix + relative,
            source.path,
            size,
            content_type=content_type_of(relative),
        )
        self._objects[relative] = (size, etag)
        return "copied"

    async def exists(self, relative: str) -> bool:
        """See :meth:`ExportTree.exists` (by the listing and what was written)."""
        return relative in self._objects

    async def size_of(self, relative: str) -> int | None:
        """See :meth:`ExportTree.size_of` (by the listing and what was written)."""
        known = self._objects.get(relative)
        return known[0] if known is not None else None

    async def remove(self, relative: str) -> None:
        """See :meth:`ExportTree.remove`."""
        if self._objects.pop(relative, None) is not None:
            await self._client.delete(self._bucket, self._prefix + relative)

    async def remove_folder(self, relative: str) -> None:
        """See :meth:`ExportTree.remove_folder`."""
        folder = relative.rstrip("/") + "/"
        for name in [n for n in self._objects if n.startswith(folder)]:
            await self.remove(name)
