"""
Tests for :mod:`twisted_pypi.files.spec`: choosing the hash to check a
download with, and why a response or body is not the file the index
describes. Downloads failing for these reasons are tested in
``tests/files/test_download.py``.
"""

from __future__ import annotations

import hashlib

from twisted.internet import error
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.model import DistFile
from twisted_pypi.files.spec import (
    DownloadError,
    FileSpec,
    UpstreamError,
    UpstreamTimeout,
    VerificationError,
    as_download_error,
    body_problem,
    hasher_for,
    response_problem,
)

SPEC = FileSpec("https://h/x-1.0.tar.gz", ("i", "x-1.0.tar.gz"), size=4)


class HasherTests(SynchronousTestCase):
    """
    :func:`hasher_for`.
    """

    def test_sha256_first(self) -> None:
        """
        sha256 is preferred over the others, whatever the case of the names
        and digests; unknown names are ignored.
        """
        hashed = hasher_for({"MD5": "00", "whirlpool": "11", "SHA256": "AB"})
        assert hashed is not None
        self.assertEqual((hashed[0].name, hashed[1]), ("sha256", "ab"))

    def test_strongest_other(self) -> None:
        """
        Without sha256, the strongest hash given is used.
        """
        hashed = hasher_for({"md5": "00", "sha512": "11"})
        assert hashed is not None
        self.assertEqual(hashed[0].name, "sha512")

    def test_none(self) -> None:
        """
        Without a known hash there is nothing to check.
        """
        self.assertIsNone(hasher_for({}))
        self.assertIsNone(hasher_for({"whirlpool": "00"}))


class ProblemTests(SynchronousTestCase):
    """
    :func:`response_problem` and :func:`body_problem`.
    """

    def test_response(self) -> None:
        """
        A status other than 200, or a length other than the index's, is a
        problem; an unknown length is not.
        """
        self.assertIsNone(response_problem(SPEC, 200, 4))
        self.assertIsNone(response_problem(SPEC, 200, None))
        problem = response_problem(SPEC, 404, 4)
        self.assertEqual(type(problem), UpstreamError)
        self.assertIn("404", str(problem))
        self.assertIsInstance(response_problem(SPEC, 200, 5), VerificationError)

    def test_body(self) -> None:
        """
        A body of another length, or with another hash, is not the file.
        """
        digest = hashlib.sha256(b"data").hexdigest()

        def hashed(body: bytes) -> tuple[object, str]:
            """The sha256 of ``body`` against the digest of ``data``."""
            return (hashlib.sha256(body), digest)

        self.assertIsNone(body_problem(4, 4, hashed(b"data")))
        self.assertIsNone(body_problem(4, None, None))
        self.assertIn("expected 5", str(body_problem(4, 5, None)))
        problem = body_problem(4, 4, hashed(b"dada"))
        self.assertIsInstance(problem, VerificationError)
        self.assertIn("sha256 mismatch", str(problem))


class AsDownloadErrorTests(SynchronousTestCase):
    """
    :func:`as_download_error`.
    """

    def test_kept(self) -> None:
        """
        Download and upstream errors are kept as they are.
        """
        for exc in (DownloadError("disk"), VerificationError("hash")):
            reason = Failure(exc)
            self.assertIs(as_download_error(reason), reason)

    def test_timeout(self) -> None:
        """
        A timeout becomes an :class:`UpstreamTimeout` caused by it.
        """
        cause = error.TimeoutError()
        converted = as_download_error(Failure(cause))
        value = converted.value
        assert isinstance(value, UpstreamTimeout)
        self.assertIs(value.__cause__, cause)

    def test_other(self) -> None:
        """
        Anything else becomes a plain :class:`UpstreamError` with its message.
        """
        converted = as_download_error(Failure(ConnectionResetError("reset")))
        self.assertEqual(type(converted.value), UpstreamError)
        self.assertIn("reset", str(converted.value))


class OfFileTests(SynchronousTestCase):
    """
    :meth:`FileSpec.of_file` and :meth:`FileSpec.of_metadata`.
    """

    def test_listing(self) -> None:
        """
        A listed file's spec carries the file as its page lists it (which
        takes no part in equality); its ``.metadata``'s does not.
        """
        dist = DistFile(
            "x-1.0.tar.gz",
            "https://h/x-1.0.tar.gz",
            {"sha256": "ab"},
            core_metadata=True,
        )
        segments = ("i", "https", "h", "x-1.0.tar.gz")
        spec = FileSpec.of_file(dist, segments)
        self.assertIs(spec.listing, dist)
        self.assertEqual(spec, FileSpec(dist.url, segments, None, {"sha256": "ab"}))
        self.assertIsNone(FileSpec.of_metadata(dist, segments).listing)
