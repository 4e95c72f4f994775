# -*- test-case-name: tests.files.test_commit -*-
"""
The commit phase of a download (see :mod:`twisted_pypi.files.flight`):
publishing its verified spool to the store, and what a failed publish means.

A store that is full (:class:`~twisted_pypi.storage.interfaces.StoreFull`),
or that cannot be reached (a shared store:
:class:`~twisted_pypi.storage.interfaces.StoreUnreachable`), published
nothing but leaves the verified spool intact: the download's clients still
get the file from it, uncached (:class:`~twisted_pypi.files.spec.NotCached`).
Any other failure fails the download.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred, succeed
from twisted.python.failure import Failure

from twisted_pypi.files.spec import DownloadError, NotCached
from twisted_pypi.storage.interfaces import (
    FileStat,
    IFileStore,
    ISpool,
    StoreFull,
    StoreUnreachable,
)

__all__ = ["DISK_FULL", "BeforeCommit", "commit_spool"]

#: Why a file is not cached when the store has no room for it.
DISK_FULL = "the disk is full"

#: Called once the file is verified, before the commit: a Deferred that
#: fires when the commit may go ahead (see
#: :meth:`twisted_pypi.files.cluster.FileSource.settle`); it never fails.
BeforeCommit = Callable[[], Deferred[None]]


def commit_spool(
    store: IFileStore,
    spool: ISpool,
    segments: tuple[str, ...],
    before_commit: BeforeCommit | None = None,
) -> Deferred[FileStat]:
    """
    Publish a verified spool as the file at ``segments``, once
    ``before_commit`` (if given) lets it.

    :param store: Where the file goes.
    :param spool: The verified file.
    :param segments: The file's key.
    :param before_commit: What to wait for before the commit, if anything.
    :return: A Deferred firing with the committed file's stat, or failing
        with :class:`NotCached` (the store is full or unreachable: the
        spool is intact, the file can be sent uncached) or with a
        :class:`DownloadError` (the commit failed otherwise).
    """

    def commit(ignored: None) -> Deferred[FileStat]:
        """Commit, once ``before_commit`` let it."""
        return store.commit(spool, segments)

    waiting = succeed(None) if before_commit is None else before_commit()
    return waiting.addCallback(commit).addErrback(_not_committed)


def _not_committed(reason: Failure) -> Failure:
    """
    :param reason: Why the store did not publish the file.
    :return: The download's failure: :class:`NotCached` if the verified
        file can still be sent, else a :class:`DownloadError`.
    """
    if reason.check(StoreFull):
        return Failure(NotCached(DISK_FULL))
    if reason.check(StoreUnreachable):
        return Failure(NotCached(f"the store failed: {reason.getErrorMessage()}"))
    return Failure(DownloadError(f"cannot commit: {reason.getErrorMessage()}"))
