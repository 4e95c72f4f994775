"""
Tests for :mod:`twisted_pypi.core.rendition`: a page's representations
ready to send.
"""

from __future__ import annotations

import gzip

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.rendition import Rendition, RenditionFile


class RenditionTests(SynchronousTestCase):
    """
    :class:`Rendition` tags its bytes and gzips them once, on first use.
    """

    def test_etag(self) -> None:
        """
        The ETag is strong and quoted, the same for the same bytes and
        another for others; the gzipped form has its own.
        """
        one, same, other = (Rendition.of(b) for b in (b"page", b"page", b"other"))
        self.assertEqual(one.etag, same.etag)
        self.assertNotEqual(one.etag, other.etag)
        self.assertTrue(one.etag.startswith('"') and one.etag.endswith('"'))
        self.assertEqual(one.gzip_etag, one.etag[:-1] + '-gz"')

    def test_gzipped_once(self) -> None:
        """
        The gzipped form decompresses to the body, is made on first use
        and kept.
        """
        rendition = Rendition.of(b"<html>" * 100)
        self.assertFalse(rendition.has_gzipped)
        gzipped = rendition.gzipped
        self.assertTrue(rendition.has_gzipped)
        self.assertIs(rendition.gzipped, gzipped)
        self.assertEqual(gzip.decompress(gzipped), b"<html>" * 100)


class RenditionFileTests(SynchronousTestCase):
    """
    :class:`RenditionFile` names a representation kept on disk.
    """

    def test_gzip_etag(self) -> None:
        """
        The gzipped file's ETag is the plain one marked ``-gz``.
        """
        kept = RenditionFile('"abc"', "/p", "/p.gz")
        self.assertEqual(kept.gzip_etag, '"abc-gz"')
