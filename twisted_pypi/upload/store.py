# -*- test-case-name: tests.web.test_upload -*-
"""
Storing an upload: the legacy upload API's ``multipart/form-data`` body,
which ``twine upload`` and ``uv publish`` send (``:action=file_upload``, the
file in a ``content`` part, ``name``, ``version``, digests and the other
metadata as fields), checked and written to a local index's directory.

The body is read from a file a chunk at a time, never whole into memory, in
a thread (:func:`store_upload` blocks).  The file goes to a hidden
``.upload-*`` file in the directory while its digests are computed; once
the filename, the fields, the digests and the file's own metadata agree, it
is hard-linked to its name, which fails if the name exists, so nothing is
ever replaced and nothing partial is ever visible.  The temporary file is
removed whatever happens.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import re
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Iterator
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import collapse_rfc2231_value
from typing import IO, Any

from attrs import define, field, frozen
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from twisted_pypi.core.metadata import (
    MAX_METADATA_SIZE,
    MetadataUnavailable,
    metadata_from_wheel,
)
from twisted_pypi.core.names import is_distribution_filename, normalize

#: The largest file accepted by default (PyPI's default limit).
DEFAULT_MAX_SIZE = 100 << 20

#: Room for the form fields (description included) beyond the file.
FIELDS_ALLOWANCE = 1 << 20

_CHUNK = 256 << 10
_HEADERS_LIMIT = 16 << 10
_PKG_INFO = re.compile(r"[^/]+/PKG-INFO")
_DIGESTS = (
    ("sha256_digest", "sha256"),
    ("blake2_256_digest", "blake2_256"),
    ("md5_digest", "md5"),
)
_publishing = threading.Lock()
#: What ``link`` fails with on file systems without hard links.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}


class UploadError(Exception):
    """
    An upload is refused.

    :ivar code: The HTTP status.
    :ivar message: Why, in a sentence.
    """

    def __init__(self, code: int, message: str) -> None:
        """
        :param code: The HTTP status.
        :param message: Why, in a sentence.
        """
        super().__init__(code, message)
        self.code = code
        self.message = message


@frozen
class Stored:
    """
    A file that was uploaded.

    :ivar filename: Its name in the index's directory.
    :ivar size: Its size in bytes.
    :ivar sha256: Its sha256, hex.
    """

    filename: str
    size: int
    sha256: str


def _boundary(content_type: bytes) -> bytes:
    """The boundary of a ``multipart/form-data`` body."""
    message = Message()
    message["content-type"] = content_type.decode("latin-1")
    boundary = message.get_param("boundary")
    if message.get_content_type() != "multipart/form-data":
        raise UploadError(400, "Expected a multipart/form-data body")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 200:
        raise UploadError(400, "The multipart/form-data body has no valid boundary")
    return boundary.encode("latin-1")


class _Parts:
    """
    The parts of a ``multipart/form-data`` body, read from a file a chunk at
    a time: :meth:`next` gives a part's headers, :meth:`data` its bytes.
    """

    def __init__(self, body: IO[bytes], boundary: bytes, chunk: int = _CHUNK) -> None:
        """
        :param body: The body, at its start.
        :param boundary: The form's boundary.
        :param chunk: Bytes read at a time.
        """
        self._body = body
        self._chunk = chunk
        self._separator = b"\r\n--" + boundary
        # A line break in front makes the first boundary look like the others.
        self._buffer = b"\r\n"
        self._started = False

    def _fill(self) -> None:
        """
        Read another chunk; a body that ends here is cut short.
        """
        data = self._body.read(self._chunk)
        if not data:
            raise UploadError(400, "The multipart/form-data body ends too early")
        self._buffer += data

    def data(self) -> Iterator[bytes]:
        """The current part's bytes, up to the next boundary."""
        keep = len(self._separator) - 1
        while (found := self._buffer.find(self._separator)) < 0:
            if len(self._buffer) > keep:
                yield self._buffer[:-keep]
                self._buffer = self._buffer[-keep:]
            self._fill()
        if found:
            yield self._buffer[:found]
        self._buffer = self._buffer[found + len(self._separator) :]

    def next(self) -> Message | None:
        """The headers of the next part, or ``None`` after the last one."""
        if not self._started:
            self._started = True
            for _ in self.data():
                pass  # the preamble
        while len(self._buffer) < 2:
            self._fill()
        if self._buffer.startswith(b"--"):
            return None
        while (end := self._buffer.find(b"\r\n\r\n")) < 0:
            if len(self._buffer) > _HEADERS_LIMIT:
                raise UploadError(400, "A part of the form has too long a header")
            self._fill()
        padding, _, head = self._buffer[:end].partition(b"\r\n")
        self._buffer = self._buffer[end + 4 :]
        if padding.strip(b" \t"):
            raise UploadError(400, "The multipart/form-data body is malformed")
        return BytesHeaderParser().parsebytes(head + b"\r\n\r\n")


@define
class _Received:
    """
    What a form held: its text fields, and the file, in a temporary file.
    """

    directory: str
    max_size: int
    fields: dict[str, list[str]] = field(factory=dict)
    filename: str | None = None
    temp: str | None = None
    size: int = 0
    hashes: dict[str, Any] = field(factory=dict)

    def value(self, name: str) -> str | None:
        """The first value of field ``name``, stripped; ``None`` if absent."""
        values = self.fields.get(name)
        return values[0].strip() if values else None

    def read(self, parts: _Parts) -> None:
        """Read every part, the file to a hidden file in the directory."""
        budget = FIELDS_ALLOWANCE
        while (headers := parts.next()) is not None:
            raw: Any = headers.get_param("name", header="content-disposition")
            name = collapse_rfc2231_value(raw) if raw else ""
            filename = headers.get_filename()
            if name == "content" and filename is not None:
                if self.filename is not None:
                    raise UploadError(400, "An upload holds exactly one file")
                self.filename = filename
                self._write(parts.data())
                continue
            value = b""
            for chunk in parts.data():
                budget -= len(chunk)
                if budget < 0:
                    raise UploadError(413, "The form's fields are over 1 MiB")
                value += chunk
            text = value.decode("utf-8", "replace")
            self.fields.setdefault(name, []).append(text)

    def _write(self, chunks: Iterator[bytes]) -> None:
        """Write the file, computing its digests and enforcing the limit."""
        self.hashes = {
            "sha256": hashlib.sha256(),
            "blake2_256": hashlib.blake2b(digest_size=32),
            "md5": hashlib.md5(usedforsecurity=False),
        }
        fd, self.temp = tempfile.mkstemp(prefix=".upload-", dir=self.directory)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(fd, 0o644)
            for chunk in chunks:
                self.size += len(chunk)
                if self.size > self.max_size:
                    raise UploadError(
                        413,
                        too_large(self.max_size, str(self.filename)),
                    )
                for h in self.hashes.values():
                    h.update(chunk)
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())

    def discard(self) -> None:
        """Remove the temporary file, if any."""
        if self.temp is not None:
            try:
                os.unlink(self.temp)
            except FileNotFoundError:
                pass


def too_large(max_size: int, what: str = "The upload") -> str:
    """What to say about an upload (or file) over the limit."""
    size = f"{max_size} bytes"
    if max_size >= 1 << 20:
        size = f"{max_size / (1 << 20):.1f} MiB ({size})"
    return f"{what} is too large: files may have at most {size}"


def _identity(filename: str) -> tuple[object, ...] | None:
    """
    What makes two filenames the same distribution: project, version and
    tags of a wheel; project and version of an sdist (one per release).
    """
    try:
        if filename.endswith(".whl"):
            name, version, build, tags = parse_wheel_filename(filename)
            return (name, version, build, frozenset(tags))
        if filename.endswith((".tar.gz", ".zip")):
            return (*parse_sdist_filename(filename), "sdist")
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def _version(text: str | None, what: str) -> Version:
    """A version from a form or metadata field."""
    try:
        return Version(text or "")
    except InvalidVersion:
        raise UploadError(400, f"{what} {text!r} is not a valid version") from None


def _metadata(path: str, filename: str) -> Message:
    """The ``METADATA`` of a wheel or ``PKG-INFO`` of an sdist."""
    try:
        if filename.endswith(".whl"):
            with open(path, "rb") as f:
                data = metadata_from_wheel(f, filename)
        elif filename.endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                infos = [
                    i for i in archive.infolist() if _PKG_INFO.fullmatch(i.filename)
                ]
                if not infos or infos[0].file_size > MAX_METADATA_SIZE:
                    raise UploadError(400, f"{filename} has no PKG-INFO")
                data = archive.read(infos[0])
        else:
            with tarfile.open(path, "r:gz") as tar:
                member = next(
                    (m for m in tar if m.isfile() and _PKG_INFO.fullmatch(m.name)), None
                )
                extracted = tar.extractfile(member) if member else None
                if (
                    member is None
                    or extracted is None
                    or member.size > MAX_METADATA_SIZE
                ):
                    raise UploadError(400, f"{filename} has no PKG-INFO")
                data = extracted.read()
    except MetadataUnavailable as e:
        raise UploadError(400, str(e)) from None
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as e:
        raise UploadError(400, f"{filename} is not a readable archive: {e}") from None
    return BytesParser().parsebytes(data, headersonly=True)


def _check(received: _Received) -> Stored:
    """Check a received upload; raise :class:`UploadError` if it is refused."""
    action = received.value(":action")
    if action != "file_upload":
        raise UploadError(400, f"':action' must be 'file_upload', not {action!r}")
    filename = received.filename
    if filename is None or received.temp is None:
        raise UploadError(400, "No file: the upload needs a 'content' part")
    identity = _identity(filename)
    valid = filename.isascii() and is_distribution_filename(filename)
    if identity is None or not valid:
        raise UploadError(
            400,
            f"{filename!r} is not a valid wheel (.whl) or sdist (.tar.gz, .zip) name",
        )
    project, version = identity[0], identity[1]
    name = received.value("name")
    if name is None or normalize(name) != project:
        raise UploadError(400, f"The name {name!r} does not match the file {filename}")
    if _version(received.value("version"), "The version") != version:
        raise UploadError(
            400, f"The version {received.value('version')!r} does not match {filename}"
        )
    for field_name, algorithm in _DIGESTS:
        expected = (received.value(field_name) or "").lower()
        actual = received.hashes[algorithm]
        if expected and expected not in (actual.hexdigest(), _b64(actual.digest())):
            raise UploadError(
                400,
                f"The {algorithm} digest of {filename} is {actual.hexdigest()}, not"
                f" {expected} as {field_name} says: the file was damaged on the way",
            )
    metadata = _metadata(received.temp, filename)
    meta_name = metadata.get("Name")
    if meta_name is None or normalize(str(meta_name)) != project:
        raise UploadError(
            400, f"The metadata of {filename} names {meta_name!r}, not {project}"
        )
    meta_version = metadata.get("Version")
    if _version(meta_version, f"The metadata of {filename} has version") != version:
        raise UploadError(
            400,
            f"The metadata of {filename} has version {meta_version!r}, not {version}",
        )
    _publish(received.temp, received.directory, filename, identity)
    sha256 = received.hashes["sha256"].hexdigest()
    return Stored(filename, received.size, sha256)


def _b64(digest: bytes) -> str:
    """A digest in URL-safe base64 without padding (lower-cased)."""
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode().lower()


def _publish(
    temp: str, directory: str, filename: str, identity: tuple[object, ...]
) -> None:
    """Give the file its name, unless it or the same distribution exists."""
    with _publishing:
        for existing in os.listdir(directory):
            if existing != filename and _identity(existing) != identity:
                continue
            raise UploadError(
                409,
                f"{existing} already exists in this index; files are never"
                " replaced: upload a new version",
            )
        try:
            os.link(temp, os.path.join(directory, filename))
        except FileExistsError:
            raise UploadError(409, f"{filename} already exists in this index") from None
        except OSError as e:
            if e.errno not in _NO_LINKS:
                raise
            # No hard links here: the check above, under the lock, stands in.
            os.rename(temp, os.path.join(directory, filename))
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def store_upload(
    body: IO[bytes], content_type: bytes, directory: str, max_size: int
) -> Stored:
    """
    Store the file of an upload form in ``directory`` (blocking: run it in a
    thread).  Nothing is left in the directory unless the upload succeeds.

    :param body: The request body, at its start.
    :param content_type: The request's ``Content-Type``.
    :param directory: The local index's directory.
    :param max_size: The largest file accepted.
    :raises UploadError: If the upload is refused.
    """
    received = _Received(directory, max_size)
    try:
        received.read(_Parts(body, _boundary(content_type)))
        return _check(received)
    finally:
        received.discard()
