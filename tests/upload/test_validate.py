"""
Tests for :mod:`twisted_pypi.upload.validate`: what makes two files the same
distribution, and the checks of a received form (the web tests,
``tests/web/test_upload.py``, cover each refusal through HTTP).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TypeVar

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.uploadforms import CONTENT_TYPE, SDIST, WHEEL, sdist_with, upload_body
from twisted_pypi.upload.errors import UploadError
from twisted_pypi.upload.form import ReceivedForm, receive_form
from twisted_pypi.upload.validate import check_upload, distribution_identity

T = TypeVar("T")


class IdentityTests(SynchronousTestCase):
    """
    Wheels are one distribution per project, version and tags; sdists one
    per project and version.
    """

    def test_wheels(self) -> None:
        """
        Spellings of one wheel are the same; other tags are another wheel.
        """
        self.assertEqual(
            distribution_identity("Demo.Pkg-1.0-py3-none-any.whl"),
            distribution_identity("demo_pkg-1.0.0-py3-none-any.whl"),
        )
        self.assertNotEqual(
            distribution_identity("demo_pkg-1.0-py3-none-any.whl"),
            distribution_identity("demo_pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"),
        )

    def test_sdists(self) -> None:
        """
        A ``.tar.gz`` and a ``.zip`` of one release are the same sdist.
        """
        self.assertEqual(
            distribution_identity("demo-pkg-1.0.tar.gz"),
            distribution_identity("demo_pkg-1.0.zip"),
        )

    def test_not_a_distribution(self) -> None:
        """
        Other names have no identity.
        """
        for name in ("demo.whl", "demo_pkg-1.0.egg", "demo_pkg-one.tar.gz", "x"):
            self.assertIsNone(distribution_identity(name), name)


class CheckTests(SynchronousTestCase):
    """
    A form whose fields, file and metadata agree passes; else it is refused.
    """

    def checked(self, body: bytes, check: Callable[[ReceivedForm], T]) -> T:
        """
        ``check`` applied to the form ``body`` received in a new directory.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        stream = io.BytesIO(body)
        with receive_form(stream, CONTENT_TYPE, directory.path, 1 << 20) as form:
            return check(form)

    def test_wheel(self) -> None:
        """
        twine's form for a wheel passes: the checked file has the form's
        filename, the spool and the wheel's identity.
        """

        def check(form: ReceivedForm) -> None:
            checked = check_upload(form)
            self.assertEqual(checked.filename, WHEEL.filename)
            self.assertEqual(checked.spool, form.spool)
            self.assertEqual(checked.identity, distribution_identity(WHEEL.filename))

        self.checked(upload_body(WHEEL), check)

    def test_sdist(self) -> None:
        """
        An sdist's ``PKG-INFO`` is read and agrees.
        """
        checked = self.checked(upload_body(SDIST, name="demo-pkg"), check_upload)
        self.assertEqual(checked.filename, SDIST.filename)

    def test_metadata_disagrees(self) -> None:
        """
        An sdist whose ``PKG-INFO`` has another version is refused with 400.
        """
        sdist = sdist_with(
            b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 2.0\n", SDIST.filename
        )
        error = self.assertRaises(
            UploadError, self.checked, upload_body(sdist), check_upload
        )
        self.assertEqual(error.code, 400)
        self.assertIn("has version '2.0', not 1.0", error.message)
