# -*- test-case-name: tests.files.test_download -*-
"""
What a download is asked for, how it reports itself, and how it fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import Enum, auto
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

from attrs import field, frozen
from twisted.internet import error
from twisted.internet.defer import TimeoutError
from twisted.python.failure import Failure

from twisted_pypi.core.links import METADATA, metadata_segments, with_credentials
from twisted_pypi.core.model import DistFile
from twisted_pypi.upstream.client import UpstreamError, UpstreamTimeout

__all__ = [
    "DownloadError",
    "DownloadStatus",
    "FileSpec",
    "NotCached",
    "State",
    "UpstreamError",
    "UpstreamTimeout",
    "VerificationError",
    "as_download_error",
    "body_problem",
    "failure_words",
    "hasher_for",
    "response_problem",
    "source_of",
]

#: sha256 (what indexes give) first, then the others, strongest first.
_HASHES = ("sha256", "sha512", "sha3_512", "blake2b", "sha384", "sha3_384",
           "sha3_256", "blake2s", "sha224", "sha3_224", "sha1", "md5")  # fmt: skip


class DownloadError(Exception):
    """
    A download failed for a local (disk) reason; nothing was cached.  An
    upstream's failure is an :class:`~twisted_pypi.upstream.client.UpstreamError`.
    """


class NotCached(DownloadError):
    """
    The store is full: the file was sent to the clients following its
    download (if there were any) but not cached.
    """


class VerificationError(UpstreamError):
    """
    The body's length or hash differs from the index's (or from the
    upstream's own ``Content-Length``).
    """


@frozen
class FileSpec:
    """
    What the index says about a file to download.

    :ivar url: The upstream URL, without credentials: what messages,
        logs and the status page show.
    :ivar segments: The file's place in the cache.
    :ivar size: The size the index gave, or ``None``.
    :ivar hashes: Hash name to hex digest, as the index gave them.
    :ivar credentials: ``(user, password)`` the index's link carried, for
        the upstream request only (see :attr:`fetch_url`); never shown.
    :ivar listing: The file as its page lists it, if it is a listed file
        (not a ``.metadata``): what is done with the file once committed
        (reading a wheel's metadata) asks it.  Context: it takes no part
        in comparisons.
    """

    url: str
    segments: tuple[str, ...]
    size: int | None = None
    hashes: Mapping[str, str] = field(factory=dict)
    credentials: tuple[str, str] | None = field(default=None, repr=False)
    listing: DistFile | None = field(default=None, eq=False, repr=False)

    @property
    def fetch_url(self) -> str:
        """
        The URL to request: :attr:`url` with the link's credentials, which
        the fetch function turns into an ``Authorization`` header.
        """
        return with_credentials(self.url, self.credentials)

    @classmethod
    def of_file(cls, dist: DistFile, segments: tuple[str, ...]) -> FileSpec:
        """
        What to download for a listed file: what its page says of it.

        :param dist: The file, as its page lists it.
        :param segments: Its place in the cache.
        """
        return cls(dist.url, segments, dist.size, dist.hashes, dist.credentials, dist)

    @classmethod
    def of_metadata(cls, dist: DistFile, segments: tuple[str, ...]) -> FileSpec:
        """
        What to download for a listed file's PEP 658 ``.metadata``.

        :param dist: The file, as its page lists it (with core metadata).
        :param segments: The file's place in the cache (not the metadata's).
        """
        metadata = dist.core_metadata
        hashes = dict(metadata) if isinstance(metadata, Mapping) else {}
        return cls(
            dist.url + METADATA,
            metadata_segments(segments),
            None,
            hashes,
            dist.credentials,
        )


@frozen
class DownloadStatus:
    """
    A snapshot of one download in flight (for a status page).

    :ivar url: The upstream URL.
    :ivar written: Bytes written to disk so far.
    :ivar expected_length: The expected length, if known.
    :ivar followers: How many clients are attached.
    :ivar cached: Whether the file will be cached (``False`` when it passes
        through to the clients because the store is full).
    """

    url: str
    written: int
    expected_length: int | None
    followers: int
    cached: bool = True


class State(Enum):
    """Where a download is in its life."""

    WAITING = auto()  #: for the upstream's response headers
    STREAMING = auto()  #: the body is being written
    COMMITTING = auto()  #: verified, being published to the store
    DONE = auto()  #: verified and committed
    PASSED = auto()  #: verified and sent on, not cached (the store is full)
    FAILED = auto()  #: nothing cached; see ``failure``


def hasher_for(hashes: Mapping[str, str]) -> tuple[Any, str] | None:
    """
    The hash to check a body with: the strongest that the index gave and
    :mod:`hashlib` always has (unknown names are ignored).

    :param hashes: Hash name to hex digest, as the index gave them.
    :return: A fresh hash object and the digest expected, or ``None``.
    """
    lowered = {k.lower(): v.lower() for k, v in hashes.items()}
    for name in _HASHES:
        if name in lowered and name in hashlib.algorithms_guaranteed:
            return hashlib.new(name), lowered[name]
    return None


def as_download_error(reason: Failure) -> Failure:
    """
    Why a download failed, as one of its errors.

    :param reason: Any failure.
    :return: ``reason`` if it is a :class:`DownloadError` or an
        :class:`UpstreamError`; else a timeout as an :class:`UpstreamTimeout`,
        anything else as an :class:`UpstreamError`.
    """
    if reason.check(DownloadError, UpstreamError):
        return reason
    timeout = reason.check(TimeoutError, error.TimeoutError)
    exc = (UpstreamTimeout if timeout else UpstreamError)(reason.getErrorMessage())
    exc.__cause__ = reason.value
    return Failure(exc)


def response_problem(
    spec: FileSpec, code: int, length: int | None
) -> UpstreamError | None:
    """
    Why an upstream's response headers cannot give the file.

    :param spec: The file.
    :param code: The response's status.
    :param length: Its ``Content-Length``, if any.
    :return: The error, or ``None`` when the body may be read.
    """
    if code != 200:
        return UpstreamError(f"the upstream answered {_status(code)}")
    size = spec.size
    if size is not None and length is not None and size != length:
        return VerificationError(
            f"the upstream's length ({length:,} bytes) is not the index's size"
            f" ({size:,} bytes)"
        )
    return None


def body_problem(
    written: int, expected: int | None, hashed: tuple[Any, str] | None
) -> VerificationError | None:
    """
    Why a whole body is not the file the index describes.

    :param written: Its length.
    :param expected: The length expected, if known.
    :param hashed: The hash object fed the body and the digest expected
        (see :func:`hasher_for`), if any.
    :return: The error, or ``None`` when the body is the file.
    """
    if expected is not None and written != expected:
        return VerificationError(
            f"the upstream sent {written:,} bytes, expected {expected:,}"
        )
    if hashed is not None and hashed[0].hexdigest() != hashed[1]:
        return VerificationError(
            f"{hashed[0].name} mismatch: the body is not the file the index lists"
        )
    return None


def failure_words(
    reason: Failure, written: int, expected: int | None, *, streaming: bool
) -> str:
    """
    Why a download failed, in words for its one log line: the failure's
    message, and, when the body was being received, how far it got
    (``"the upstream closed the connection after 1,234 of 5,678 bytes"``).

    :param reason: The download's failure (see :func:`as_download_error`).
    :param written: Bytes received.
    :param expected: Bytes expected, if known.
    :param streaming: Whether the body was being received.
    """
    why = reason.getErrorMessage()
    if not streaming or reason.check(VerificationError):
        return why  # a verification error gives its own figures
    of = "" if expected is None else f" of {expected:,}"
    return f"{why} after {written:,}{of} bytes"


def source_of(url: str) -> tuple[str, str]:
    """
    The file name and the upstream host a download's URL names, for logs:
    never the credentials a URL may carry.

    :param url: The file's upstream URL.
    :return: ``(file name, host[:port])``.
    """
    parts = urlsplit(url)
    name = unquote(parts.path.rsplit("/", 1)[-1]) or parts.path or url
    host = parts.hostname or "an unknown host"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return name, host if port is None else f"{host}:{port}"


def _status(code: int) -> str:
    """A status code with its reason phrase (``"404 Not Found"``)."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)
