# -*- test-case-name: tests.web.test_metafiles -*-
"""
Answering a request for the ``.metadata`` of a wheel whose index offers
none, which the proxy makes (see :mod:`twisted_pypi.files.metadata`), when
the store does not keep it yet: once made, it is served from the store as
any cached file (or, if the store could not keep it, from memory).
"""

from __future__ import annotations

from twisted.web.http import NOT_FOUND, OK
from twisted.web.server import Request

from twisted_pypi.core.links import metadata_segments
from twisted_pypi.core.model import DistFile
from twisted_pypi.files.metadata import MetadataFiles, MetadataUnreachable
from twisted_pypi.storage.interfaces import IFileStore
from twisted_pypi.web.fileheaders import IMMUTABLE, content_type
from twisted_pypi.web.fileserve import serve_cached
from twisted_pypi.web.respond import error_page

__all__ = ["answer_metadata"]

#: What a 404 says when the proxy cannot have the metadata now.
_UNREACHABLE = (
    "The index offers no core metadata for this file, and the proxy cannot"
    " read it now (the file is not cached, and its host does not serve"
    " ranges)."
)


async def answer_metadata(
    request: Request,
    metadata: MetadataFiles,
    store: IFileStore,
    dist: DistFile,
    segments: tuple[str, ...],
    project: str | None,
) -> None:
    """
    Answer a ``GET`` or ``HEAD`` for the ``.metadata`` of a wheel the proxy
    makes the metadata of (see
    :func:`~twisted_pypi.files.metadata.synthesizes`).

    :param request: The request (``X-Cache`` set).
    :param metadata: Makes the metadata.
    :param store: The file store.
    :param dist: The wheel, as its page lists it.
    :param segments: The wheel's place in the store.
    :param project: The project whose page lists it.
    """
    try:
        obtained = await metadata.obtain(dist, segments, project)
    except MetadataUnreachable:
        error_page(request, NOT_FOUND, _UNREACHABLE, finish=True)
        return
    metadata.served(obtained.source)
    key = metadata_segments(segments)
    if obtained.stored and store.stat(key) is not None:
        page = serve_cached(request, store, key)
        if isinstance(page, bytes):
            request.write(page)
            request.finish()
        return
    request.setResponseCode(OK)
    request.setHeader(b"content-type", content_type(key[-1]))
    request.setHeader(b"cache-control", IMMUTABLE)
    request.setHeader(b"content-length", b"%d" % (len(obtained.data),))
    if request.method != b"HEAD":
        request.write(obtained.data)
    request.finish()
