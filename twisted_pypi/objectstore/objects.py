# -*- test-case-name: tests.objectstore.test_client -*-
"""
What the object store answers about an object: its information (size,
entity tag, metadata) from a response's headers, and a body still to be
streamed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from email.utils import parsedate_to_datetime
from typing import TypeVar

from attrs import field, frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConsumer
from twisted.web.iweb import IResponse

from twisted_pypi.objectstore.bodies import discard_body, stream_body
from twisted_pypi.objectstore.s3xml import unquote_etag

__all__ = ["ObjectBody", "ObjectInfo", "content_range", "header", "run"]

_T = TypeVar("_T")


def run(work: Awaitable[_T]) -> Deferred[_T]:
    """
    A coroutine as a Deferred (cancelling it cancels what it awaits).
    """
    return Deferred.fromCoroutine(work)  # type: ignore[arg-type]


@frozen
class ObjectInfo:
    """
    What the store says about an object.

    :ivar size: The whole object's size in bytes.
    :ivar etag: Its entity tag (unquoted).
    :ivar modified: When it was written, in seconds since the epoch (0 if
        the store did not say).
    :ivar content_type: Its ``Content-Type``.
    :ivar metadata: Its user metadata (``x-amz-meta-*``, names lower-case
        without the prefix).
    """

    size: int
    etag: str
    modified: float = 0.0
    content_type: str = ""
    metadata: Mapping[str, str] = field(factory=dict)

    @classmethod
    def of(cls, response: IResponse, size: int) -> ObjectInfo:
        """
        The object's information from a response's headers.
        """
        headers = response.headers
        meta = {}
        for name, values in headers.getAllRawHeaders():
            lower = name.decode("latin-1").lower()
            if lower.startswith("x-amz-meta-"):
                meta[lower[len("x-amz-meta-") :]] = values[0].decode("latin-1")
        modified = 0.0
        date = header(response, "last-modified")
        if date:
            try:
                modified = parsedate_to_datetime(date).timestamp()
            except (TypeError, ValueError):
                pass
        etag = unquote_etag(header(response, "etag"))
        content_type = header(response, "content-type")
        return cls(size, etag, modified, content_type, meta)


@frozen
class ObjectBody:
    """
    An object (or a range of it) whose body is still to be read: stream it
    with :meth:`stream_to`, or :meth:`discard` it.

    :ivar info: The object's information.
    :ivar offset: The first byte of the body within the object.
    :ivar length: The body's length.
    """

    info: ObjectInfo
    offset: int
    length: int
    _response: IResponse
    _what: str

    def stream_to(self, consumer: IConsumer) -> Deferred[None]:
        """
        Write the body to ``consumer`` as it arrives, with backpressure.

        :return: A Deferred firing once it was written whole, or failing
            with :class:`StoreUnavailable` if it was cut short; cancelling
            it closes the connection.
        """
        return stream_body(self._response, consumer, self._what)

    def discard(self) -> None:
        """
        Do not read the body: close the connection.
        """
        discard_body(self._response)


def header(response: IResponse, name: str) -> str:
    """
    A response header's first value, or ``""``.
    """
    values = response.headers.getRawHeaders(name.encode("ascii"))
    return values[0].decode("latin-1") if values else ""


def content_range(value: str) -> tuple[int, int, int]:
    """
    ``bytes FIRST-LAST/TOTAL`` as ``(first, length, total)``.

    :raise ValueError: If it is not that.
    """
    unit, _, spec = value.partition(" ")
    span, _, total = spec.partition("/")
    first, _, last = span.partition("-")
    if unit != "bytes":
        raise ValueError(value)
    return int(first), int(last) - int(first) + 1, int(total)
