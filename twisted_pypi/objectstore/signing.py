# -*- test-case-name: tests.objectstore.test_signing -*-
"""
Signing S3 requests with AWS Signature Version 4, and finding the
credentials the standard AWS ways.

botocore does both: its signer is exact and well kept, and its credential
chain is the one every AWS tool uses (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, the shared credentials
file and ``AWS_PROFILE``, and the rest).  Signing is a few HMACs: cheap
enough for the reactor thread.  Finding credentials may read files or ask
an instance metadata service: :func:`load_credentials` blocks, so call it
at startup or in a thread.

Secrets never leave this module except inside a signature: no repr, log
line or exception message shows a secret key or a session token.

botocore is imported when it is first needed (credentials are loaded, a
request is signed), not with this module: a proxy without a store does not
carry its ten megabytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.credentials import Credentials, ReadOnlyCredentials

__all__ = [
    "EMPTY_SHA256",
    "UNSIGNED_PAYLOAD",
    "NoCredentials",
    "Signer",
    "load_credentials",
    "payload_hash",
]

#: The payload hash that leaves a body out of the signature (for bodies
#: streamed from a file whose hash is not known in advance).
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"

#: The SHA-256 of no bytes: the payload hash of a request without a body.
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class NoCredentials(Exception):
    """
    No AWS credentials were found by the standard chain.
    """


def payload_hash(body: bytes) -> str:
    """
    The payload hash of a body sent whole: its SHA-256, in hex.
    """
    return hashlib.sha256(body).hexdigest()


def load_credentials(profile: str | None = None) -> Credentials:
    """
    Find credentials the standard AWS ways (environment, shared credentials
    and config files, ``AWS_PROFILE`` or ``profile``, container and instance
    roles).  Blocks: call it at startup or in a thread.

    :param profile: A profile of the shared files, or ``None`` for
        ``AWS_PROFILE`` or the default one.
    :raise NoCredentials: If there are none.
    """
    from botocore.session import Session

    found = Session(profile=profile).get_credentials()
    if found is None:
        raise NoCredentials(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or a profile in the shared credentials file (AWS_PROFILE)"
        )
    return found


class Signer:
    """
    Signs requests for one region with one set of credentials.

    The credentials are used as a frozen snapshot, so that signing never
    blocks: credentials that expire (a role's) are renewed by calling
    :meth:`refresh` in a thread when :meth:`needs_refresh` says so.
    """

    def __init__(self, credentials: Credentials, region: str = "us-east-1"):
        """
        :param credentials: From :func:`load_credentials` or built directly.
        :param region: The region requests are signed for.
        """
        self._source = credentials
        self._frozen: ReadOnlyCredentials = credentials.get_frozen_credentials()
        self.region = region

    @property
    def access_key(self) -> str:
        """
        The access key id (not a secret: it names the key).
        """
        return self._frozen.access_key or ""

    def __repr__(self) -> str:
        """
        The region and access key id, never the secret.
        """
        return f"<Signer region={self.region!r} access_key={self.access_key!r}>"

    def needs_refresh(self) -> bool:
        """
        Whether the credentials expire soon (only a role's ever do).
        """
        check = getattr(self._source, "refresh_needed", None)
        return bool(check()) if check is not None else False

    def refresh(self) -> None:
        """
        Take a new snapshot of the credentials, renewing them if they
        expire soon.  Blocks: call it in a thread.
        """
        self._frozen = self._source.get_frozen_credentials()

    def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        payload: str = EMPTY_SHA256,
    ) -> dict[str, str]:
        """
        Sign a request.

        :param method: The HTTP method.
        :param url: The full URL, its path and query already percent-encoded
            the way S3 wants (each query name and value by RFC 3986).
        :param headers: Headers to sign and send (no ``Host``: it is taken
            from the URL, as the HTTP client will send it).
        :param payload: The body's SHA-256 in hex, or
            :data:`UNSIGNED_PAYLOAD`.
        :return: ``headers`` plus the signature headers (``Authorization``,
            ``X-Amz-Date``, ``X-Amz-Content-SHA256``, and
            ``X-Amz-Security-Token`` for session credentials).
        """
        from twisted_pypi.objectstore.sigv4 import signed_headers

        return signed_headers(self._frozen, self.region, method, url, headers, payload)
