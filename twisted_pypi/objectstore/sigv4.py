# -*- test-case-name: tests.objectstore.test_signing -*-
"""
botocore's S3 signer, for :class:`~twisted_pypi.objectstore.signing.Signer`
(which imports this module when it first signs, so botocore is loaded only
by a process that talks to a store).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

__all__ = ["signed_headers"]


class _Auth(S3SigV4Auth):
    """
    botocore's S3 signer, taking the payload hash from the request's
    context instead of hashing the body itself (we stream bodies, and hash
    them ourselves where that is wanted).
    """

    def payload(self, request: AWSRequest) -> str:
        """
        The payload hash the caller chose.
        """
        chosen: str = request.context["payload_hash"]
        return chosen


def signed_headers(
    credentials: ReadOnlyCredentials,
    region: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    payload: str,
) -> dict[str, str]:
    """
    Sign a request (see :meth:`~twisted_pypi.objectstore.signing.Signer.sign`).

    :param credentials: A frozen snapshot of the credentials.
    :param region: The region.
    :return: ``headers`` plus the signature headers.
    """
    request = AWSRequest(method=method, url=url, headers=dict(headers))
    context: dict[str, Any] = request.context
    context["payload_hash"] = payload
    _Auth(credentials, "s3", region).add_auth(request)
    return {name: str(value) for name, value in request.headers.items()}
