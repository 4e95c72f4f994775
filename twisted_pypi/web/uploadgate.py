# -*- test-case-name: tests.web.test_upload -*-
"""
Refusing an upload before its body is read: the ``Site``'s request factory
(:func:`limited_request`) checks an upload's credentials, through the
upload resource's :class:`~twisted_pypi.web.auth.UploadGuard`, and its
``Content-Length`` as soon as its headers are in, and answers 401 or 413
and closes the connection without reading the body; a chunked body is
refused as soon as it grows past the limit.  The upload resource is in
:mod:`twisted_pypi.web.upload`.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import server

from twisted_pypi.upload.errors import too_large
from twisted_pypi.upload.form import DEFAULT_MAX_SIZE, FIELDS_ALLOWANCE
from twisted_pypi.web.auth import UploadGuard

__all__ = [
    "UPLOAD_PREFIX",
    "UploadLimitRequest",
    "limited_request",
    "reason_phrase",
]

log = Logger()

#: Where the upload resource is mounted.
UPLOAD_PREFIX = "upload"


def reason_phrase(message: str) -> bytes:
    """
    ``message`` as a reason phrase: printable ASCII, at most 300 characters.
    """
    return re.sub(r"[^\x20-\x7e]", "?", message)[:300].encode("ascii")


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

    def _refuse(self, code: int, message: str, *headers: tuple[bytes, bytes]) -> None:
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
            % (code, reason_phrase(message), extra, len(body), body)
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
