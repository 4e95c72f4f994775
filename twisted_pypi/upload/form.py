# -*- test-case-name: tests.upload.test_form -*-
"""
Receiving the legacy upload API's ``multipart/form-data`` body, which
``twine upload`` and ``uv publish`` send: the file in a ``content`` part,
``:action``, ``name``, ``version``, digests and the other metadata as text
fields.

The body is parsed by ``multipart``'s streaming
:class:`~multipart.PushMultipartParser` a chunk at a time, never whole in
memory, in a thread (:func:`receive_form` blocks).  The file goes to a
hidden ``.upload-*`` spool in the index's directory as it arrives, its
digests computed on the way; the text fields share an allowance of
:data:`FIELDS_ALLOWANCE` bytes.  The spool is removed when the form is done
with, whatever happens.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from attrs import define, field
from multipart import (
    MultipartError,
    MultipartSegment,
    ParserLimitReached,
    PushMultipartParser,
    parse_options_header,
)

from twisted_pypi.upload.errors import UploadError, too_large

__all__ = [
    "DEFAULT_MAX_SIZE",
    "FIELDS_ALLOWANCE",
    "ReceivedForm",
    "receive_form",
]

#: The largest file accepted by default (PyPI's default limit).
DEFAULT_MAX_SIZE = 100 << 20

#: Room for the form fields (description included) beyond the file.
FIELDS_ALLOWANCE = 1 << 20

_CHUNK = 256 << 10
#: The longest header line of a part, and the most headers a part may have.
_HEADER_SIZE = 16 << 10
_HEADER_COUNT = 16


@define
class ReceivedForm:
    """
    What a form held: its text fields, and the file, spooled to disk.

    :ivar directory: Where the spool is written (the index's directory).
    :ivar max_size: The largest file accepted.
    :ivar fields: Each text field's values, in order.
    :ivar filename: The file's name as the form gives it, or ``None``.
    :ivar spool: The path of the spooled file, or ``None``.
    :ivar size: The file's size.
    :ivar hashes: The file's ``sha256``, ``blake2_256`` and ``md5`` digests.
    """

    directory: str
    max_size: int
    fields: dict[str, list[str]] = field(factory=dict)
    filename: str | None = None
    spool: str | None = None
    size: int = 0
    hashes: dict[str, Any] = field(factory=dict)
    _budget: int = field(init=False, default=FIELDS_ALLOWANCE)
    _file: IO[bytes] | None = field(init=False, default=None)
    _value: bytearray | None = field(init=False, default=None)
    _name: str = field(init=False, default="")

    def value(self, name: str) -> str | None:
        """
        The first value of field ``name``, stripped; ``None`` if absent.

        :param name: The field's name.
        """
        values = self.fields.get(name)
        return values[0].strip() if values else None

    def begin(self, segment: MultipartSegment) -> None:
        """
        Start a part: the file (``content`` with a filename), or a field.

        :param segment: The part's headers, parsed.
        """
        name: str = segment.name or ""
        filename: str | None = segment.filename
        if name == "content" and filename is not None:
            if self.filename is not None:
                raise UploadError(400, "An upload holds exactly one file")
            self.filename = filename
            self._open()
        else:
            self._name, self._value = name, bytearray()

    def data(self, chunk: bytes) -> None:
        """
        Take the next bytes of the current part.

        :param chunk: The bytes.
        """
        if self._file is not None:
            self.size += len(chunk)
            if self.size > self.max_size:
                raise UploadError(413, too_large(self.max_size, str(self.filename)))
            for h in self.hashes.values():
                h.update(chunk)
            self._file.write(chunk)
        elif self._value is not None:
            self._budget -= len(chunk)
            if self._budget < 0:
                raise UploadError(413, "The form's fields are over 1 MiB")
            self._value += chunk

    def end(self) -> None:
        """
        Finish the current part: keep the field, or close the file.
        """
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
        elif self._value is not None:
            text = self._value.decode("utf-8", "replace")
            self.fields.setdefault(self._name, []).append(text)
            self._value = None

    def discard(self) -> None:
        """
        Close and remove the spool, if any.
        """
        if self._file is not None:
            self._file.close()
            self._file = None
        if self.spool is not None:
            try:
                os.unlink(self.spool)
            except FileNotFoundError:
                pass

    def keep_spool(self) -> str:
        """
        Take the spool out of the form's hands: it is no longer removed
        with the form, the caller removes it.

        :return: Its path.
        :raise ValueError: If the form has no file.
        """
        if self.spool is None:
            raise ValueError("the form has no file")
        if self._file is not None:
            self._file.close()
            self._file = None
        spool, self.spool = self.spool, None
        return spool

    def _open(self) -> None:
        """
        Open the spool, readable by all (as the stored file will be).
        """
        self.hashes = {
            "sha256": hashlib.sha256(),
            "blake2_256": hashlib.blake2b(digest_size=32),
            "md5": hashlib.md5(usedforsecurity=False),
        }
        fd, self.spool = tempfile.mkstemp(prefix=".upload-", dir=self.directory)
        self._file = os.fdopen(fd, "wb")
        os.fchmod(fd, 0o644)


def _boundary(content_type: bytes) -> str:
    """
    The boundary of a ``multipart/form-data`` body.

    :param content_type: The request's ``Content-Type``.
    """
    media_type, options = parse_options_header(content_type.decode("latin-1"))
    if media_type != "multipart/form-data":
        raise UploadError(400, "Expected a multipart/form-data body")
    boundary = options.get("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 200:
        raise UploadError(400, "The multipart/form-data body has no valid boundary")
    return boundary


def _parse(body: IO[bytes], boundary: str, form: ReceivedForm, chunk: int) -> None:
    """
    Feed every part of ``body`` to ``form``.

    :raise UploadError: If the body is not a complete, well-formed form.
    """
    ended = False

    def read(size: int) -> bytes:
        nonlocal ended
        data = body.read(size)
        ended = not data
        return data

    try:
        parser = PushMultipartParser(
            boundary, max_header_size=_HEADER_SIZE, max_header_count=_HEADER_COUNT
        )
        for event in parser.parse_blocking(read, chunk):
            if event is None:
                form.end()
            elif isinstance(event, MultipartSegment):
                form.begin(event)
            else:
                form.data(event)
    except ParserLimitReached:
        raise UploadError(
            400, "A part of the form has too many or too long headers"
        ) from None
    except MultipartError:
        if ended:
            raise UploadError(
                400, "The multipart/form-data body ends too early"
            ) from None
        raise UploadError(400, "The multipart/form-data body is malformed") from None


@contextmanager
def receive_form(
    body: IO[bytes],
    content_type: bytes,
    directory: str,
    max_size: int,
    chunk: int = _CHUNK,
) -> Iterator[ReceivedForm]:
    """
    Read an upload form (blocking: run it in a thread), its file spooled in
    ``directory``; the spool is removed on leaving the context.

    :param body: The request body, at its start.
    :param content_type: The request's ``Content-Type``.
    :param directory: The local index's directory.
    :param max_size: The largest file accepted.
    :param chunk: Bytes read at a time.
    :raise UploadError: If the form is refused (400: malformed, two files;
        413: a file or fields over their limits).
    """
    form = ReceivedForm(directory, max_size)
    try:
        _parse(body, _boundary(content_type), form, chunk)
        yield form
    finally:
        form.discard()
