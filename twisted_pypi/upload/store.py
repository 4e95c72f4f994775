# -*- test-case-name: tests.upload.test_store -*-
"""
Storing an upload in a private index's place: the form is received (see
:mod:`~twisted_pypi.upload.form`), checked (see
:mod:`~twisted_pypi.upload.validate`) and its facts found (hash, core
metadata) in a thread, then the spooled file is published to the index's
place (:meth:`~twisted_pypi.storage.privateplace.IPrivatePlace.publish`),
whole and create-only, so nothing is ever replaced and nothing partial is
ever visible, and the index lists it at once.  The spool is removed
whatever happens.

:func:`store_upload` does all of it, blocking, for a plain directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import IO

from attrs import frozen

from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.storage.dirplace import publish_file
from twisted_pypi.storage.interfaces import StoreUnreachable
from twisted_pypi.storage.privateplace import LocalFile, NameTaken, inspect_file
from twisted_pypi.upload.errors import UploadError
from twisted_pypi.upload.form import receive_form
from twisted_pypi.upload.validate import check_upload, distribution_identity

__all__ = [
    "Received",
    "Stored",
    "publish_upload",
    "receive_upload",
    "store_upload",
]


@frozen
class Stored:
    """
    A file that was uploaded.

    :ivar filename: Its name in the index.
    :ivar size: Its size in bytes.
    :ivar sha256: Its sha256, hex.
    """

    filename: str
    size: int
    sha256: str


@frozen
class Received:
    """
    An upload that passed every check, spooled, with its facts.

    :ivar spool: The spooled file (remove it with :meth:`discard`).
    :ivar file: Its facts, as the index will list it.
    :ivar identity: Its
        :func:`~twisted_pypi.upload.validate.distribution_identity`.
    """

    spool: str
    file: LocalFile
    identity: tuple[object, ...]

    def discard(self) -> None:
        """
        Remove the spool (blocking; harmless if it is gone).
        """
        try:
            os.unlink(self.spool)
        except FileNotFoundError:
            pass


def _conflict(
    filename: str, identity: tuple[object, ...]
) -> Callable[[Iterable[str]], str | None]:
    """
    What finds a file in the way of ``filename``: the same name, or the same
    distribution under another name.
    """

    def find(names: Iterable[str]) -> str | None:
        for existing in names:
            if existing == filename or distribution_identity(existing) == identity:
                return existing
        return None

    return find


def _taken(existing: str) -> UploadError:
    return UploadError(
        409,
        f"{existing} already exists in this index; files are never"
        " replaced: upload a new version",
    )


def receive_upload(
    body: IO[bytes], content_type: bytes, spool_dir: str, max_size: int
) -> Received:
    """
    Receive and check an upload form, and find its file's facts (blocking:
    run it in a thread).  Nothing is left in ``spool_dir`` unless this
    succeeds.

    :param body: The request body, at its start.
    :param content_type: The request's ``Content-Type``.
    :param spool_dir: Where the file is spooled.
    :param max_size: The largest file accepted.
    :raises UploadError: If the upload is refused.
    """
    with receive_form(body, content_type, spool_dir, max_size) as form:
        checked = check_upload(form)
        project = str(checked.identity[0])
        facts = inspect_file(
            checked.spool,
            checked.filename,
            project,
            sha256=form.hashes["sha256"].hexdigest(),
        )
        return Received(form.keep_spool(), facts, checked.identity)


async def publish_upload(index: LocalIndex, received: Received) -> Stored:
    """
    Publish a received upload to the index's place, and list it at once.

    :param index: The private index.
    :param received: The upload (its spool is left to the caller).
    :raises UploadError: 409 if the file or its distribution is there
        already, 503 if the place cannot be reached.
    """
    file = received.file
    conflict = _conflict(file.filename, received.identity)
    try:
        await index.publishing.run(index.place.publish, received.spool, file, conflict)
    except NameTaken as e:
        raise _taken(e.existing) from None
    except StoreUnreachable as e:
        raise UploadError(503, f"The upload could not be stored: {e}") from None
    index.added(file)
    return Stored(file.filename, file.size, file.sha256)


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
        try:
            publish_file(
                file.spool,
                directory,
                file.filename,
                _conflict(file.filename, file.identity),
            )
        except NameTaken as e:
            raise _taken(e.existing) from None
        return Stored(file.filename, form.size, form.hashes["sha256"].hexdigest())
