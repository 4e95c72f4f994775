# -*- test-case-name: tests.storage.test_dirplace -*-
"""
A private index's files in a local directory (``--local NAME=DIR``).

A file added to the directory (by hand or by an upload) is found on the
next look, because the directory's modification time is checked on every
request (and the directory looked at again while it or a file in it
changed in the last seconds: a copy may be in progress, and a change may
fall in the same timestamp tick).  A new or changed file is hashed and its
metadata read once, in a thread.

Publishing hard-links the spooled upload to its name, which fails if the
name exists, so nothing is ever replaced and nothing partial is ever
visible (on file systems without hard links, a rename under a lock).
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from zope.interface import implementer

from twisted_pypi.core.names import project_of_filename
from twisted_pypi.core.runner import Runner
from twisted_pypi.storage import privateplace
from twisted_pypi.storage.privateplace import (
    IPrivatePlace,
    LocalFile,
    NameTaken,
    PlaceListing,
)
from twisted_pypi.storage.rangereader import LocalFileReader, open_path

__all__ = ["RACY_SECONDS", "DirectoryPlace", "publish_file"]

log = Logger()

#: A directory whose newest change is younger than this is looked at again on
#: the next request.
RACY_SECONDS = 2.0

_publishing = threading.Lock()
#: What ``link`` fails with on file systems without hard links.
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK}


def publish_file(
    spool: str,
    directory: str,
    filename: str,
    conflict: Callable[[Iterable[str]], str | None],
) -> None:
    """
    Give a spooled file its name in ``directory`` (blocking), unless
    ``conflict`` finds a file in the way or the name exists.

    :raise NameTaken: If so.
    """
    with _publishing:
        existing = conflict(os.listdir(directory))
        if existing is not None:
            raise NameTaken(existing)
        try:
            os.link(spool, os.path.join(directory, filename))
        except FileExistsError:
            raise NameTaken(filename) from None
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


@implementer(IPrivatePlace)
class DirectoryPlace:
    """
    A directory of wheels and sdists.

    :ivar where: The directory.
    """

    ttl = 0.0

    def __init__(self, path: str, run: Runner | None = None) -> None:
        """
        :param path: The directory, absolute.
        :param run: Runs hashing and archive reading away from the reactor;
            by default at once.
        """
        self.where = path
        self.spool_dir = path
        self._run = run
        self._dir_mtime: int | None = None

    def scan(self, known: Mapping[str, LocalFile]) -> Deferred[PlaceListing | None]:
        """
        See :meth:`IPrivatePlace.scan`; the directory is listed on the
        reactor (one ``scandir``), new files inspected by the runner.
        """
        try:
            mtime = os.stat(self.where).st_mtime_ns
            if mtime == self._dir_mtime:
                return succeed(None)
            entries = list(os.scandir(self.where))
        except OSError as e:
            return fail(e)
        return Deferred.fromCoroutine(self._look(known, mtime, entries))

    async def _look(
        self,
        known: Mapping[str, LocalFile],
        mtime: int,
        entries: list[os.DirEntry[str]],
    ) -> PlaceListing | None:
        found: dict[str, LocalFile] = {}
        unreadable: dict[str, str] = {}
        newest = mtime
        for entry in entries:
            project = project_of_filename(entry.name)
            if project is None:
                continue
            try:
                if not entry.is_file():
                    continue
                st = entry.stat()
                newest = max(newest, st.st_mtime_ns)
                old = known.get(entry.name)
                if old is not None and (old.size, old.mtime_ns) == (
                    st.st_size,
                    st.st_mtime_ns,
                ):
                    found[entry.name] = old
                    continue
                found[entry.name] = await self._inspect(entry.path, entry.name, project)
            except OSError as e:
                log.warn("Cannot read {path}: {error}", path=entry.path, error=e)
                unreadable[project] = f"cannot read {entry.name}: {e.strerror or e}"
        # A change this recent may go on (a copy in progress) or be followed by
        # one within the same timestamp tick: look again next time.
        racy = time.time_ns() - newest < RACY_SECONDS * 1e9
        self._dir_mtime = None if racy else mtime
        return PlaceListing(found, unreadable)

    async def _inspect(self, path: str, filename: str, project: str) -> LocalFile:
        if self._run is None:
            return privateplace.inspect_file(path, filename, project)
        result = await self._run(
            lambda: privateplace.inspect_file(path, filename, project)
        )
        assert isinstance(result, LocalFile)
        return result

    def open(self, file: LocalFile) -> LocalFileReader:
        """
        See :meth:`IPrivatePlace.open`.
        """
        return open_path(os.path.join(self.where, file.filename))

    def publish(
        self,
        spool: str,
        file: LocalFile,
        conflict: Callable[[Iterable[str]], str | None],
    ) -> Deferred[None]:
        """
        See :meth:`IPrivatePlace.publish`: :func:`publish_file`, by the
        runner.
        """

        def work() -> None:
            publish_file(spool, self.where, file.filename, conflict)

        if self._run is None:
            try:
                work()
            except Exception as e:
                return fail(e)
            return succeed(None)
        return self._run(work).addCallback(lambda _: None)
