# -*- test-case-name: tests.storage.test_s3place -*-
"""
Where things live in a bucket: the same layout as a local cache directory
(:mod:`~twisted_pypi.storage.layout`), under an optional prefix.

``PREFIX/files/<segments...>``
    Complete, verified files, one object each.
``PREFIX/pages/<index>/<key>.page``, ``PREFIX/pypi-json/<index>/<key>.json``
    Records (:mod:`~twisted_pypi.storage.s3records`).

No spool (``tmp/``) is ever in the bucket: downloads are spooled on the
node's own disk and published whole.
"""

from __future__ import annotations

from attrs import frozen

from twisted_pypi.core.names import is_safe_segment
from twisted_pypi.storage.interfaces import Key
from twisted_pypi.storage.layout import FILES_DIR

__all__ = ["BucketPlace"]


@frozen
class BucketPlace:
    """
    A bucket, and the prefix of every key the proxy writes there.

    :ivar bucket: The bucket's name.
    :ivar prefix: ``""``, or a path ending in ``/``.
    """

    bucket: str
    prefix: str = ""

    def __str__(self) -> str:
        """``s3://BUCKET/PREFIX``, for messages."""
        return f"s3://{self.bucket}/{self.prefix}"

    @property
    def files_prefix(self) -> str:
        """The prefix of every file's object key."""
        return f"{self.prefix}{FILES_DIR}/"

    def file_key(self, key: Key) -> str:
        """
        The object key of a file.

        :param key: The file's key.
        :raise ValueError: If it is empty or a segment is unsafe.
        """
        if not key or not all(is_safe_segment(s) for s in key):
            raise ValueError(f"unsafe cache key: {key!r}")
        return self.files_prefix + "/".join(key)

    def key_of(self, object_key: str) -> Key | None:
        """
        The file an object key holds, or ``None`` if it holds none (outside
        ``files/``, or a segment that is unsafe).

        :param object_key: A key listed in the bucket.
        """
        if not object_key.startswith(self.files_prefix):
            return None
        key = tuple(object_key[len(self.files_prefix) :].split("/"))
        return key if all(is_safe_segment(s) for s in key) else None

    def area_prefix(self, area: str) -> str:
        """
        The prefix of a kind of records (``pages/``, say).

        :param area: Its directory name in a local cache, a safe segment
            other than ``files``.
        :raise ValueError: If it is unsafe or ``files``.
        """
        if not is_safe_segment(area) or area == FILES_DIR:
            raise ValueError(f"not a usable area name: {area!r}")
        return f"{self.prefix}{area}/"
