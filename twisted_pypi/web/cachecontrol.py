# -*- test-case-name: tests.web.test_cachecontrol -*-
"""
Cache control over HTTP, for an administrator: ``DELETE`` requests under
``/-/cache/``, mounted only when ``--admin-token`` is given.

``DELETE /-/cache/simple/``
    The project list of every index (memory and disk).
``DELETE /-/cache/simple/<project>/``
    The project's page on every index (memory and disk), with its cached
    JSON API documents.
``DELETE /-/cache/files/<index>/<scheme>/<host>/<path>``
    One cached file (the path of its ``/files/`` URL); ``409`` while it is
    being downloaded.

Requests must carry ``Authorization: Bearer <token>``, or HTTP basic auth
with the token as the password (any user name).  Without it, or with another
token, the answer is ``401``.  The tokens are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Sequence

from twisted.internet.defer import Deferred, gatherResults
from twisted.logger import Logger
from twisted.web.http import CONFLICT, NOT_ALLOWED, NOT_FOUND, UNAUTHORIZED
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.core.links import local_path, split_listed
from twisted_pypi.core.lookup import LIST_KEY
from twisted_pypi.core.names import is_safe_segment, is_valid_project_name, normalize
from twisted_pypi.core.secrets import read_secret
from twisted_pypi.files.download import Downloads
from twisted_pypi.pypijson.cache import JsonCache
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.web.respond import error_page, when_done

__all__ = [
    "CACHE",
    "DASH",
    "REALM",
    "CacheControlResource",
    "is_authorized",
    "read_admin_token",
]

log = Logger()

#: The child of the root that holds the proxy's own resources (``/-/``).
DASH = b"-"

#: The child of ``/-/`` for cache control.
CACHE = b"cache"

#: The challenge sent with a 401.
REALM = 'realm="twisted-pypi admin"'


def read_admin_token(value: str) -> str:
    """
    The admin token from an ``--admin-token`` value: the token itself, or
    ``@FILE`` to read it from a file (keeping it off the command line).

    :param value: The option value.
    :raises ValueError: If the file cannot be read, or the token is empty or
        holds white space.
    """
    return read_secret("--admin-token", value, "token")


def is_authorized(request: Request, token: str) -> bool:
    """
    Whether ``request`` carries ``token``: as a bearer token, or as the
    password of HTTP basic auth.

    :param request: The request.
    :param token: The admin token.
    """
    header = request.getHeader(b"authorization")
    if not header:
        return False
    scheme, _, credentials = header.strip().partition(b" ")
    scheme = scheme.lower()
    if scheme == b"bearer":
        given = credentials.strip()
    elif scheme == b"basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        _, colon, given = decoded.partition(b":")
        if not colon:
            return False
    else:
        return False
    return hmac.compare_digest(given, token.encode("utf-8"))


class CacheControlResource(Resource):
    """
    ``/-/cache/``: ``DELETE`` a page, the project list or a file.
    """

    isLeaf = True

    def __init__(
        self,
        token: str,
        pages: Sequence[PageCache],
        cache: FileCache,
        downloads: Downloads,
        documents: JsonCache | None = None,
    ) -> None:
        """
        :param token: The admin token.
        :param pages: The page cache of each remote index.
        :param cache: The file cache.
        :param downloads: The downloads in flight (never interrupted).
        :param documents: The cache of JSON API documents, if any.
        """
        super().__init__()
        self._token = token
        self._pages = pages
        self._cache = cache
        self._downloads = downloads
        self._documents = documents

    def render(self, request: Request) -> bytes | int:
        if not is_authorized(request, self._token):
            log.warn(
                "Refused {method} {path} from {client}: no valid admin token",
                method=request.method.decode("ascii", "replace"),
                path=request.uri.decode("ascii", "replace"),
                client=getattr(request.getClientAddress(), "host", "-"),
            )
            request.responseHeaders.setRawHeaders(
                b"www-authenticate",
                [f"Bearer {REALM}".encode(), f"Basic {REALM}".encode()],
            )
            return error_page(request, UNAUTHORIZED, "An admin token is required.")
        if request.method != b"DELETE":
            request.setHeader(b"allow", b"DELETE")
            return error_page(request, NOT_ALLOWED, "Only DELETE is allowed here.")
        try:
            parts = [p.decode("utf-8") for p in request.postpath or []]
        except UnicodeDecodeError:
            parts = []
        if parts and parts[0] == "simple":
            rest = parts[1:]
            if rest and rest[-1] == "":
                rest.pop()
            if not rest:
                return self._project_list(request)
            if len(rest) == 1 and is_valid_project_name(rest[0]):
                return self._project(request, normalize(rest[0]))
        elif parts and parts[0] == "files":
            segments = split_listed(parts[1:])[0]  # a page's link names its file
            if len(segments) >= 4 and all(is_safe_segment(s) for s in segments):
                return self._file(request, segments)
        return error_page(request, NOT_FOUND, "Nothing to delete there.")

    def _project_list(self, request: Request) -> int:
        """Drop every index's project list (the store's by the runner)."""
        when_done(request, Deferred.fromCoroutine(self._drop_list(request)), "DELETE")
        return NOT_DONE_YET

    async def _drop_list(self, request: Request) -> None:
        """Answer once every index dropped its project list."""
        indexes = await self._invalidate(LIST_KEY)
        log.info("Admin: dropped the project list of {indexes}", indexes=indexes)
        _finish(request, {"deleted": "project list", "indexes": indexes})

    async def _invalidate(self, key: str) -> list[str]:
        """The names of the indexes that had the page ``key`` cached."""
        dropped = await gatherResults([p.invalidate(key) for p in self._pages])
        return [p.index.name for p, d in zip(self._pages, dropped, strict=True) if d]

    def _project(self, request: Request, project: str) -> int:
        """Drop a project's pages and documents (the store's by the runner)."""
        work = Deferred.fromCoroutine(self._drop_project(request, project))
        when_done(request, work, "DELETE")
        return NOT_DONE_YET

    async def _drop_project(self, request: Request, project: str) -> None:
        """Answer once every index dropped the project's page."""
        indexes = await self._invalidate(project)
        documents = (
            await self._documents.invalidate(project)
            if self._documents is not None
            else 0
        )
        if not indexes and not documents:
            message = f"No page of {project} cached."
            error_page(request, NOT_FOUND, message, finish=True)
            return
        log.info(
            "Admin: dropped the page of {project} ({indexes})",
            project=project,
            indexes=indexes,
        )
        _finish(
            request,
            {
                "deleted": "page",
                "project": project,
                "indexes": indexes,
                "json_documents": documents,
            },
        )

    def _file(self, request: Request, segments: tuple[str, ...]) -> bytes:
        path = local_path(segments)
        if self._downloads.get(segments) is not None:
            return error_page(
                request,
                CONFLICT,
                "The file is being downloaded; try again when it is done.",
            )
        if not self._cache.remove(segments):
            return error_page(request, NOT_FOUND, "That file is not cached.")
        log.info("Admin: deleted {path}", path=path)
        return _answer(request, {"deleted": "file", "file": path})


def _finish(request: Request, result: dict[str, object]) -> None:
    """
    Send a 200 with ``result`` as JSON (a client that went away cancelled
    the work before: see :func:`when_done`).
    """
    request.write(_answer(request, result))
    request.finish()


def _answer(request: Request, result: dict[str, object]) -> bytes:
    """
    A 200 with ``result`` as JSON.
    """
    body = json.dumps(result).encode() + b"\n"
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"content-length", str(len(body)).encode())
    return body
