# -*- test-case-name: tests.objectstore.test_errors -*-
"""
What can go wrong talking to an object store, as exceptions a caller can
tell apart: the object is not there, it already is (a conditional create
lost), access is refused, or the store cannot be reached or is failing.

S3 reports errors as a status and a small XML document
(``<Error><Code>NoSuchKey</Code><Message>...``); :func:`error_for` maps
both to one of these classes.  Messages come from the store, never from our
credentials: nothing here can carry a secret.
"""

from __future__ import annotations

from xml.etree.ElementTree import ParseError

from twisted_pypi.objectstore.s3xml import parse_error

__all__ = [
    "AccessDenied",
    "AlreadyExists",
    "NotFound",
    "PreconditionFailed",
    "RangeNotSatisfiable",
    "S3Error",
    "StoreUnavailable",
    "error_for",
]


class S3Error(Exception):
    """
    The object store refused or failed a request.

    :ivar status: The HTTP status, or ``None`` if no response came.
    :ivar code: S3's error code (``NoSuchKey``...), or ``""``.
    :ivar message: What the store said, or what happened.
    :ivar resource: What the request was about (``bucket/key``), or ``""``.
    """

    def __init__(
        self,
        message: str,
        status: int | None = None,
        code: str = "",
        resource: str = "",
    ) -> None:
        """
        :param message: What the store said, or what happened.
        :param status: The HTTP status, if a response came.
        :param code: S3's error code, if it gave one.
        :param resource: What the request was about.
        """
        super().__init__(message, status, code, resource)
        self.message = message
        self.status = status
        self.code = code
        self.resource = resource

    def __str__(self) -> str:
        """
        One line: the resource, status, code and message.
        """
        parts = [self.resource] if self.resource else []
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        parts.append(self.message)
        return ": ".join([" ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)


class NotFound(S3Error):
    """
    No such object (or bucket, or multipart upload).
    """


class PreconditionFailed(S3Error):
    """
    A condition of the request (``If-Match``, ``If-None-Match``) did not
    hold.
    """


class AlreadyExists(PreconditionFailed):
    """
    A conditional create (``If-None-Match: *``) found the object there
    already: another writer published it first.
    """


class AccessDenied(S3Error):
    """
    The store refused the credentials or the signature, or they do not
    allow the request.
    """


class RangeNotSatisfiable(S3Error):
    """
    A ranged read started at or past the object's end.
    """


class StoreUnavailable(S3Error):
    """
    The store could not be reached, did not answer in time, cut a response
    short, or failed (a 5xx status): the request may succeed later.
    """


#: S3 codes meaning the credentials or signature were refused (with 400 or
#: 403).
_ACCESS_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
    }
)


def error_for(
    status: int, body: bytes, resource: str = "", creating: bool = False
) -> S3Error:
    """
    The exception for an S3 error response.

    :param status: The HTTP status.
    :param body: The response body (an S3 XML error document, or anything:
        a proxy's HTML page, nothing at all for ``HEAD``).
    :param resource: What the request was about.
    :param creating: Whether the request was a conditional create
        (``If-None-Match: *``): then 412 means :class:`AlreadyExists`.
    """
    code, message = "", ""
    try:
        code, message = parse_error(body)
    except (ParseError, ValueError):
        pass
    message = message or f"HTTP {status}"
    kind: type[S3Error] = S3Error
    if status >= 500 or code in ("SlowDown", "ServiceUnavailable", "InternalError"):
        kind = StoreUnavailable
    elif status == 404:
        kind = NotFound
    elif status == 412:
        kind = AlreadyExists if creating else PreconditionFailed
    elif status == 416:
        kind = RangeNotSatisfiable
    elif status == 403 or code in _ACCESS_CODES:
        kind = AccessDenied
    return kind(message, status, code, resource)
