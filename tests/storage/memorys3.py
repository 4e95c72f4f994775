"""
An in-memory S3 behind a fake ``IAgent``, for unit tests of code built on
:class:`~twisted_pypi.objectstore.client.S3Client`: objects written whole,
``GET`` (whole or one range), ``HEAD``, ``DELETE``, and the conditions
``If-None-Match: *`` and ``If-Match`` as S3 (and SeaweedFS) apply them.
It answers at once unless held (:attr:`MemoryS3.hold`), or fails every
request while ``down``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from attrs import define, field
from botocore.credentials import Credentials
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IBodyProducer, IResponse
from zope.interface import implementer

from tests.consumers import Consumer
from tests.fakes import HandFedResponse
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.signing import Signer

__all__ = ["MemoryS3", "memory_client"]

_PRECONDITION = b"<Error><Code>PreconditionFailed</Code><Message>no</Message></Error>"
_NO_KEY = b"<Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>"


class _WholeResponse(HandFedResponse):
    """A response whose whole body is delivered as soon as it is read."""

    def __init__(self, code: int, body: bytes, headers: dict[str, str]) -> None:
        """:param code: The status. :param body: The body. :param headers: Headers."""
        super().__init__(code, len(body))
        self._body = body
        for name, value in headers.items():
            self.headers.addRawHeader(name.encode(), value.encode())

    def deliverBody(self, protocol: Protocol) -> None:  # type: ignore[override]
        """Deliver the whole body at once."""
        super().deliverBody(protocol)
        self.send(self._body)
        self.end()


@implementer(IAgent)
@define
class MemoryS3:
    """
    Objects by ``bucket/key``, each with its entity tag (MD5, as S3's).

    :ivar objects: ``bucket/key`` to ``(body, etag)``.
    :ivar requests: ``(method, bucket/key, headers)`` of every request.
    :ivar down: Whether every request fails to connect.
    :ivar hold: Whether requests wait in :attr:`held`, unapplied, until the
        test lets them through (with :meth:`release`).
    :ivar held: The requests waiting, in order.
    """

    objects: dict[str, tuple[bytes, str]] = field(factory=dict)
    requests: list[tuple[str, str, Headers]] = field(factory=list)
    down: bool = False
    hold: bool = False
    held: list[tuple[Deferred[IResponse], Callable[[], IResponse]]] = field(
        factory=list
    )

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None = None,
        bodyProducer: IBodyProducer | None = None,
    ) -> Deferred[IResponse]:
        """Apply the request to the objects, and answer."""
        headers = headers or Headers()
        name = unquote(urlsplit(uri.decode("ascii")).path).lstrip("/")
        self.requests.append((method.decode(), name, headers))
        if self.down:
            return fail(ConnectionRefusedError("the store is down"))
        body = _read(bodyProducer)
        if self.hold:
            d: Deferred[IResponse] = Deferred()
            self.held.append((d, lambda: self._apply(method, name, headers, body)))
            return d
        return succeed(self._apply(method, name, headers, body))

    def release(self) -> None:
        """Apply the first held request, and answer it."""
        d, apply = self.held.pop(0)
        d.callback(apply())

    def put(self, name: str, body: bytes) -> str:
        """Write an object directly; :return: its entity tag."""
        etag = hashlib.md5(body).hexdigest()  # noqa: S324 -- S3's entity tag
        self.objects[name] = (body, etag)
        return etag

    def _apply(
        self, method: bytes, name: str, headers: Headers, body: bytes
    ) -> IResponse:
        """What the store does and answers."""
        current = self.objects.get(name)
        if_match = _header(headers, "if-match")
        if if_match is not None and (current is None or f'"{current[1]}"' != if_match):
            return _WholeResponse(412, _PRECONDITION, {})
        if method == b"PUT":
            if _header(headers, "if-none-match") == "*" and current is not None:
                return _WholeResponse(412, _PRECONDITION, {})
            etag = self.put(name, body)
            return _WholeResponse(200, b"", {"ETag": f'"{etag}"'})
        if method in (b"GET", b"HEAD"):
            if current is None:
                return _WholeResponse(404, _NO_KEY, {})
            data, etag = current
            found = {"ETag": f'"{etag}"', "Content-Length": str(len(data))}
            if method == b"HEAD":
                return _WholeResponse(200, b"", found)
            wanted = _header(headers, "range")
            if wanted is None:
                return _WholeResponse(200, data, found)
            first, _, last = wanted.removeprefix("bytes=").partition("-")
            start, end = int(first), min(int(last or len(data) - 1), len(data) - 1)
            found["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            found["Content-Length"] = str(end - start + 1)
            return _WholeResponse(206, data[start : end + 1], found)
        if method == b"DELETE":
            self.objects.pop(name, None)
            return _WholeResponse(204, b"", {})
        return _WholeResponse(405, b"", {})


def _header(headers: Headers, name: str) -> str | None:
    """A request header's first value."""
    values = headers.getRawHeaders(name.encode())
    return values[0].decode("latin-1") if values else None


def _read(producer: IBodyProducer | None) -> bytes:
    """A request body, produced at once."""
    if producer is None:
        return b""
    consumer = Consumer()
    producer.startProducing(consumer)
    return b"".join(consumer.chunks)


def memory_client(store: MemoryS3, clock: IReactorTime) -> S3Client:
    """An S3 client of ``store``."""
    signer = Signer(Credentials("AKFAKE", "fake-secret"), "us-east-1")
    return S3Client(store, "http://s3.test", signer, clock)
