"""
Tests for :mod:`twisted_pypi.upload.form`: reading upload forms a chunk at a
time, the file spooled to disk as it arrives, and every refusal.
"""

from __future__ import annotations

import io
import os

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.uploadforms import BOUNDARY, CONTENT_TYPE, WHEEL, form, upload_body
from twisted_pypi.upload.errors import UploadError
from twisted_pypi.upload.form import FIELDS_ALLOWANCE, receive_form

#: The largest file the tests accept.
MAX_SIZE = 64 * 1024


class _WatchedBody(io.BytesIO):
    """
    A body that notes, at each read, how many bytes of it were read and how
    large the spool in ``directory`` then was.
    """

    def __init__(self, data: bytes, directory: str) -> None:
        super().__init__(data)
        self.directory = directory
        self.seen: list[tuple[int, int]] = []

    def read(self, size: int | None = -1) -> bytes:
        spools = [n for n in os.listdir(self.directory) if n.startswith(".upload-")]
        spooled = sum(os.path.getsize(os.path.join(self.directory, n)) for n in spools)
        self.seen.append((self.tell(), spooled))
        return super().read(size)


class FormTestCase(SynchronousTestCase):
    """
    Reads forms into a temporary directory.
    """

    def setUp(self) -> None:
        directory = FilePath(self.mktemp())
        directory.makedirs()
        self.directory = directory.path

    def refused(self, body: bytes, content_type: bytes = CONTENT_TYPE) -> UploadError:
        """
        The error reading ``body`` raises; nothing is left in the directory.
        """

        def read() -> None:
            with receive_form(io.BytesIO(body), content_type, self.directory, MAX_SIZE):
                pass

        error: UploadError = self.assertRaises(UploadError, read)
        self.assertEqual(os.listdir(self.directory), [])
        return error


class ReadTests(FormTestCase):
    """
    Forms are read whole, fields as text and the file to a spool.
    """

    def test_any_chunk_size(self) -> None:
        """
        Parts are read whole whatever the chunk size, also when their bytes
        hold what looks like the start of a boundary; a preamble is skipped.
        """
        tricky = b"a\r\n--" + BOUNDARY[:-1] + b"\r\n\r\n--"
        body = b"preamble\r\n" + form([("name", "x")], ("f.whl", tricky))
        for chunk in (1, 2, 3, 7, 16, 100):
            stream = io.BytesIO(body)
            with receive_form(
                stream, CONTENT_TYPE, self.directory, MAX_SIZE, chunk
            ) as received:
                self.assertEqual(received.fields, {"name": ["x"]}, chunk)
                self.assertEqual(received.filename, "f.whl")
                assert received.spool is not None
                self.assertEqual(FilePath(received.spool).getContent(), tricky)
                self.assertEqual(received.size, len(tricky))

    def test_fields(self) -> None:
        """
        Every value of a field is kept, decoded from UTF-8; :meth:`value`
        gives the first, stripped, or ``None``.
        """
        body = form(
            [("classifiers", "A"), ("classifiers", "B"), ("name", " dé ")], None
        )
        with receive_form(
            io.BytesIO(body), CONTENT_TYPE, self.directory, MAX_SIZE
        ) as received:
            self.assertEqual(received.fields["classifiers"], ["A", "B"])
            self.assertEqual(received.value("name"), "dé")
            self.assertIsNone(received.value("version"))
            self.assertIsNone(received.filename)

    def test_spool(self) -> None:
        """
        The file is spooled in the directory, readable by all, with its
        digests; the spool is removed on leaving the context.
        """
        body = io.BytesIO(upload_body(WHEEL))
        with receive_form(body, CONTENT_TYPE, self.directory, MAX_SIZE) as received:
            assert received.spool is not None
            self.assertEqual(os.path.dirname(received.spool), self.directory)
            self.assertTrue(os.path.basename(received.spool).startswith(".upload-"))
            self.assertEqual(os.stat(received.spool).st_mode & 0o777, 0o644)
            self.assertEqual(received.hashes["sha256"].hexdigest(), WHEEL.sha256)
        self.assertEqual(os.listdir(self.directory), [])

    def test_streamed(self) -> None:
        """
        The file is written to the spool while the body is still being read:
        by the last reads most of it is on disk.
        """
        content = os.urandom(48 * 1024)
        body = _WatchedBody(form([], ("f.whl", content)), self.directory)
        with receive_form(body, CONTENT_TYPE, self.directory, MAX_SIZE, 4096):
            pass
        before_end = [spooled for read, spooled in body.seen if read < len(content)]
        self.assertGreater(max(before_end), len(content) // 2)


class RefusalTests(FormTestCase):
    """
    Forms that cannot be read, or are over a limit, are refused.
    """

    def test_not_multipart(self) -> None:
        """
        A body of another type, or without a valid boundary, is refused.
        """
        body = upload_body(WHEEL)
        error = self.refused(body, b"application/json")
        self.assertEqual(
            (error.code, error.message), (400, "Expected a multipart/form-data body")
        )
        for content_type in (b"multipart/form-data", b"multipart/form-data; boundary="):
            error = self.refused(body, content_type)
            self.assertIn("has no valid boundary", error.message)

    def test_cut_short(self) -> None:
        """
        A body that ends before its closing boundary is refused, wherever it
        ends, and the partial spool is removed.
        """
        body = upload_body(WHEEL)
        for end in (0, 10, len(body) // 2, len(body) - 10, len(body) - 3):
            error = self.refused(body[:end])
            self.assertEqual(
                (error.code, error.message),
                (400, "The multipart/form-data body ends too early"),
                end,
            )

    def test_malformed(self) -> None:
        """
        A part without a well-formed ``Content-Disposition: form-data``
        header, or junk after a boundary, is refused.
        """
        for part in (
            b"no header line\r\n\r\nx",
            b"Content-Type: text/plain\r\n\r\nx",
            b"Content-Disposition: attachment; name=x\r\n\r\nx",
        ):
            body = b"--%s\r\n%s\r\n--%s--\r\n" % (BOUNDARY, part, BOUNDARY)
            error = self.refused(body)
            self.assertEqual(
                (error.code, error.message),
                (400, "The multipart/form-data body is malformed"),
                part,
            )
        error = self.refused(b"--%s junk\r\n" % BOUNDARY + upload_body(WHEEL))
        self.assertEqual(error.code, 400)

    def test_long_header(self) -> None:
        """
        A part header over 16 KiB is refused.
        """
        name = "x" * (16 << 10)
        error = self.refused(form([(name, "y")], None))
        self.assertEqual(
            (error.code, error.message),
            (400, "A part of the form has too many or too long headers"),
        )

    def test_two_files(self) -> None:
        """
        A form with two files is refused.
        """
        body = form([], (WHEEL.filename, WHEEL.content))
        body = body.replace(b"--%s--\r\n" % BOUNDARY, b"") + form([], ("x.whl", b"x"))
        error = self.refused(body)
        self.assertEqual(
            (error.code, error.message), (400, "An upload holds exactly one file")
        )

    def test_file_too_large(self) -> None:
        """
        A file over the limit is refused with 413 once it grows past it.
        """
        error = self.refused(form([], ("big.whl", b"x" * (MAX_SIZE + 1))))
        self.assertEqual(error.code, 413)
        self.assertEqual(
            error.message,
            "big.whl is too large: files may have at most 65536 bytes",
        )
        with receive_form(
            io.BytesIO(form([], ("f.whl", b"x" * MAX_SIZE))),
            CONTENT_TYPE,
            self.directory,
            MAX_SIZE,
        ) as received:
            self.assertEqual(received.size, MAX_SIZE)

    def test_fields_allowance(self) -> None:
        """
        Text fields together over :data:`FIELDS_ALLOWANCE` are refused with
        413; up to it they are read.
        """
        half = FIELDS_ALLOWANCE // 2
        error = self.refused(form([("a", "x" * half), ("b", "x" * (half + 1))], None))
        self.assertEqual(
            (error.code, error.message), (413, "The form's fields are over 1 MiB")
        )
        body = form([("a", "x" * half), ("b", "x" * half)], None)
        with receive_form(
            io.BytesIO(body), CONTENT_TYPE, self.directory, MAX_SIZE
        ) as received:
            self.assertEqual(len(received.fields["b"][0]), half)
