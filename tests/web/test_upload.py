"""
Tests for the upload API, in memory: a real ``Site`` over the guarded
upload resource, spoken to in raw HTTP over a ``StringTransport``, with the
forms twine and uv send.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import bcrypt
from attrs import frozen
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import capturedLogs
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web import http
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from tests.uploadforms import (
    BOUNDARY,
    SDIST,
    WHEEL,
    form,
    sdist_with,
    twine_fields,
    upload_body,
)
from tests.wheels import BuiltWheel, build_wheel
from twisted_pypi.core.config import LocalConfig
from twisted_pypi.core.links import LinkPrefixes
from twisted_pypi.core.runner import run_now
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.web.upload import limited_request, make_upload_resource

T = TypeVar("T")

#: Twisted's spool for request bodies, before the tests replace it.
_TEMPORARY_FILE = tempfile.TemporaryFile

#: The largest file the tests' server accepts.
MAX_SIZE = 64 * 1024


@frozen
class Response:
    """
    A raw HTTP response, parsed.

    :ivar code: The status.
    :ivar reason: The reason phrase.
    :ivar headers: Lower-case header names to their last value.
    :ivar body: The body.
    """

    code: int
    reason: bytes
    headers: dict[bytes, bytes]
    body: bytes


def parse_response(data: bytes) -> Response:
    """
    The first response in ``data``.
    """
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    _, code, reason = status.split(b" ", 2)
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return Response(int(code), reason, headers, body)


def basic(user: str, password: str) -> bytes:
    """
    An ``Authorization`` header value for HTTP basic auth.
    """
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


class UploadServer:
    """
    The guarded upload resource for one local index, ``private``, in a
    ``Site`` reached over ``StringTransport``; the user ``alice`` has the
    password ``secret``.
    """

    def __init__(
        self,
        case: SynchronousTestCase,
        *,
        runner: Callable[[Callable[[], Any]], Deferred[Any]] = run_now,
        request_factory: type[Request] | None = None,
        as_index: bool = False,
    ) -> None:
        """
        :param case: The test, for temporary paths.
        :param as_index: Upload to a :class:`LocalIndex` of the directory
            (through its place), not to the plain directory.
        :param runner: Runs the blocking work.
        :param request_factory: The ``Site``'s; by default one limiting
            uploads to files of :data:`MAX_SIZE` bytes.
        """
        self.directory = FilePath(case.mktemp())
        self.directory.makedirs()
        self.index = LocalIndex(
            LocalConfig("private", self.directory.path), LinkPrefixes(), run=runner
        )
        users = FilePath(case.mktemp())
        hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
        users.setContent(f"alice:{hashed}\n".encode())
        root = Resource()
        root.putChild(
            b"upload",
            make_upload_resource(
                {"private": self.index if as_index else self.directory.path},
                users.path,
                clock=Clock(),
                runner=runner,
                max_size=MAX_SIZE,
            ),
        )
        factory = request_factory or limited_request(MAX_SIZE)
        # The channels' timeouts go on a clock, not on the global reactor.
        self.site = Site(root, requestFactory=factory, reactor=Clock())
        self.protocol: Any = None

    def send(self, data: bytes) -> StringTransport:
        """
        Send raw bytes on a new connection; the transport holds the answer.
        """
        self.protocol = self.site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4000))
        transport = StringTransport()
        self.protocol.makeConnection(transport)
        self.protocol.dataReceived(data)
        return transport

    def head(
        self,
        body_length: int | None,
        *,
        method: bytes = b"POST",
        path: bytes = b"/upload/private/",
        auth: bytes | None = basic("alice", "secret"),
        extra: bytes = b"",
    ) -> bytes:
        """
        A request head; ``body_length`` ``None`` means chunked.
        """
        head = b"%s %s HTTP/1.1\r\nHost: upload.test\r\n" % (method, path)
        if auth is not None:
            head += b"Authorization: %s\r\n" % auth
        head += b"Content-Type: multipart/form-data; boundary=%s\r\n" % BOUNDARY
        if body_length is None:
            head += b"Transfer-Encoding: chunked\r\n"
        else:
            head += b"Content-Length: %d\r\n" % body_length
        return head + extra + b"\r\n"

    def post(self, body: bytes, **kwargs: Any) -> Response:
        """
        POST ``body`` and return the response.
        """
        transport = self.send(self.head(len(body), **kwargs) + body)
        return parse_response(transport.value())

    def files(self) -> list[str]:
        """
        Everything in the index's directory, hidden files included.
        """
        return sorted(os.listdir(self.directory.path))


class UploadTests(SynchronousTestCase):
    """
    Uploads that are stored, and the refusals, each with its status and
    message and nothing left behind.
    """

    def setUp(self) -> None:
        self.server = UploadServer(self)

    def assertRefused(
        self, response: Response, code: int, message: str, files: Iterable[str] = ()
    ) -> None:
        """
        ``response`` has status ``code`` and says ``message`` in its reason
        phrase and its plain-text body; the directory holds only ``files``.
        """
        self.assertEqual(response.code, code, response.body)
        self.assertIn(message, response.body.decode())
        self.assertIn(message.encode("ascii", "replace")[:40], response.reason)
        self.assertEqual(
            response.headers[b"content-type"], b"text/plain; charset=utf-8"
        )
        self.assertEqual(self.server.files(), list(files))

    def test_wheel_stored(self) -> None:
        """
        A wheel is stored under its name with its bytes, readable by all,
        and the answer says so; the upload is logged with user and size.
        """
        with capturedLogs() as events:
            response = self.server.post(upload_body(WHEEL))
        self.assertEqual((response.code, response.reason), (200, b"OK"))
        self.assertIn(WHEEL.filename.encode(), response.body)
        self.assertEqual(self.server.files(), [WHEEL.filename])
        stored = self.server.directory.child(WHEEL.filename)
        self.assertEqual(stored.getContent(), WHEEL.content)
        self.assertEqual(os.stat(stored.path).st_mode & 0o777, 0o644)
        logged = [e for e in events if e.get("filename") == WHEEL.filename]
        self.assertEqual(logged[0]["user"], "alice")
        self.assertEqual(logged[0]["size"], len(WHEEL.content))

    def test_sdist_stored(self) -> None:
        """
        An sdist is stored; uv's form (its own field set) is accepted too.
        """
        fields = [
            (":action", "file_upload"), ("sha256_digest", SDIST.sha256),
            ("protocol_version", "1"), ("metadata_version", "2.1"),
            ("name", "demo-pkg"), ("version", "1.0"), ("filetype", "sdist"),
            ("pyversion", "source"), ("requires_python", ""),
        ]  # fmt: skip
        response = self.server.post(form(fields, (SDIST.filename, SDIST.content)))
        self.assertEqual(response.code, 200, response.body)
        stored = self.server.directory.child(SDIST.filename).getContent()
        self.assertEqual(stored, SDIST.content)

    def test_zip_sdist_stored(self) -> None:
        """
        A ``.zip`` sdist is stored, its ``PKG-INFO`` read from the zip.
        """
        sdist = sdist_with(SDIST.metadata, "demo_pkg-1.0.zip", zipped=True)
        response = self.server.post(upload_body(sdist))
        self.assertEqual(response.code, 200, response.body)
        self.assertEqual(self.server.files(), ["demo_pkg-1.0.zip"])

    def test_overwrite_refused(self) -> None:
        """
        A file that exists is refused with 409 and left untouched.
        """
        self.server.directory.child(WHEEL.filename).setContent(b"the original")
        response = self.server.post(upload_body(WHEEL))
        self.assertRefused(response, 409, "already exists", [WHEEL.filename])
        original = self.server.directory.child(WHEEL.filename).getContent()
        self.assertEqual(original, b"the original")

    def test_second_upload_refused(self) -> None:
        """
        Uploading the same file twice: the second is refused with 409.
        """
        self.assertEqual(self.server.post(upload_body(WHEEL)).code, 200)
        response = self.server.post(upload_body(WHEEL))
        self.assertRefused(response, 409, "already exists", [WHEEL.filename])

    def test_unexpected_error(self) -> None:
        """
        An unexpected error is logged and answered 500.
        """
        self.server.directory.remove()
        response = self.server.post(upload_body(WHEEL))
        self.assertEqual(response.code, 500)
        self.assertIn(b"see the server's log", response.body)
        self.assertEqual(len(self.flushLoggedErrors(FileNotFoundError)), 1)

    def test_link_race(self) -> None:
        """
        A file that appears between the check and the link (another
        process) is refused with 409 and left alone.
        """

        def link(source: str, target: str) -> None:
            FilePath(target).setContent(b"theirs")
            raise FileExistsError(target)

        self.patch(os, "link", link)
        response = self.server.post(upload_body(WHEEL))
        self.assertRefused(response, 409, "already exists", [WHEEL.filename])
        theirs = self.server.directory.child(WHEEL.filename).getContent()
        self.assertEqual(theirs, b"theirs")

    def test_no_hard_links(self) -> None:
        """
        On a file system without hard links the file is renamed into place.
        """

        def link(source: str, target: str) -> None:
            raise OSError(errno.EPERM, "no links")

        self.patch(os, "link", link)
        self.assertEqual(self.server.post(upload_body(WHEEL)).code, 200)
        self.assertEqual(self.server.files(), [WHEEL.filename])
        stored = self.server.directory.child(WHEEL.filename).getContent()
        self.assertEqual(stored, WHEEL.content)

    def test_same_distribution_refused(self) -> None:
        """
        A second sdist of a release, under another name, is refused with 409.
        """
        self.server.directory.child(SDIST.filename).setContent(SDIST.content)
        sdist = sdist_with(SDIST.metadata, "Demo.Pkg-1.0.zip", zipped=True)
        response = self.server.post(upload_body(sdist))
        self.assertRefused(
            response, 409, f"{SDIST.filename} already exists", [SDIST.filename]
        )

    def test_bad_filenames(self) -> None:
        """
        A filename that is not a valid, safe wheel or sdist name is refused.
        """
        for filename in (
            "demo_pkg-1.0.egg",
            "demo.whl",
            "../demo_pkg-1.0-py3-none-any.whl",
            ".demo_pkg-1.0.tar.gz",
            "démo_pkg-1.0-py3-none-any.whl",
        ):
            body = form(twine_fields(WHEEL), (filename, WHEEL.content))
            response = self.server.post(body)
            self.assertRefused(response, 400, "is not a valid wheel")

    def test_name_mismatch(self) -> None:
        """
        A ``name`` field naming another project is refused.
        """
        response = self.server.post(upload_body(WHEEL, name="other"))
        self.assertRefused(response, 400, "The name 'other' does not match")

    def test_version_mismatch(self) -> None:
        """
        A ``version`` field with another version is refused; an equal
        spelling (``1.0.0``) is not another version.
        """
        response = self.server.post(upload_body(WHEEL, version="2.0"))
        self.assertRefused(response, 400, "The version '2.0' does not match")
        response = self.server.post(upload_body(WHEEL, version="1.0.0"))
        self.assertEqual(response.code, 200, response.body)

    def test_missing_fields(self) -> None:
        """
        An upload without ``name`` or with an invalid ``version`` is refused.
        """
        response = self.server.post(upload_body(WHEEL, name=None))
        self.assertRefused(response, 400, "The name None does not match")
        response = self.server.post(upload_body(WHEEL, version="one"))
        self.assertRefused(response, 400, "'one' is not a valid version")

    def test_metadata_version_disagrees(self) -> None:
        """
        A wheel whose ``METADATA`` has another version than its filename is
        refused.
        """
        other = build_wheel("Demo.Pkg", "1.1")
        renamed = BuiltWheel(WHEEL.filename, other.content, other.metadata)
        response = self.server.post(upload_body(renamed))
        self.assertRefused(response, 400, "has version '1.1', not 1.0")

    def test_metadata_name_disagrees(self) -> None:
        """
        An sdist whose ``PKG-INFO`` names another project is refused.
        """
        sdist = sdist_with(b"Metadata-Version: 2.1\nName: other\nVersion: 1.0\n",
                           SDIST.filename)  # fmt: skip
        response = self.server.post(upload_body(sdist))
        self.assertRefused(response, 400, "names 'other', not demo-pkg")

    def test_not_an_archive(self) -> None:
        """
        A file that is not a readable archive is refused.
        """
        junk = BuiltWheel(WHEEL.filename, b"not a zip", b"")
        response = self.server.post(upload_body(junk))
        self.assertRefused(response, 400, "not a readable wheel")

    def test_digest_mismatch(self) -> None:
        """
        Each digest field that does not match the file is refused.
        """
        for field in ("sha256_digest", "blake2_256_digest", "md5_digest"):
            response = self.server.post(upload_body(WHEEL, **{field: "ab" * 16}))
            self.assertRefused(response, 400, f"not {'ab' * 16} as {field} says")

    def test_no_digest(self) -> None:
        """
        An upload whose digest fields are all empty or missing is refused:
        at least one digest is required, as on PyPI.
        """
        for value in ("", None):
            response = self.server.post(
                upload_body(
                    WHEEL, sha256_digest=value, blake2_256_digest=value,
                    md5_digest=value,
                )
            )  # fmt: skip
            self.assertRefused(response, 400, f"The upload of {WHEEL.filename} has"
                               " no digest")  # fmt: skip

    def test_md5_forms(self) -> None:
        """
        An ``md5_digest`` is accepted in hex or in URL-safe base64.
        """
        digest = hashlib.md5(WHEEL.content).digest()
        b64 = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        response = self.server.post(upload_body(WHEEL, md5_digest=b64))
        self.assertEqual(response.code, 200, response.body)
        sdist_md5 = hashlib.md5(SDIST.content).hexdigest()
        response = self.server.post(
            upload_body(SDIST, name="demo-pkg", md5_digest=sdist_md5)
        )
        self.assertEqual(response.code, 200, response.body)

    def test_wrong_action(self) -> None:
        """
        An ``:action`` other than ``file_upload``, or none, is refused.
        """
        response = self.server.post(upload_body(WHEEL, **{":action": "submit"}))
        self.assertRefused(response, 400, "':action' must be 'file_upload'")
        response = self.server.post(upload_body(WHEEL, **{":action": None}))
        self.assertRefused(response, 400, "not None")

    def test_no_file(self) -> None:
        """
        A form without a file is refused.
        """
        response = self.server.post(form(twine_fields(WHEEL), None))
        self.assertRefused(response, 400, "No file")

    def test_two_files(self) -> None:
        """
        A form with two files is refused.
        """
        body = form(twine_fields(WHEEL), (WHEEL.filename, WHEEL.content))
        body = body.replace(b"--%s--\r\n" % BOUNDARY, b"") + form([], ("x.whl", b"x"))
        response = self.server.post(body)
        self.assertRefused(response, 400, "exactly one file")

    def test_not_multipart(self) -> None:
        """
        A body that is not ``multipart/form-data``, or one cut short, is
        refused.
        """
        body = upload_body(WHEEL)
        head = self.server.head(len(body)).replace(
            b"multipart/form-data; boundary=" + BOUNDARY, b"application/json"
        )
        response = parse_response(self.server.send(head + body).value())
        self.assertRefused(response, 400, "Expected a multipart/form-data body")
        response = self.server.post(body[:-30])
        self.assertRefused(response, 400, "ends too early")

    def test_too_large_file(self) -> None:
        """
        A file over the limit in a body under it is refused with 413 while
        it is being written, and the partial file is removed.
        """
        big = build_wheel("Demo.Pkg", "1.0", padding=MAX_SIZE + 1)
        response = self.server.post(upload_body(big))
        self.assertRefused(
            response, 413, "too large: files may have at most 65536 bytes"
        )

    def test_fields_too_large(self) -> None:
        """
        Form fields over their allowance are refused with 413.
        """
        response = self.server.post(upload_body(WHEEL, description="x" * (1 << 20)))
        self.assertRefused(response, 413, "fields are over 1 MiB")

    def test_get(self) -> None:
        """
        GET on the upload URL is answered 405, saying what the URL is for.
        """
        transport = self.server.send(self.server.head(0, method=b"GET"))
        response = parse_response(transport.value())
        self.assertRefused(response, 405, "This is the upload URL of the index")
        self.assertEqual(response.headers[b"allow"], b"POST")

    def test_unknown_index(self) -> None:
        """
        An upload to an index that does not exist is answered 404.
        """
        response = self.server.post(upload_body(WHEEL), path=b"/upload/public/")
        self.assertRefused(response, 404, "no local index named 'public'")

    def test_deeper_path(self) -> None:
        """
        An upload below an index's upload URL is answered 404.
        """
        response = self.server.post(upload_body(WHEEL), path=b"/upload/private/x")
        self.assertRefused(response, 404, "Upload to /upload/<index>/")


class IndexUploadTests(UploadTests):
    """
    The same uploads to a :class:`LocalIndex`, written through its place
    (:class:`~twisted_pypi.storage.dirplace.DirectoryPlace`); a stored file
    is listed by the index at once.
    """

    def setUp(self) -> None:
        self.server = UploadServer(self, as_index=True)

    def test_listed_at_once(self) -> None:
        """
        The index lists an uploaded file with its sha256 and metadata.
        """
        response = self.server.post(upload_body(WHEEL))
        self.assertEqual(response.code, 200, response.body)
        listed = self.successResultOf(
            Deferred.fromCoroutine(self.server.index.file(WHEEL.filename))
        )
        assert listed is not None
        self.assertEqual(
            (listed.sha256, listed.metadata), (WHEEL.sha256, WHEEL.metadata)
        )


class AuthTests(SynchronousTestCase):
    """
    Uploads need the right user name and password.
    """

    def setUp(self) -> None:
        self.server = UploadServer(self)

    def test_wrong_password(self) -> None:
        """
        A wrong password is answered 401 with a challenge; nothing is written.
        """
        response = self.server.post(upload_body(WHEEL), auth=basic("alice", "nope"))
        self.assertEqual(response.code, 401)
        self.assertEqual(
            response.headers[b"www-authenticate"], b'basic realm="twisted-pypi upload"'
        )
        self.assertEqual(self.server.files(), [])

    def test_unknown_user(self) -> None:
        """
        An unknown user is answered 401; nothing is written.
        """
        response = self.server.post(upload_body(WHEEL), auth=basic("bob", "secret"))
        self.assertEqual(response.code, 401)
        self.assertEqual(self.server.files(), [])

    def test_missing_credentials(self) -> None:
        """
        No credentials, or another scheme, is answered 401; nothing is written.
        """
        for auth in (None, b"Bearer token"):
            response = self.server.post(upload_body(WHEEL), auth=auth)
            self.assertEqual(response.code, 401)
            self.assertIn(b"www-authenticate", response.headers)
        self.assertEqual(self.server.files(), [])


class EarlyAuthTests(SynchronousTestCase):
    """
    The credentials of an upload are checked as soon as its headers are in,
    and an upload that may not be made is refused before its body is read.
    """

    def setUp(self) -> None:
        self.queued: list[tuple[Callable[[], Any], Deferred[Any]]] = []
        self.server = UploadServer(self, runner=self.queue)
        self.spooled: list[object] = []
        self.patch(http.tempfile, "TemporaryFile", self.spool)

    def queue(self, work: Callable[[], T]) -> Deferred[T]:
        """
        Keep ``work`` for the test to run.
        """
        d: Deferred[T] = Deferred()
        self.queued.append((work, d))
        return d

    def run_queued(self) -> None:
        """
        Run what is queued now, in order.
        """
        queued, self.queued = self.queued, []
        for work, d in queued:
            d.callback(work())

    def spool(self, *args: Any, **kwargs: Any) -> Any:
        """
        Twisted's temporary file for a request body, noted.
        """
        self.spooled.append(args)
        return _TEMPORARY_FILE(*args, **kwargs)

    def test_missing_credentials(self) -> None:
        """
        An upload without credentials is answered 401 with a challenge as
        soon as its headers are in; the connection closes, no body is
        spooled and nothing is written.
        """
        body = upload_body(WHEEL) + b"x" * 200_000
        transport = self.server.send(self.server.head(len(body), auth=None))
        response = parse_response(transport.value())
        self.assertEqual(response.code, 401)
        self.assertEqual(
            response.headers[b"www-authenticate"], b'basic realm="twisted-pypi upload"'
        )
        self.assertIn(b"Wrong or missing credentials", response.body)
        self.assertTrue(transport.disconnecting)
        self.server.protocol.dataReceived(body)
        self.assertEqual(transport.value().count(b"HTTP/1.1"), 1)
        self.assertEqual((self.spooled, self.queued, self.server.files()), ([], [], []))

    def test_wrong_password(self) -> None:
        """
        A wrong password is found out before the body is read: nothing is
        read while it is checked, then 401, and the connection closes.
        """
        body = upload_body(WHEEL) + b"x" * 200_000
        head = self.server.head(len(body), auth=basic("alice", "nope"))
        transport = self.server.send(head + body[:1000])
        self.assertEqual(transport.producerState, "paused")
        self.assertEqual(transport.value(), b"")
        self.run_queued()
        self.assertEqual(parse_response(transport.value()).code, 401)
        self.assertTrue(transport.disconnecting)
        self.server.protocol.dataReceived(body[1000:])
        self.assertEqual((self.spooled, self.queued, self.server.files()), ([], [], []))

    def test_no_continue_for_refused(self) -> None:
        """
        A client waiting for ``100 Continue`` with wrong credentials gets the
        401 instead.
        """
        head = self.server.head(
            1000, auth=basic("alice", "nope"), extra=b"Expect: 100-continue\r\n"
        )
        transport = self.server.send(head)
        self.assertEqual(transport.value(), b"")
        self.run_queued()
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 401 "))
        self.assertNotIn(b"100 Continue", transport.value())
        self.assertTrue(transport.disconnecting)

    def test_continue_once_admitted(self) -> None:
        """
        A client waiting for ``100 Continue`` with good credentials is
        invited once they are checked, and its upload is stored.
        """
        body = upload_body(WHEEL)
        head = self.server.head(len(body), extra=b"Expect: 100-continue\r\n")
        transport = self.server.send(head)
        self.assertEqual(transport.value(), b"")
        self.run_queued()
        self.assertEqual(transport.value(), b"HTTP/1.1 100 Continue\r\n\r\n")
        self.assertEqual(transport.producerState, "producing")
        transport.clear()
        self.server.protocol.dataReceived(body)
        self.run_queued()
        self.assertEqual(parse_response(transport.value()).code, 200)
        self.assertEqual(self.server.files(), [WHEEL.filename])

    def test_body_during_check(self) -> None:
        """
        A body that arrives whole while the credentials are checked is kept
        and stored once they are good.
        """
        body = upload_body(WHEEL)
        transport = self.server.send(self.server.head(len(body)) + body)
        self.run_queued()  # the password check
        self.run_queued()  # storing
        self.assertEqual(parse_response(transport.value()).code, 200)
        self.assertEqual(self.server.files(), [WHEEL.filename])

    def test_client_gone_during_check(self) -> None:
        """
        A client that leaves while its credentials are checked gets nothing.
        """
        body = upload_body(WHEEL)
        transport = self.server.send(self.server.head(len(body)))
        self.server.protocol.connectionLost(Failure(ConnectionDone()))
        self.run_queued()
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.server.files(), [])


class SizeLimitTests(SynchronousTestCase):
    """
    Bodies over the limit are refused before they are buffered.
    """

    def setUp(self) -> None:
        self.server = UploadServer(self)
        self.limit = MAX_SIZE + (1 << 20)

    def test_content_length(self) -> None:
        """
        A ``Content-Length`` over the limit is answered 413 as soon as the
        head is in, and the connection is closed without reading the body;
        nothing is written.
        """
        transport = self.server.send(self.server.head(self.limit + 1))
        response = parse_response(transport.value())
        self.assertEqual(response.code, 413)
        message = b"The upload is too large: files may have at most 65536 bytes"
        self.assertEqual(response.body, message + b"\n")
        self.assertEqual(response.reason, message)
        self.assertEqual(response.headers[b"connection"], b"close")
        self.assertTrue(transport.disconnecting)
        self.server.protocol.dataReceived(b"x" * (self.limit + 1))
        self.assertEqual(transport.value().count(b"HTTP/1.1"), 1)
        self.assertEqual(self.server.files(), [])

    def test_expect_continue(self) -> None:
        """
        A client waiting for ``100 Continue`` gets the 413 instead, and the
        connection is closed at once.
        """
        head = self.server.head(self.limit + 1, extra=b"Expect: 100-continue\r\n")
        transport = self.server.send(head)
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 "))
        self.assertNotIn(b"100 Continue", transport.value())
        self.assertTrue(transport.disconnecting)

    def test_huge_content_length(self) -> None:
        """
        A body too large to be worth reading is not read: the connection
        closes after the 413.
        """
        transport = self.server.send(self.server.head(1 << 40))
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 "))
        self.assertTrue(transport.disconnecting)

    def test_chunked(self) -> None:
        """
        A chunked body is refused with 413 once it grows past the limit.
        """
        transport = self.server.send(self.server.head(None))
        chunk = b"x" * 65536
        for _ in range(self.limit // len(chunk) + 1):
            self.assertEqual(transport.value(), b"")
            self.server.protocol.dataReceived(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 413 "))
        self.server.protocol.dataReceived(b"0\r\n\r\n")
        self.assertTrue(transport.disconnecting)
        self.assertEqual(self.server.files(), [])

    def test_chunked_upload(self) -> None:
        """
        A chunked upload under the limit is stored.
        """
        body = upload_body(WHEEL)
        transport = self.server.send(
            self.server.head(None) + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        )
        self.assertEqual(parse_response(transport.value()).code, 200)

    def test_other_paths(self) -> None:
        """
        Requests for other paths are not limited.
        """
        body = form([("x", "y" * self.limit)], None)
        head = self.server.head(len(body), path=b"/simple/")
        transport = self.server.send(head + body)
        self.assertEqual(parse_response(transport.value()).code, 404)

    def test_any_site(self) -> None:
        """
        With Twisted's own request factory, the resource still refuses a
        buffered body over the limit, and still stores uploads.
        """
        server = UploadServer(self, request_factory=Request)
        response = server.post(form([("x", "y" * self.limit)], None))
        self.assertEqual(response.code, 413)
        self.assertEqual(server.post(upload_body(WHEEL)).code, 200)


class RunnerTests(SynchronousTestCase):
    """
    Storing runs in the runner, away from the reactor.
    """

    def setUp(self) -> None:
        self.queued: list[tuple[Callable[[], Any], Deferred[Any]]] = []
        self.server = UploadServer(self, runner=self.queue)

    def queue(self, work: Callable[[], T]) -> Deferred[T]:
        """
        Keep ``work`` for the test to run.
        """
        d: Deferred[T] = Deferred()
        self.queued.append((work, d))
        return d

    def run_queued(self) -> None:
        """
        Run what is queued now, in order.
        """
        queued, self.queued = self.queued, []
        for work, d in queued:
            d.callback(work())

    def test_answer_after_work(self) -> None:
        """
        The answer is sent when the runner has stored the file.
        """
        transport = self.server.send(self.server.head(len(body := upload_body(WHEEL))))
        self.server.protocol.dataReceived(body)
        self.run_queued()  # the password check
        self.assertEqual(transport.value(), b"")
        self.assertEqual(len(self.queued), 1)
        self.run_queued()
        self.assertEqual(parse_response(transport.value()).code, 200)

    def test_client_gone(self) -> None:
        """
        A client that leaves while its file is being stored gets nothing
        written; the file is stored.
        """
        transport = self.server.send(self.server.head(len(body := upload_body(WHEEL))))
        self.server.protocol.dataReceived(body)
        self.run_queued()
        self.server.protocol.connectionLost(Failure(ConnectionDone()))
        self.run_queued()
        self.assertEqual(transport.value(), b"")
        self.assertEqual(self.server.files(), [WHEEL.filename])
