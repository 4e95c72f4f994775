# -*- test-case-name: tests.objectstore.test_client -*-
"""
An S3 client for Twisted: each operation is one signed HTTP request sent
through an injected ``IAgent`` (see :mod:`~twisted_pypi.objectstore.sender`,
which also says how failures are typed), its answer a Deferred.

Bodies are never read whole unless they are small: uploads stream from
producers (:mod:`twisted_pypi.objectstore.bodies`), and :meth:`S3Client.get`
hands back an :class:`ObjectBody` to stream into a consumer with
backpressure.  The agent should be a plain ``twisted.web.client.Agent`` with
a connection pool: not one that decodes ``Content-Encoding`` (stored bytes
are returned as stored).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from twisted.internet.defer import Deferred
from twisted.web.iweb import IBodyProducer

from twisted_pypi.objectstore.bodies import BytesProducer, discard_body, read_limited
from twisted_pypi.objectstore.errors import S3Error, StoreUnavailable
from twisted_pypi.objectstore.objects import (
    ObjectBody,
    ObjectInfo,
    content_range,
    header,
    run,
)
from twisted_pypi.objectstore.s3xml import (
    ListPage,
    first_text,
    parse_list,
    unquote_etag,
)
from twisted_pypi.objectstore.sender import MAX_DOCUMENT, S3Sender
from twisted_pypi.objectstore.signing import UNSIGNED_PAYLOAD, payload_hash

__all__ = ["S3Client", "object_headers"]


class S3Client(S3Sender):
    """
    The S3 operations the proxy uses, each one request sent as
    :class:`~twisted_pypi.objectstore.sender.S3Sender` sends them.
    """

    def __repr__(self) -> str:
        """
        The endpoint and signer (never a secret).
        """
        return f"<S3Client {self.endpoint} {self.signer!r}>"

    def create_bucket(self, bucket: str) -> Deferred[None]:
        """
        Create a bucket; one we own already is fine.
        """

        async def work() -> None:
            try:
                response = await self.send("PUT", bucket)
            except S3Error as e:
                if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
                return
            await read_limited(response, MAX_DOCUMENT, bucket)

        return run(work())

    def put(
        self,
        bucket: str,
        key: str,
        body: bytes | IBodyProducer,
        *,
        sha256: str | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        create_only: bool = False,
    ) -> Deferred[str]:
        """
        Write an object whole (readers see the old one or the new one).

        :param body: The bytes, or a producer of them (its ``length`` known)
            for large bodies.
        :param sha256: The body's SHA-256 in hex, signed with the request
            (computed for bytes; a producer's body is sent unsigned if not
            given).
        :param content_type: The object's ``Content-Type``.
        :param metadata: User metadata (ASCII names and values).
        :param create_only: Create only: fail with
            :class:`~twisted_pypi.objectstore.errors.AlreadyExists` if the
            object exists (``If-None-Match: *``).
        :return: A Deferred firing with the new object's entity tag.
        """
        if isinstance(body, bytes):
            payload = sha256 or payload_hash(body)
            producer: IBodyProducer = BytesProducer(body)
        else:
            payload, producer = sha256 or UNSIGNED_PAYLOAD, body
        headers = object_headers(content_type, metadata, create_only)

        async def work() -> str:
            response = await self.send(
                "PUT",
                bucket,
                key,
                None,
                headers,
                producer,
                payload,
                creating=create_only,
            )
            await read_limited(response, MAX_DOCUMENT, f"PUT {bucket}/{key}")
            return unquote_etag(header(response, "etag"))

        return run(work())

    def get(
        self,
        bucket: str,
        key: str,
        offset: int = 0,
        length: int | None = None,
        if_match: str | None = None,
    ) -> Deferred[ObjectBody]:
        """
        Read an object, or ``length`` bytes of it from ``offset``; the body
        is streamed by the caller.

        :param if_match: Read only this version (its entity tag), else fail
            with :class:`~twisted_pypi.objectstore.errors.PreconditionFailed`.
        :return: A Deferred firing with the body to stream once the headers
            came.
        """
        headers = {}
        ranged = offset > 0 or length is not None
        if ranged:
            if length is not None and length <= 0:
                raise ValueError("a range of no bytes")
            last = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{last}"
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        what = f"GET {bucket}/{key}"

        async def work() -> ObjectBody:
            response = await self.send(
                "GET", bucket, key, None, headers, expect=(200, 206)
            )
            if response.code == 206:
                try:
                    first, size, total = content_range(
                        header(response, "content-range")
                    )
                except ValueError:
                    first, size, total = -1, 0, 0
            else:
                first, size = 0, int(header(response, "content-length") or -1)
                total = size
            if first != offset or size < 0 or (length is not None and size > length):
                discard_body(response)
                raise StoreUnavailable("unexpected range in the answer", resource=what)
            return ObjectBody(
                ObjectInfo.of(response, total), first, size, response, what
            )

        return run(work())

    def read(
        self, bucket: str, key: str, limit: int = MAX_DOCUMENT
    ) -> Deferred[tuple[ObjectInfo, bytes]]:
        """
        Read a small object whole (a record).

        :param limit: The largest accepted; a larger object fails with
            :class:`StoreUnavailable`.
        :return: A Deferred firing with its information and bytes.
        """

        async def work() -> tuple[ObjectInfo, bytes]:
            response = await self.send("GET", bucket, key)
            data = await read_limited(response, limit, f"GET {bucket}/{key}")
            return ObjectInfo.of(response, len(data)), data

        return run(work())

    def head(self, bucket: str, key: str) -> Deferred[ObjectInfo]:
        """
        An object's information.
        """

        async def work() -> ObjectInfo:
            response = await self.send("HEAD", bucket, key)
            discard_body(response)
            size = int(header(response, "content-length") or 0)
            return ObjectInfo.of(response, size)

        return run(work())

    def delete(self, bucket: str, key: str) -> Deferred[None]:
        """
        Delete an object (deleting one that is not there succeeds).
        """

        async def work() -> None:
            response = await self.send("DELETE", bucket, key, expect=(200, 204))
            await read_limited(response, MAX_DOCUMENT, f"DELETE {bucket}/{key}")

        return run(work())

    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        token: str | None = None,
        max_keys: int = 1000,
        delimiter: str | None = None,
    ) -> Deferred[ListPage]:
        """
        One page of the objects whose keys start with ``prefix``, in key
        order; pass the page's ``next_token`` for the next.
        """
        query = {"list-type": "2", "max-keys": str(max_keys)}
        if prefix:
            query["prefix"] = prefix
        if token is not None:
            query["continuation-token"] = token
        if delimiter is not None:
            query["delimiter"] = delimiter

        async def work() -> ListPage:
            response = await self.send("GET", bucket, "", query)
            document = await read_limited(response, MAX_DOCUMENT, f"LIST {bucket}")
            try:
                return parse_list(document)
            except Exception as e:
                raise StoreUnavailable(
                    f"unreadable listing: {e}", resource=bucket
                ) from None

        return run(work())

    def copy(self, bucket: str, source: str, key: str) -> Deferred[str]:
        """
        Copy an object within a bucket, on the store's side.

        :return: A Deferred firing with the copy's entity tag.
        """
        headers = {"x-amz-copy-source": "/" + quote(f"{bucket}/{source}", safe="/~")}

        async def work() -> str:
            response = await self.send("PUT", bucket, key, None, headers)
            document = await self.answer_document(response, f"COPY {bucket}/{key}")
            return unquote_etag(first_text(document, "ETag"))

        return run(work())


def object_headers(
    content_type: str | None, metadata: Mapping[str, str] | None, create_only: bool
) -> dict[str, str]:
    """
    The headers that describe an object being written.
    """
    headers = {f"x-amz-meta-{name}": value for name, value in (metadata or {}).items()}
    if content_type:
        headers["Content-Type"] = content_type
    if create_only:
        headers["If-None-Match"] = "*"
    return headers
