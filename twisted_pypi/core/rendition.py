# -*- test-case-name: tests.core.test_rendition -*-
"""
A page's representations ready to send: in memory (:class:`Rendition`, its
gzipped form made on first use) or kept on disk (:class:`RenditionFile`).
"""

from __future__ import annotations

import gzip
from hashlib import blake2b

from attrs import define, frozen

__all__ = ["Rendition", "RenditionFile"]


@define
class Rendition:
    """
    One representation of a page, ready to send; the gzipped form is made on
    first use.

    :ivar body: The uncompressed bytes.
    :ivar etag: A strong, quoted ETag of ``body``.
    """

    body: bytes
    etag: str
    _gzipped: bytes | None = None

    @classmethod
    def of(cls, body: bytes) -> Rendition:
        """
        Tag ``body``.

        :param body: The bytes of the representation.
        """
        return cls(body, f'"{blake2b(body, digest_size=12).hexdigest()}"')

    @property
    def gzipped(self) -> bytes:
        """
        ``body``, gzip-compressed (computed once).
        """
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped

    @property
    def has_gzipped(self) -> bool:
        """
        Whether :attr:`gzipped` is already computed (reading it is cheap).
        """
        return self._gzipped is not None

    @property
    def gzip_etag(self) -> str:
        """
        The ETag of :attr:`gzipped`.
        """
        return self.etag[:-1] + '-gz"'


@frozen
class RenditionFile:
    """
    One representation of a page kept on disk, as it is sent: plain and
    gzipped.

    :ivar etag: The strong, quoted ETag of the plain bytes.
    :ivar path: The file of the plain bytes.
    :ivar gzip_path: The file of the gzipped bytes.
    """

    etag: str
    path: str
    gzip_path: str

    @property
    def gzip_etag(self) -> str:
        """
        The ETag of the gzipped bytes.
        """
        return self.etag[:-1] + '-gz"'
