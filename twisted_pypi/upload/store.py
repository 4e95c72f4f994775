# -*- test-case-name: tests.upload.test_store -*-
"""
Storing an upload to a local index's directory: the form is received (see
:mod:`~twisted_pypi.upload.form`), checked (see
:mod:`~twisted_pypi.upload.validate`), and its spooled file is hard-linked
to its name, which fails if the name exists, so nothing is ever replaced
and nothing partial is ever visible.  The spool is removed whatever happens.
"""

from __future__ import annotations

import errno
import os
import threading
from typing import IO

from attrs import frozen

from twisted_pypi.upload.errors import UploadError
from twisted_pypi.upload.form import receive_form
from twisted_pypi.upload.validate import check_upload, distribution_identity

__all__ = ["Stored", "store_upload"]

_publishing = threading.Lock()
#: What ``link`` fails with on file systems without hard links.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}


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


def _publish(
    spool: str, directory: str, filename: str, identity: tuple[object, ...]
) -> None:
    """
    Give the file its name, unless it or the same distribution exists.
    """
    with _publishing:
        for existing in os.listdir(directory):
            if existing != filename and distribution_identity(existing) != identity:
                continue
            raise UploadError(
                409,
                f"{existing} already exists in this index; files are never"
                " replaced: upload a new version",
            )
        try:
            os.link(spool, os.path.join(directory, filename))
        except FileExistsError:
            raise UploadError(409, f"{filename} already exists in this index") from None
        except OSError as e:
            if e.errno not in _NO_LINKS:
                raise
            # No hard links here: the check above, under the lock, stands in.
            os.rename(spool, os.path.join(directory, filename))
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
    with receive_form(body, content_type, directory, max_size) as form:
        file = check_upload(form)
        _publish(file.spool, directory, file.filename, file.identity)
        return Stored(file.filename, form.size, form.hashes["sha256"].hexdigest())
