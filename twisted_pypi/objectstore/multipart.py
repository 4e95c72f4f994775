# -*- test-case-name: tests.objectstore.test_multipart -*-
"""
Multipart uploads, and :func:`put_file`: publishing a local file as one
object, whole or in parts, at once.

A file up to ``threshold`` bytes goes in one ``PUT``; a larger one in parts
of ``part_size`` bytes (S3 wants at least 5 MiB but for the last), sent one
after the other, each streamed from the file with backpressure.  Readers
never see a partial object: a multipart upload becomes the object only when
it is completed, and an upload that fails part-way is aborted (its parts
freed).  With ``create_only`` the object is created only if it is not there
yet, by single ``PUT`` or completion alike, so two writers publishing the
same file cannot overwrite each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from twisted.internet.defer import Deferred
from twisted.internet.task import CooperativeTask, cooperate
from twisted.logger import Logger
from twisted.web.iweb import IBodyProducer

from twisted_pypi.objectstore.bodies import (
    BytesProducer,
    FileSliceProducer,
    read_limited,
)
from twisted_pypi.objectstore.client import S3Client, object_headers
from twisted_pypi.objectstore.errors import StoreUnavailable
from twisted_pypi.objectstore.objects import header, run
from twisted_pypi.objectstore.s3xml import (
    complete_multipart_body,
    first_text,
    parse_upload_id,
    unquote_etag,
)
from twisted_pypi.objectstore.sender import MAX_DOCUMENT
from twisted_pypi.objectstore.signing import UNSIGNED_PAYLOAD, payload_hash

__all__ = [
    "DEFAULT_PART_SIZE",
    "DEFAULT_THRESHOLD",
    "MIN_PART_SIZE",
    "abort_upload",
    "complete_upload",
    "put_file",
    "put_part",
    "start_upload",
]

#: S3's smallest part (but the last).
MIN_PART_SIZE = 5 * 1024 * 1024

#: Bytes per part of a multipart upload.
DEFAULT_PART_SIZE = 16 * 1024 * 1024

#: Files larger than this are uploaded in parts.
DEFAULT_THRESHOLD = 32 * 1024 * 1024

_log = Logger()


def put_file(
    client: S3Client,
    bucket: str,
    key: str,
    path: str,
    size: int,
    *,
    sha256: str | None = None,
    content_type: str | None = None,
    metadata: Mapping[str, str] | None = None,
    create_only: bool = False,
    threshold: int = DEFAULT_THRESHOLD,
    part_size: int = DEFAULT_PART_SIZE,
    cooperator: Callable[[Iterator[None]], CooperativeTask] = cooperate,
) -> Deferred[str]:
    """
    Publish ``size`` bytes of a local file as the object ``key``, at once.

    :param path: The file (not changed while it is sent).
    :param size: Its size.
    :param sha256: Its SHA-256 in hex, signed with a single ``PUT`` (parts
        go unsigned); unsigned if not given.
    :param create_only: Fail with
        :class:`~twisted_pypi.objectstore.errors.AlreadyExists` if the
        object exists.
    :param threshold: The largest file sent in one request.
    :param part_size: Bytes per part (at least :data:`MIN_PART_SIZE`).
    :param cooperator: Schedules the file reads.
    :return: A Deferred firing with the object's entity tag; on failure
        nothing was published (and a multipart upload was aborted before
        the failure is reported).
    """
    if part_size < MIN_PART_SIZE:
        raise ValueError(f"parts are at least {MIN_PART_SIZE} bytes")
    if size <= threshold:
        body = FileSliceProducer(path, 0, size, cooperator)
        return client.put(
            bucket,
            key,
            body,
            sha256=sha256,
            content_type=content_type,
            metadata=metadata,
            create_only=create_only,
        )

    async def work() -> str:
        upload = await start_upload(client, bucket, key, content_type, metadata)
        try:
            etags = []
            for number, offset in enumerate(range(0, size, part_size), 1):
                length = min(part_size, size - offset)
                body = FileSliceProducer(path, offset, length, cooperator)
                etags.append(await put_part(client, bucket, key, upload, number, body))
            return await complete_upload(
                client, bucket, key, upload, etags, create_only
            )
        except BaseException as failure:
            try:
                await abort_upload(client, bucket, key, upload)
            except Exception as e:
                _log.warn("could not abort the upload of {key}: {why}", key=key, why=e)
            raise failure

    return run(work())


def start_upload(
    client: S3Client,
    bucket: str,
    key: str,
    content_type: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Deferred[str]:
    """
    Begin a multipart upload.

    :return: A Deferred firing with its upload id.
    """
    headers = object_headers(content_type, metadata, False)

    async def work() -> str:
        response = await client.send("POST", bucket, key, {"uploads": ""}, headers)
        document = await client.answer_document(response, f"UPLOAD {bucket}/{key}")
        try:
            return parse_upload_id(document)
        except Exception as e:
            raise StoreUnavailable(f"no upload id: {e}", resource=key) from None

    return run(work())


def put_part(
    client: S3Client,
    bucket: str,
    key: str,
    upload: str,
    number: int,
    body: IBodyProducer,
    sha256: str | None = None,
) -> Deferred[str]:
    """
    Send part ``number`` (from 1) of a multipart upload.

    :return: A Deferred firing with the part's entity tag.
    """
    query = {"partNumber": str(number), "uploadId": upload}
    payload = sha256 or UNSIGNED_PAYLOAD

    async def work() -> str:
        response = await client.send("PUT", bucket, key, query, None, body, payload)
        await read_limited(response, MAX_DOCUMENT, f"PART {bucket}/{key}")
        return unquote_etag(header(response, "etag"))

    return run(work())


def complete_upload(
    client: S3Client,
    bucket: str,
    key: str,
    upload: str,
    etags: list[str],
    create_only: bool = False,
) -> Deferred[str]:
    """
    Publish a multipart upload's parts as the object, at once.

    :param create_only: Fail with ``AlreadyExists`` if the object
        exists (``If-None-Match: *``).
    :return: A Deferred firing with the object's entity tag.
    """
    document = complete_multipart_body(etags)
    headers = {"If-None-Match": "*"} if create_only else {}

    async def work() -> str:
        response = await client.send(
            "POST",
            bucket,
            key,
            {"uploadId": upload},
            headers,
            BytesProducer(document),
            payload_hash(document),
            creating=create_only,
        )
        answer = await client.answer_document(response, f"COMPLETE {bucket}/{key}")
        return unquote_etag(first_text(answer, "ETag"))

    return run(work())


def abort_upload(
    client: S3Client, bucket: str, key: str, upload: str
) -> Deferred[None]:
    """
    Abandon a multipart upload and free its parts.
    """

    async def work() -> None:
        response = await client.send(
            "DELETE", bucket, key, {"uploadId": upload}, expect=(200, 204)
        )
        await read_limited(response, MAX_DOCUMENT, f"ABORT {bucket}/{key}")

    return run(work())
