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

Uploads are refused as early as possible: :func:`limited_request` (in
:mod:`twisted_pypi.web.uploadgate`, re-exported here) makes the ``Site``'s
request factory, which refuses an upload with 401 or 413 before its body is
read.  The guard checks the credentials again when the request is
rendered, and the resource checks the buffered body's size again (so both
are safe with any ``Site``), and the file's size while storing it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from io import BytesIO
from typing import IO, Any
from urllib.parse import unquote_to_bytes

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.core.runner import Runner
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.upload.errors import UploadError, too_large
from twisted_pypi.upload.form import DEFAULT_MAX_SIZE, FIELDS_ALLOWANCE
from twisted_pypi.upload.store import (
    Received,
    Stored,
    publish_upload,
    receive_upload,
    store_upload,
)
from twisted_pypi.upload.users import CACHE_SECONDS
from twisted_pypi.web.auth import guard, upload_portal
from twisted_pypi.web.uploadgate import (
    UPLOAD_PREFIX,
    UploadLimitRequest,
    limited_request,
    reason_phrase,
)

__all__ = [
    "UPLOAD_PREFIX",
    "IndexUpload",
    "UploadLimitRequest",
    "UploadRoot",
    "limited_request",
    "make_upload_resource",
]

log = Logger()


def _answer(request: Request, code: int, message: str) -> bytes:
    """
    Set the status (an error with ``message`` as its reason phrase, which
    twine shows) and return ``message`` as a plain-text body (which uv shows).
    """
    reason = reason_phrase(message)
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
        self,
        index: str,
        target: LocalIndex | str,
        user: str,
        runner: Runner,
        max_size: int,
    ) -> None:
        """
        :param index: The local index's name.
        :param target: The index (its place is written through its
            interface), or a plain directory.
        :param user: Who is uploading.
        :param runner: Runs the blocking work away from the reactor.
        :param max_size: The largest file accepted.
        """
        super().__init__()
        self._index = index
        self._target = target
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

        stored_by = self._store(body, content_type)

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

        stored_by.addCallbacks(stored, refused).addCallback(send)
        return NOT_DONE_YET

    def _store(self, body: IO[bytes], content_type: bytes) -> Deferred[Any]:
        """
        Store the upload: received and checked by the runner, then published
        to the index's place, the spool removed by the runner.
        """
        target = self._target
        if isinstance(target, str):

            def work() -> Stored:
                with body:
                    return store_upload(body, content_type, target, self._max_size)

            return self._runner(work)

        def receive() -> Received:
            with body:
                return receive_upload(
                    body, content_type, target.place.spool_dir, self._max_size
                )

        async def work_async() -> Stored:
            received = await self._runner(receive)
            assert isinstance(received, Received)
            try:
                return await publish_upload(target, received)
            finally:
                await self._runner(received.discard)

        return Deferred.fromCoroutine(work_async())


class UploadRoot(Resource):
    """
    ``/upload/``, as one user sees it: one :class:`IndexUpload` per local
    index.
    """

    def __init__(
        self,
        directories: Mapping[str, LocalIndex | str],
        user: str,
        runner: Runner,
        max_size: int,
    ) -> None:
        """
        :param directories: Each local index (or its directory) by name.
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
    directories: Mapping[str, LocalIndex | str],
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

    :param directories: Each local index (or its directory) by name.
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
