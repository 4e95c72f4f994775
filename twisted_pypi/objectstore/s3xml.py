# -*- test-case-name: tests.objectstore.test_s3xml -*-
"""
The small XML documents of the S3 API: error bodies, object listings, and
the multipart upload's start and completion.

Parsed with the standard library: the documents come from the store the
operator configured, are bounded in size by the caller, and the expat
bundled with supported Pythons refuses entity expansion attacks.  S3's
documents carry a namespace on some servers and not on others, so elements
are matched by their local name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from xml.etree.ElementTree import Element, ParseError, fromstring
from xml.sax.saxutils import escape

from attrs import frozen

__all__ = [
    "ListPage",
    "ListedObject",
    "complete_multipart_body",
    "first_text",
    "parse_error",
    "parse_list",
    "parse_upload_id",
    "unquote_etag",
]


@frozen
class ListedObject:
    """
    One object of a listing.

    :ivar key: Its key.
    :ivar size: Its size in bytes.
    :ivar etag: Its entity tag (unquoted).
    :ivar modified: When it was written, in seconds since the epoch.
    """

    key: str
    size: int
    etag: str
    modified: float


@frozen
class ListPage:
    """
    One page of a ``ListObjectsV2`` listing.

    :ivar objects: The objects, in key order.
    :ivar prefixes: The common prefixes (when listing with a delimiter).
    :ivar next_token: Where the next page starts, or ``None`` on the last.
    """

    objects: tuple[ListedObject, ...]
    prefixes: tuple[str, ...]
    next_token: str | None


def _local(tag: str) -> str:
    """
    An element's name without its namespace.
    """
    return tag.rpartition("}")[2]


def _children(element: Element, name: str) -> Iterator[Element]:
    """
    The direct children called ``name`` (any namespace).
    """
    return (child for child in element if _local(child.tag) == name)


def _text(element: Element, name: str, default: str = "") -> str:
    """
    The text of the first direct child called ``name``.
    """
    for child in _children(element, name):
        return child.text or ""
    return default


def _root(body: bytes, name: str) -> Element:
    """
    The document's root, which must be called ``name``.

    :raise ValueError: If it is another document.
    :raise xml.etree.ElementTree.ParseError: If it is not XML.
    """
    root = fromstring(body)
    if _local(root.tag) != name:
        raise ValueError(f"expected <{name}>, got <{_local(root.tag)}>")
    return root


def unquote_etag(etag: str) -> str:
    """
    An entity tag without its quotes (S3 sends them in headers and XML).
    """
    return etag.strip().strip('"')


def _timestamp(text: str) -> float:
    """
    An ISO 8601 time (``2026-01-02T03:04:05.000Z``) in seconds since the
    epoch; 0 if it cannot be read.
    """
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def parse_error(body: bytes) -> tuple[str, str]:
    """
    An S3 error document's code and message.

    :raise ValueError: If ``body`` is not an S3 error document.
    :raise xml.etree.ElementTree.ParseError: If it is not XML.
    """
    root = _root(body, "Error")
    return _text(root, "Code"), _text(root, "Message")


def parse_list(body: bytes) -> ListPage:
    """
    A ``ListObjectsV2`` result.

    :raise ValueError: If ``body`` is another document, or an object's size
        is not a number.
    :raise xml.etree.ElementTree.ParseError: If it is not XML.
    """
    root = _root(body, "ListBucketResult")
    objects = tuple(
        ListedObject(
            _text(item, "Key"),
            int(_text(item, "Size", "0")),
            unquote_etag(_text(item, "ETag")),
            _timestamp(_text(item, "LastModified")),
        )
        for item in _children(root, "Contents")
    )
    prefixes = tuple(
        _text(item, "Prefix") for item in _children(root, "CommonPrefixes")
    )
    truncated = _text(root, "IsTruncated").lower() == "true"
    token = _text(root, "NextContinuationToken") or None
    return ListPage(objects, prefixes, token if truncated else None)


def parse_upload_id(body: bytes) -> str:
    """
    The upload id of an ``InitiateMultipartUploadResult``.

    :raise ValueError: If there is none.
    :raise xml.etree.ElementTree.ParseError: If it is not XML.
    """
    upload = _text(_root(body, "InitiateMultipartUploadResult"), "UploadId")
    if not upload:
        raise ValueError("no UploadId")
    return upload


def complete_multipart_body(etags: Iterable[str]) -> bytes:
    """
    The ``CompleteMultipartUpload`` document for parts numbered from 1.

    :param etags: Each part's entity tag, in order.
    """
    parts = "".join(
        f"<Part><PartNumber>{number}</PartNumber>"
        f"<ETag>&quot;{escape(unquote_etag(etag))}&quot;</ETag></Part>"
        for number, etag in enumerate(etags, 1)
    )
    return f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()


def first_text(document: bytes, name: str) -> str:
    """
    The text of the first element called ``name`` anywhere in a small
    document, or ``""`` (also if it is not XML).
    """
    try:
        root = fromstring(document)
    except ParseError:
        return ""
    for element in root.iter():
        if _local(element.tag) == name:
            return element.text or ""
    return ""
