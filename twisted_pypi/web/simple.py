"""
The ``/simple/`` part of the resource tree: the project list and project pages,
with PEP 503 redirects, PEP 691 negotiation, conditional requests and gzip.

A representation not yet rendered (or not yet compressed) is made by the
injected runner, away from the reactor: rendering and compressing a page of
many megabytes takes seconds, and other clients must not wait for it.  A
page kept rendered on disk (one too big for memory) is sent from its file,
opened by the runner and streamed by a producer: never parsed or rendered
per request.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger
from twisted.web.http import CACHED, NOT_ACCEPTABLE, NOT_FOUND, SERVICE_UNAVAILABLE
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.static import NoRangeStaticProducer

from twisted_pypi.core.lookup import CacheStatus, Lookup, PageEntry
from twisted_pypi.core.names import is_valid_project_name, normalize
from twisted_pypi.core.negotiate import Representation, choose
from twisted_pypi.core.rendition import Rendition, RenditionFile
from twisted_pypi.core.runner import Runner, run_now
from twisted_pypi.web.errors import answer_failure
from twisted_pypi.web.respond import (
    accepts_gzip,
    error_page,
    location,
    redirect,
    send_body,
    when_done,
)

__all__ = [
    "MAX_PAGE_AGE",
    "Pages",
    "ProjectPageResource",
    "SimpleIndex",
    "prepared",
    "send_rendition",
    "send_rendition_file",
    "serve_page",
]

log = Logger()


class Pages(Protocol):
    """
    Where project pages and the project list come from (the router, which
    answers for dummies too).
    """

    def get_project(self, project: str) -> Deferred[Lookup]:
        """
        A project's page; fails with a
        :class:`~twisted_pypi.core.lookup.LookupFailed`.
        """

    def get_list(self) -> Deferred[Lookup]:
        """
        The project list.
        """


#: The longest time a client may keep a page without asking again.
MAX_PAGE_AGE = 600


class SimpleIndex(Resource):
    """
    ``/simple/``: the project list; its children are project pages.
    """

    def __init__(
        self, pages: Pages, base_url: str | None, run: Runner = run_now
    ) -> None:
        """
        :param pages: Where pages come from.
        :param base_url: The proxy's external URL, or ``None``.
        :param run: Renders and compresses pages away from the reactor.
        """
        super().__init__()
        self._pages = pages
        self._base_url = base_url
        self._run = run

    def getChild(self, path: bytes, request: IRequest) -> Resource:
        if path == b"":
            return self
        return ProjectPageResource(self._pages, self._base_url, path, self._run)

    def render_GET(self, request: Request) -> bytes | int:
        if not request.path.endswith(b"/"):
            return redirect(request, location(request, self._base_url, "simple/"))
        return serve_page(request, self._pages.get_list, self._run)


class ProjectPageResource(Resource):
    """
    ``/simple/<project>/``.
    """

    isLeaf = True

    def __init__(
        self, pages: Pages, base_url: str | None, name: bytes, run: Runner = run_now
    ) -> None:
        """
        :param pages: Where pages come from.
        :param base_url: The proxy's external URL, or ``None``.
        :param name: The project name as the client wrote it.
        :param run: Renders and compresses pages away from the reactor.
        """
        super().__init__()
        self._pages = pages
        self._base_url = base_url
        self._name = name
        self._run = run

    def render_GET(self, request: Request) -> bytes | int:
        try:
            name = self._name.decode("utf-8")
        except UnicodeDecodeError:
            name = ""
        if not is_valid_project_name(name) or request.postpath not in ([], [b""]):
            return error_page(request, NOT_FOUND, "No such project.")
        project = normalize(name)
        if project != name or request.postpath != [b""]:
            return redirect(
                request, location(request, self._base_url, f"simple/{project}/")
            )
        return serve_page(request, lambda: self._pages.get_project(project), self._run)


def serve_page(
    request: Request,
    lookup: Callable[[], Deferred[Lookup]],
    run: Runner = run_now,
) -> bytes | int:
    """
    Answer ``request`` with the page ``lookup`` finds, in the representation
    the client asked for.

    :param request: The client's request.
    :param lookup: Asks the page cache; called only once the client's
        ``Accept`` header was found acceptable.  Its failure is answered
        with an error page.
    :param run: Renders and compresses the page away from the reactor when
        that representation is not ready yet.
    :return: ``NOT_DONE_YET``, or the body of an immediate 406.
    """
    request.setHeader(b"vary", b"Accept, Accept-Encoding")
    fmt = request.args.get(b"format", [None])[0]
    representation = choose(
        request.getHeader(b"accept"),
        # Query decoding turns the "+" of "...v1+json" into a space; no media
        # type has one, so an unencoded "+" (as in PyPI's links) still works.
        fmt.decode("utf-8", "replace").replace(" ", "+") if fmt is not None else None,
    )
    if representation is None:
        return error_page(
            request,
            NOT_ACCEPTABLE,
            "Acceptable: application/vnd.pypi.simple.v1+json, "
            "application/vnd.pypi.simple.v1+html, text/html.",
        )
    when_done(
        request,
        lookup().addCallbacks(
            _send,
            answer_failure,
            callbackArgs=(request, representation, run),
            errbackArgs=(request,),
        ),
        "page",
    )
    return NOT_DONE_YET


def _send(
    result: Lookup, request: Request, representation: Representation, run: Runner
) -> Deferred[None]:
    """
    Send the representation once it is ready.
    """
    entry = result.entry
    request.setHeader(b"x-cache", result.status.value.encode())
    request.setHeader(b"x-pypi-index", entry.index.name.encode())
    request.setHeader(b"content-type", representation.content_type)
    as_json = representation is Representation.JSON
    on_disk = entry.on_disk(as_json)
    if on_disk is not None:
        return send_rendition_file(request, on_disk, result.status, entry, run)

    def send(rendition: Rendition) -> None:
        send_rendition(request, rendition, result.status, entry.index.ttl)

    return prepared(entry, as_json, accepts_gzip(request), run).addCallback(send)


def prepared(
    entry: PageEntry, as_json: bool, gzipped: bool, run: Runner
) -> Deferred[Rendition]:
    """
    A representation of a page, ready to send: at once if it was made
    before, else rendered (and compressed) by ``run``.

    :param entry: The page.
    :param as_json: JSON when true, HTML otherwise.
    :param gzipped: Whether its gzipped form will be sent.
    :param run: Runs the rendering away from the reactor.
    """
    ready = entry.made(as_json, gzipped)
    if ready is not None:
        return succeed(ready)
    return run(lambda: _make(entry, as_json, gzipped))


def _make(entry: PageEntry, as_json: bool, gzipped: bool) -> Rendition:
    """
    Render (and compress) a representation: blocking, run by the runner.
    Two runs at once for one page make the same bytes; either is kept.
    """
    rendition = entry.rendition(as_json)
    if gzipped:
        rendition.gzipped  # noqa: B018 -- computed and kept on the rendition
    return rendition


def send_rendition(
    request: Request, rendition: Rendition, status: CacheStatus, ttl: float
) -> None:
    """
    Send a ready representation: a short ``Cache-Control`` (none for a stale
    one), gzip when the client accepts it, and 304 for a matching
    ``If-None-Match``.

    :param request: The request, with its other headers set.
    :param rendition: The bytes to send and their ETags.
    :param status: How the answer relates to the cache.
    :param ttl: The TTL of the index that answered.
    """
    _cache_control(request, status, ttl)
    if accepts_gzip(request):
        body, etag = rendition.gzipped, rendition.gzip_etag
        request.setHeader(b"content-encoding", b"gzip")
    else:
        body, etag = rendition.body, rendition.etag
    if request.setETag(etag.encode()) is CACHED:
        request.finish()
        return
    request.setHeader(b"content-length", str(len(body)).encode())
    send_body(request, body)


def _cache_control(request: Request, status: CacheStatus, ttl: float) -> None:
    """
    Set a short ``Cache-Control`` (none for a stale answer).
    """
    age = 0 if status is CacheStatus.STALE else int(min(ttl, MAX_PAGE_AGE))
    request.setHeader(b"cache-control", f"max-age={age}, public".encode())


def send_rendition_file(
    request: Request,
    rendition: RenditionFile,
    status: CacheStatus,
    entry: PageEntry,
    run: Runner,
) -> Deferred[None]:
    """
    Send a representation kept on disk, as :func:`send_rendition` sends one
    in memory: the file is opened by ``run`` and streamed by a producer.

    :param request: The request, with its other headers set.
    :param rendition: The files and their ETags.
    :param status: How the answer relates to the cache.
    :param entry: The page (for its index's TTL and name).
    :param run: Opens the file away from the reactor.
    :return: Fires once the body is under way (or the answer sent).
    """
    _cache_control(request, status, entry.index.ttl)
    if accepts_gzip(request):
        path, etag = rendition.gzip_path, rendition.gzip_etag
        request.setHeader(b"content-encoding", b"gzip")
    else:
        path, etag = rendition.path, rendition.etag
    if request.setETag(etag.encode()) is CACHED:
        request.finish()
        return succeed(None)

    def opened(found: tuple[IO[bytes], int]) -> None:
        f, size = found
        request.setHeader(b"content-length", str(size).encode())
        if request.method == b"HEAD":
            f.close()
            request.finish()
            return
        NoRangeStaticProducer(request, f).start()

    def failed(reason: object) -> None:
        log.warn(
            "Could not open {path} of {index}: {reason}",
            path=path,
            index=entry.index.name,
            reason=reason,
        )
        request.responseHeaders.removeHeader(b"content-encoding")
        request.responseHeaders.removeHeader(b"etag")
        error_page(
            request,
            SERVICE_UNAVAILABLE,
            "The page is being rewritten; try again.",
            finish=True,
        )

    return run(lambda: _open(path)).addCallbacks(opened, failed)


def _open(path: str) -> tuple[IO[bytes], int]:
    """
    Open a file and find its size (blocking: run by the runner).
    """
    f = open(path, "rb")  # noqa: SIM115 -- closed by the producer
    try:
        return f, os.fstat(f.fileno()).st_size
    except OSError:
        f.close()
        raise
