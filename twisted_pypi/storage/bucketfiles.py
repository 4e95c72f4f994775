# -*- test-case-name: tests.storage.test_bucketfiles -*-
"""
The cached files of a shared store (``PREFIX/files/`` of a bucket), for
``pypiproxy cache``: listed, deleted and hashed with botocore's blocking
client (the commands run without a reactor; botocore signs and retries).

It is the store's counterpart of the files part of a cache directory
(:class:`~twisted_pypi.storage.cachefiles.LocalFiles`): the same
:class:`~twisted_pypi.storage.cachedir.CacheDir` works on either.  Nodes
sharing the store notice a deleted object when they next read it (and
download the file again); a copy a node keeps in its own read cache stays
there until evicted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from twisted_pypi.storage.interfaces import Key
from twisted_pypi.storage.s3place import BucketPlace

__all__ = ["BucketFiles"]

#: Bytes read per step while hashing an object.
_CHUNK = 1 << 20

#: What botocore raises when a request fails.
_FAILURES = (BotoCoreError, ClientError)


class BucketFiles:
    """
    The file objects under ``PREFIX/files/`` of a bucket.
    """

    def __init__(self, client: Any, place: BucketPlace) -> None:
        """
        :param client: A botocore S3 client (path-style addressing).
        :param place: The bucket and prefix.
        """
        self._client = client
        self.place = place

    def __str__(self) -> str:
        """The store, as ``--store`` names it."""
        return str(self.place)

    def walk(self) -> list[tuple[Key, int]]:
        """
        Every file object, as ``(key, size)``, in no particular order.

        :raise OSError: If the store cannot be listed.
        """
        found: list[tuple[Key, int]] = []
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.place.bucket, Prefix=self.place.files_prefix
        )
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    key = self.place.key_of(item["Key"])
                    if key is not None:
                        found.append((key, int(item["Size"])))
        except _FAILURES as e:
            raise OSError(f"cannot list {self.place}: {e}") from None
        return found

    def remove(self, key: Key) -> bool:
        """
        Delete a file's object.

        :return: Whether it was there.
        :raise OSError: If the store failed.
        """
        name = self.place.file_key(key)
        try:
            self._client.head_object(Bucket=self.place.bucket, Key=name)
        except ClientError as e:
            if _code(e) in ("NoSuchKey", "404"):
                return False
            raise OSError(f"cannot delete {name}: {e}") from None
        except BotoCoreError as e:
            raise OSError(f"cannot delete {name}: {e}") from None
        try:
            self._client.delete_object(Bucket=self.place.bucket, Key=name)
        except _FAILURES as e:
            raise OSError(f"cannot delete {name}: {e}") from None
        return True

    def digest(self, key: Key, name: str) -> str | None:
        """
        The hex digest of a file's object, streamed through the hash, or
        ``None`` if it is gone or cannot be read whole.

        :param key: The file.
        :param name: A :mod:`hashlib` algorithm.
        """
        hasher = hashlib.new(name)
        try:
            answer = self._client.get_object(
                Bucket=self.place.bucket, Key=self.place.file_key(key)
            )
            body = answer["Body"]
            try:
                while chunk := body.read(_CHUNK):
                    hasher.update(chunk)
            finally:
                body.close()
        except (*_FAILURES, OSError):
            return None
        return hasher.hexdigest()


def _code(error: ClientError) -> str:
    """The S3 error code (or HTTP status) of a failed request."""
    code: str = error.response.get("Error", {}).get("Code", "")
    return code
