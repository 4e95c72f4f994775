# -*- test-case-name: tests.upload.test_validate -*-
"""
Checking a received upload form before its file is stored: the action, a
valid and safe wheel or sdist filename, the ``name`` and ``version`` fields,
the digests the uploader sent, and the name and version in the file's own
metadata (``METADATA`` of a wheel, ``PKG-INFO`` of an sdist) must all agree.
"""

from __future__ import annotations

import base64
import re
import tarfile
import zipfile
from email.message import Message
from email.parser import BytesParser

from attrs import frozen
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
from twisted_pypi.upload.errors import UploadError
from twisted_pypi.upload.form import ReceivedForm

__all__ = ["CheckedFile", "check_upload", "distribution_identity"]

_PKG_INFO = re.compile(r"[^/]+/PKG-INFO")
_DIGESTS = (
    ("sha256_digest", "sha256"),
    ("blake2_256_digest", "blake2_256"),
    ("md5_digest", "md5"),
)


@frozen
class CheckedFile:
    """
    The file of an upload that passed every check.

    :ivar filename: Its name.
    :ivar spool: Where it waits to be stored.
    :ivar identity: Its :func:`distribution_identity`.
    """

    filename: str
    spool: str
    identity: tuple[object, ...]


def distribution_identity(filename: str) -> tuple[object, ...] | None:
    """
    What makes two filenames the same distribution: project, version and
    tags of a wheel; project and version of an sdist (one per release).

    :param filename: A file's name.
    :return: The identity, or ``None`` if ``filename`` is no valid wheel or
        sdist name.
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
    """
    A version from a form or metadata field.
    """
    try:
        return Version(text or "")
    except InvalidVersion:
        raise UploadError(400, f"{what} {text!r} is not a valid version") from None


def _metadata(path: str, filename: str) -> Message:
    """
    The ``METADATA`` of a wheel or ``PKG-INFO`` of an sdist.
    """
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


def _b64(digest: bytes) -> str:
    """
    A digest in URL-safe base64 without padding (lower-cased).
    """
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode().lower()


def _check_digests(form: ReceivedForm, filename: str) -> None:
    """
    At least one digest field is sent, as PyPI requires, and every one sent
    matches the file (hex, or URL-safe base64).
    """
    sent = [(f, a, (form.value(f) or "").lower()) for f, a in _DIGESTS]
    if not any(expected for _, _, expected in sent):
        raise UploadError(
            400,
            f"The upload of {filename} has no digest: send its sha256_digest"
            " (or blake2_256_digest or md5_digest), as twine and uv do",
        )
    for field_name, algorithm, expected in sent:
        actual = form.hashes[algorithm]
        if expected and expected not in (actual.hexdigest(), _b64(actual.digest())):
            raise UploadError(
                400,
                f"The {algorithm} digest of {filename} is {actual.hexdigest()}, not"
                f" {expected} as {field_name} says: the file was damaged on the way",
            )


def check_upload(form: ReceivedForm) -> CheckedFile:
    """
    Check a received upload (blocking: it reads the spooled file).

    :param form: The form, read whole.
    :return: The file, ready to be stored.
    :raise UploadError: If the upload is refused (400).
    """
    action = form.value(":action")
    if action != "file_upload":
        raise UploadError(400, f"':action' must be 'file_upload', not {action!r}")
    filename = form.filename
    if filename is None or form.spool is None:
        raise UploadError(400, "No file: the upload needs a 'content' part")
    identity = distribution_identity(filename)
    valid = filename.isascii() and is_distribution_filename(filename)
    if identity is None or not valid:
        raise UploadError(
            400,
            f"{filename!r} is not a valid wheel (.whl) or sdist (.tar.gz, .zip) name",
        )
    project, version = identity[0], identity[1]
    name = form.value("name")
    if name is None or normalize(name) != project:
        raise UploadError(400, f"The name {name!r} does not match the file {filename}")
    if _version(form.value("version"), "The version") != version:
        raise UploadError(
            400, f"The version {form.value('version')!r} does not match {filename}"
        )
    _check_digests(form, filename)
    metadata = _metadata(form.spool, filename)
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
    return CheckedFile(filename, form.spool, identity)
