# -*- test-case-name: tests.web.test_upload -*-
"""
The upload API of local indexes: ``/upload/<index>/`` takes what ``twine
upload`` and ``uv publish`` send (see :mod:`twisted_pypi.upload.form`), from
users of a users file (see :mod:`twisted_pypi.upload.users`) by HTTP basic auth.

Every refusal has a status and a sentence, sent as the HTTP reason phrase
(twine shows it) and as a plain-text body (uv shows that): 400 for a bad
form, filename, name, version, metadata or digest, 409 for a file that
exists, 413 for one too large, 401 for wrong or missing credentials, 405 for
anything but POST.

Sizes are enforced as early as possible, twice.  :func:`limited_request`
makes the ``Site``'s request factory: for upload paths it refuses a body
over the limit as soon as its ``Content-Length`` is known, or as soon as a
chunked body grows past it, before the body is buffered, and it keeps
Twisted from parsing the whole form into memory.  The resource checks the
buffered body again (so it is safe with any ``Site``) and the file's size
while storing it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from io import BytesIO
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.upload.errors import UploadError, too_large
from twisted_pypi.upload.form import DEFAULT_MAX_SIZE, FIELDS_ALLOWANCE
from twisted_pypi.upload.store import Stored, store_upload
from twisted_pypi.upload.users import CACHE_SECONDS, Runner
from twisted_pypi.web.auth import guard, upload_portal

__all__ = [
    "DRAIN_LIMIT",
    "UPLOAD_PREFIX",
    "IndexUpload",
    "UploadLimitRequest",
    "UploadRoot",
    "limited_request",
    "make_upload_resource",
]

log = Logger()

#: Where the upload resource is mounted.
UPLOAD_PREFIX = "upload"

#: Bytes of a refused body read and dropped so that the client reads the
#: answer; past them (or when the client waits for ``100 Continue``) the
#: connection is closed at once instead.
DRAIN_LIMIT = 64 << 20


class UploadLimitRequest(server.Request):
    """
    A request that refuses an upload body over :attr:`max_size` bytes (plus
    :data:`~twisted_pypi.upload.form.FIELDS_ALLOWANCE` for the form) as
    soon as that is known, with a 413, before it is buffered, and that leaves
    the form of an upload to the upload resource rather than parsing it into
    ``args`` (which holds all of it in memory, several times).  Requests for
    other paths behave exactly as ``server.Request``.

    Use :func:`limited_request` to make one with a given limit.
    """

    #: The path prefix of upload requests.
    upload_prefix: bytes = b"/" + UPLOAD_PREFIX.encode() + b"/"
    #: The largest file accepted on upload paths.
    max_size: int = DEFAULT_MAX_SIZE

    _upload_path: object = None
    _limited = False
    _refused = False
    _received = 0

    def gotLength(self, length: int | None) -> None:
        """
        Refuse a declared length over the limit; skip the form parsing of uploads.
        """
        # The request line is only on the channel until the body is in.
        path = self._upload_path = getattr(self.channel, "_path", None)
        self._limited = not isinstance(path, bytes) or path.startswith(
            self.upload_prefix
        )
        if self._limited:
            self._parsePOSTFormSubmission = False
        super().gotLength(length)
        limit = self.max_size + FIELDS_ALLOWANCE
        if self._limited and length is not None and length > limit:
            self._refuse(close=length > limit + DRAIN_LIMIT)

    def handleContentChunk(self, data: bytes) -> None:
        """
        Keep a chunk of the body, refuse it once over the limit, or drop it.
        """
        self._received += len(data)
        if self._refused:
            if self._received > DRAIN_LIMIT:
                self._close()
        elif self._limited and self._received > self.max_size + FIELDS_ALLOWANCE:
            self._refuse(close=False)
        else:
            super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        """
        Process the request, or close the connection of a refused one.
        """
        if self._refused:
            self._close()
        else:
            super().requestReceived(command, path, version)

    def _refuse(self, close: bool) -> None:
        """Answer 413 now; drop the rest of the body, or close at once."""
        self._refused = True
        self._received = 0
        if self.content is not None:
            self.content.close()
        self.content = BytesIO()
        message = too_large(self.max_size)
        log.info("Refused an upload to {path}: {message}", path=self._upload_path,
                 message=message)  # fmt: skip
        body = message.encode() + b"\n"
        transport: Any = self.channel.transport
        transport.write(
            b"HTTP/1.1 413 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (message.encode(), len(body), body)
        )
        # A client waiting for "100 Continue" sends no body: don't let the
        # channel invite it, and don't wait for it.
        if self.requestHeaders.hasHeader(b"expect"):
            self.requestHeaders.removeHeader(b"expect")
            close = True
        if close:
            self._close()

    def _close(self) -> None:
        """Close the connection (the answer already sent goes out first)."""
        if self.channel is not None:
            self.channel.loseConnection()


def limited_request(
    max_size: int = DEFAULT_MAX_SIZE, prefix: str = UPLOAD_PREFIX
) -> type[UploadLimitRequest]:
    """
    A request factory for the ``Site`` (``Site(root, requestFactory=...)``)
    limiting upload bodies to a file of ``max_size`` bytes plus
    :data:`~twisted_pypi.upload.form.FIELDS_ALLOWANCE`.

    :param max_size: The largest file accepted, as given to
        :func:`make_upload_resource`.
    :param prefix: The first path segment of the upload resource.
    """

    max_size_ = max_size

    class Limited(UploadLimitRequest):
        """
        An :class:`UploadLimitRequest` with the given limit and prefix.
        """

        upload_prefix = b"/" + prefix.encode() + b"/"
        max_size = max_size_

    return Limited


def _answer(request: Request, code: int, message: str) -> bytes:
    """
    Set the status (an error with ``message`` as its reason phrase, which
    twine shows) and return ``message`` as a plain-text body (which uv shows).
    """
    reason = re.sub(r"[^\x20-\x7e]", "?", message)[:300].encode("ascii")
    request.setResponseCode(code, reason if code >= 400 else None)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return message.encode("utf-8") + b"\n"


class IndexUpload(Resource):
    """
    ``/upload/<index>/``: takes uploads to one local index from one user.
    """

    isLeaf = True

    def __init__(
        self, index: str, directory: str, user: str, runner: Runner, max_size: int
    ) -> None:
        """
        :param index: The local index's name.
        :param directory: Its directory.
        :param user: Who is uploading.
        :param runner: Runs the blocking work away from the reactor.
        :param max_size: The largest file accepted.
        """
        super().__init__()
        self._index = index
        self._directory = directory
        self._user = user
        self._runner = runner
        self._max_size = max_size

    def render_GET(self, request: Request) -> bytes:
        """
        Say that this URL is for uploads (405).
        """
        request.setHeader(b"allow", b"POST")
        return _answer(
            request,
            405,
            f"This is the upload URL of the index {self._index!r}: upload with"
            " 'twine upload --repository-url URL' or 'uv publish --publish-url URL'."
            " Install from /simple/.",
        )

    def render_POST(self, request: Request) -> bytes | int:
        """
        Store the uploaded file, in the runner; answer when it is done.
        """
        if request.postpath not in ([], [b""]):
            return _answer(request, 404, "Upload to /upload/<index>/")
        body: IO[bytes] | None = request.content
        if body is None:
            return _answer(request, 400, "The upload has no body")
        limit = self._max_size + FIELDS_ALLOWANCE
        if body.seek(0, os.SEEK_END) > limit:
            return _answer(request, 413, too_large(self._max_size))
        body.seek(0)
        # The body is read in a thread: take it, so that a client going away
        # (which closes ``request.content``) cannot close it under the thread.
        request.content = BytesIO()
        content_type = request.getHeader(b"content-type") or b""
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))

        def work() -> Stored:
            with body:
                return store_upload(body, content_type, self._directory, self._max_size)

        def stored(result: Stored) -> bytes:
            log.info(
                "{user} uploaded {filename} ({size} bytes) to {index}",
                user=self._user, filename=result.filename, size=result.size,
                index=self._index,
            )  # fmt: skip
            return _answer(
                request, 200, f"Stored {result.filename} ({result.size} bytes, sha256"
                f" {result.sha256}) in {self._index}",
            )  # fmt: skip

        def refused(failure: Failure) -> bytes:
            if not failure.check(UploadError):
                log.failure("Upload by {user} to {index} failed", failure,
                            user=self._user, index=self._index)  # fmt: skip
                return _answer(request, 500, "The upload failed; see the server's log")
            error: Any = failure.value
            log.info(
                "Refused an upload by {user} to {index}: {code} {message}",
                user=self._user, index=self._index, code=error.code,
                message=error.message,
            )  # fmt: skip
            return _answer(request, error.code, error.message)

        def send(page: bytes) -> None:
            if not gone:
                request.setHeader(b"content-length", b"%d" % len(page))
                request.write(page)
                request.finish()

        self._runner(work).addCallbacks(stored, refused).addCallback(send)
        return NOT_DONE_YET


class UploadRoot(Resource):
    """
    ``/upload/``, as one user sees it: one :class:`IndexUpload` per local
    index.
    """

    def __init__(
        self, directories: Mapping[str, str], user: str, runner: Runner, max_size: int
    ) -> None:
        """
        :param directories: Each local index's name and directory.
        :param user: Who is uploading.
        :param runner: Runs the blocking work away from the reactor.
        :param max_size: The largest file accepted.
        """
        super().__init__()
        self._directories = directories
        self._user = user
        self._runner = runner
        self._max_size = max_size

    def getChild(self, path: bytes, request: Any) -> IResource:
        """
        The upload resource of the local index named ``path``.
        """
        if path == b"":
            return self
        name = unquote_to_bytes(path).decode("utf-8", "replace")
        directory = self._directories.get(name)
        if directory is None:
            return _Message(404, f"There is no local index named {name!r}")
        return IndexUpload(name, directory, self._user, self._runner, self._max_size)

    def render(self, request: Any) -> bytes:
        """
        Say where to upload (404).
        """
        names = ", ".join(sorted(self._directories)) or "(none)"
        return _answer(request, 404, f"Upload to /upload/<index>/; indexes: {names}")


class _Message(Resource):
    """A leaf answering every request with one status and sentence."""

    isLeaf = True

    def __init__(self, code: int, message: str) -> None:
        """
        :param code: The status.
        :param message: The sentence.
        """
        super().__init__()
        self._code = code
        self._message = message

    def render(self, request: Any) -> bytes:
        """
        Answer with the status and sentence.
        """
        return _answer(request, self._code, self._message)


def make_upload_resource(
    directories: Mapping[str, str],
    users_file: str,
    *,
    clock: IReactorTime,
    runner: Runner,
    max_size: int = DEFAULT_MAX_SIZE,
    cache_seconds: float = CACHE_SECONDS,
) -> IResource:
    """
    The resource to mount at ``/upload``: HTTP basic auth against
    ``users_file``, then ``/upload/<index>/`` for each local index.

    :param directories: Each local index's name and directory.
    :param users_file: The users file (see :mod:`twisted_pypi.upload.users`).
    :param clock: Time, for remembering successful logins.
    :param runner: Runs password checks and uploads away from the reactor.
    :param max_size: The largest file accepted.
    :param cache_seconds: How long a successful login is remembered.
    :raises UsersFileError: If the users file cannot be read or is invalid.
    """
    portal = upload_portal(
        users_file,
        lambda user: UploadRoot(directories, user, runner, max_size),
        clock=clock,
        runner=runner,
        cache_seconds=cache_seconds,
    )
    return guard(portal)
