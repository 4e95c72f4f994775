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

Uploads are refused as early as possible.  :func:`limited_request` makes
the ``Site``'s request factory: as soon as an upload's headers are in, it
checks its credentials (the guard's own check, ahead of time) and its
``Content-Length``, and refuses it with 401 or 413 and closes the
connection before any of the body is read; a chunked body is refused as
soon as it grows past the limit.  It also keeps Twisted from parsing the
whole form into memory.  The guard checks the credentials again when the
request is rendered, and the resource checks the buffered body's size
again (so both are safe with any ``Site``), and the file's size while
storing it.
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
from twisted_pypi.web.auth import UploadGuard, guard, upload_portal

__all__ = [
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

class UploadLimitRequest(server.Request):
    """
    A request that refuses an upload before its body is read: with 401 if
    the upload resource's guard (an
    :class:`~twisted_pypi.web.auth.UploadGuard`) does not admit its
    credentials, with 413 if its ``Content-Length`` is over
    :attr:`max_size` bytes (plus
    :data:`~twisted_pypi.upload.form.FIELDS_ALLOWANCE` for the form); a
    chunked body is refused with 413 as soon as it grows past that.  A
    refusal closes the connection at once, and a client waiting for ``100
    Continue`` is only invited to send its body once it is admitted.

    It also leaves the form of an upload to the upload resource rather than
    parsing it into ``args`` (which holds all of it in memory, several
    times).  Requests for other paths behave exactly as ``server.Request``.

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
    #: While the credentials are checked: the body's first bytes, and the
    #: request line once the whole body is in.
    _early: list[bytes] | None = None
    _line: tuple[bytes, bytes, bytes] | None = None

    def gotLength(self, length: int | None) -> None:
        """
        Refuse a declared length over the limit; check the credentials of an
        upload with a body; skip the form parsing of uploads.
        """
        # The request line is only on the channel until the body is in.
        path = self._upload_path = getattr(self.channel, "_path", None)
        self._limited = not isinstance(path, bytes) or path.startswith(
            self.upload_prefix
        )
        if not self._limited:
            super().gotLength(length)
            return
        self._parsePOSTFormSubmission = False
        if length is not None and length > self.max_size + FIELDS_ALLOWANCE:
            self._refuse(413, too_large(self.max_size))
            return
        gate = self._guard()
        if length == 0 or gate is None:
            super().gotLength(length)
            return
        # Read nothing more until the credentials are checked, and invite
        # the body only if they are good.
        self.content = BytesIO()
        self._early = []
        expect = self.requestHeaders.getRawHeaders(b"expect", [b""])[0].lower()
        self.requestHeaders.removeHeader(b"expect")
        continue_ = expect == b"100-continue" and (
            getattr(self.channel, "_version", None) == b"HTTP/1.1"
        )
        transport: Any = self.channel.transport
        transport.pauseProducing()
        checked = gate.authenticate(self)

        def decided(admitted: bool) -> None:
            if self.channel is None or self._refused:
                return
            if not admitted:
                self._refuse(
                    401,
                    "Wrong or missing credentials: uploads need the user name and"
                    " password of a user in the users file",
                    (b"WWW-Authenticate", gate.challenge),
                )
                return
            self._admit(length, continue_)
            transport.resumeProducing()

        def failed(failure: Failure) -> None:
            log.failure("Checking the credentials of an upload failed", failure)
            if self.channel is not None and not self._refused:
                self._refuse(500, "The credentials could not be checked; see the"
                             " server's log")  # fmt: skip

        checked.addCallbacks(decided, failed)

    def handleContentChunk(self, data: bytes) -> None:
        """
        Keep a chunk of the body, refuse it once over the limit, or drop it.
        """
        if self._refused:
            return
        if self._early is not None:
            self._early.append(data)
            return
        self._received += len(data)
        if self._limited and self._received > self.max_size + FIELDS_ALLOWANCE:
            self._refuse(413, too_large(self.max_size))
        else:
            super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        """
        Process the request once its credentials are checked; not at all if
        it was refused (its connection is closing).
        """
        if self._early is not None:
            self._line = (command, path, version)
        elif not self._refused:
            super().requestReceived(command, path, version)

    def _guard(self) -> UploadGuard | None:
        """
        The guard of the upload resource, if the site has one.
        """
        site = getattr(self.channel, "site", None)
        root = getattr(site, "resource", None)
        segment = self.upload_prefix.strip(b"/")
        child = getattr(root, "children", {}).get(segment)
        return child if isinstance(child, UploadGuard) else None

    def _admit(self, length: int | None, continue_: bool) -> None:
        """
        The credentials are good: take the body, from its first bytes.
        """
        early, self._early = self._early or [], None
        super().gotLength(length)
        for data in early:
            self.handleContentChunk(data)
        if self._refused:
            return
        if continue_:
            transport: Any = self.channel.transport
            transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._line is not None:
            self.requestReceived(*self._line)

    def _refuse(
        self, code: int, message: str, *headers: tuple[bytes, bytes]
    ) -> None:
        """Answer ``code`` with ``message`` now, and close the connection."""
        self._refused = True
        self._early = None
        if self.content is not None:
            self.content.close()
        self.content = BytesIO()
        log.info("Refused an upload to {path}: {code} {message}",
                 path=self._upload_path, code=code, message=message)  # fmt: skip
        body = message.encode() + b"\n"
        extra = b"".join(b"%s: %s\r\n" % header for header in headers)
        transport: Any = self.channel.transport
        transport.write(
            b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"%sContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (code, _reason(message), extra, len(body), body)
        )
        # A client waiting for "100 Continue" sends no body: don't let the
        # channel invite it.
        self.requestHeaders.removeHeader(b"expect")
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


def _reason(message: str) -> bytes:
    """
    ``message`` as a reason phrase: printable ASCII, at most 300 characters.
    """
    return re.sub(r"[^\x20-\x7e]", "?", message)[:300].encode("ascii")


def _answer(request: Request, code: int, message: str) -> bytes:
    """
    Set the status (an error with ``message`` as its reason phrase, which
    twine shows) and return ``message`` as a plain-text body (which uv shows).
    """
    reason = _reason(message)
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
