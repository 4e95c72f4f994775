"""
Tests for :mod:`twisted_pypi.upload.errors`.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.upload.errors import UploadError, too_large


class ErrorTests(SynchronousTestCase):
    """
    Refusals carry a status and a sentence.
    """

    def test_upload_error(self) -> None:
        """
        An :class:`UploadError` has its status and message.
        """
        error = UploadError(409, "exists")
        self.assertEqual((error.code, error.message), (409, "exists"))

    def test_too_large(self) -> None:
        """
        Limits are given in bytes, and in MiB from 1 MiB on.
        """
        self.assertEqual(
            too_large(1000),
            "The upload is too large: files may have at most 1000 bytes",
        )
        self.assertEqual(
            too_large(100 << 20, "x.whl"),
            "x.whl is too large: files may have at most 100.0 MiB (104857600 bytes)",
        )
