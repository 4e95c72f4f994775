# -*- test-case-name: tests.files.test_download -*-
"""
One download in flight: the upstream body written to the store's spool (or,
past a full store, passed through memory) and verified (see
:mod:`~twisted_pypi.files.intake`), committed (see
:mod:`~twisted_pypi.files.commit`), and followed by clients; see
:mod:`twisted_pypi.files.download`.
"""

from __future__ import annotations

from collections.abc import Callable

from attrs import define, field
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pypi.files.commit import DISK_FULL, BeforeCommit, commit_spool
from twisted_pypi.files.follower import Follower
from twisted_pypi.files.intake import Fetch, Intake
from twisted_pypi.files.interfaces import IFollowerSink
from twisted_pypi.files.spec import (
    DownloadStatus,
    FileSpec,
    NotCached,
    State,
    as_download_error,
    failure_words,
    source_of,
)
from twisted_pypi.files.waiters import fire, observe
from twisted_pypi.storage.interfaces import FileStat, IFileStore, ISpoolReader

__all__ = ["Download"]

_log = Logger()


@define(eq=False)
class Download:
    """
    One upstream download, written to a spool file and followed by clients;
    made and started by :meth:`Downloads.start_or_join`.

    :ivar spec: What is downloaded.
    :ivar state: Where the download is.
    :ivar failure: Why it failed (a :class:`DownloadError`), once it has.
    :ivar stat: The committed file's stat, once it succeeded.
    :ivar released: Whether the followers were given the last byte before
        the commit ended: the file is verified and the commit takes time
        (an upload to a shared store), so the clients need not wait for it.
    """

    spec: FileSpec
    _store: IFileStore
    _fetch: Fetch
    _clock: IReactorTime
    _idle_timeout: float
    _chunk_size: int
    _on_end: Callable[[Download], None]
    _before_commit: BeforeCommit | None = None
    state: State = field(default=State.WAITING, init=False)
    failure: Failure | None = field(default=None, init=False)
    stat: FileStat | None = field(default=None, init=False)
    released: bool = field(default=False, init=False)
    _intake: Intake = field(init=False)
    _followers: list[Follower] = field(factory=list, init=False)
    _started: list[Deferred[int | None]] = field(factory=list, init=False)
    _done: list[Deferred[FileStat]] = field(factory=list, init=False)

    def __attrs_post_init__(self) -> None:
        """Make the intake of the upstream body."""
        self._intake = Intake(
            self.spec,
            self._store,
            self._fetch,
            self._clock,
            self._idle_timeout,
            followed=lambda: len(self._followers),
            began=self._began,
            received=self._received,
            verified=self._verified,
            failed=self._fail,
        )

    @property
    def expected_length(self) -> int | None:
        """The body's length, once known."""
        return self._intake.expected_length

    @property
    def written(self) -> int:
        """
        Bytes received so far, all readable by followers (from the spool,
        or from memory when passing through).
        """
        return self._intake.written

    def status(self) -> DownloadStatus:
        """:return: A snapshot for a status page."""
        spec, followers = self.spec, len(self._followers)
        return DownloadStatus(
            spec.url, self.written, self.expected_length, followers, self.cached
        )

    @property
    def cached(self) -> bool:
        """
        Whether the file is, or will be, cached: not when it passes through.
        """
        return not self._intake.outlet.passing and self.state is not State.PASSED

    @property
    def joinable(self) -> bool:
        """
        Whether a new client can follow from the first byte: not once the
        download passes through (the spool, and the bytes read, are gone).
        """
        return self.cached

    def start(self) -> None:
        """
        Issue the upstream request; called once, by :class:`Downloads`.  The
        idle timer runs from now, so it also catches a silent upstream.
        """
        self._store.pin(self.spec.segments)
        self._intake.start()

    def when_started(self) -> Deferred[int | None]:
        """
        :return: A new Deferred firing with the expected length (or ``None``)
            once the upstream's 200 headers arrived, or failing with the
            :class:`DownloadError` if the download fails first.  Cancelling
            it does not affect the download.
        """
        if self.failure is not None:
            return fail(self.failure)
        if self.state is not State.WAITING:
            return succeed(self.expected_length)
        return observe(self._started)

    def when_done(self) -> Deferred[FileStat]:
        """
        :return: A new Deferred firing with the committed file's stat, or
            failing with the :class:`DownloadError`.  Cancelling it does not
            affect the download.
        """
        if self.failure is not None:
            return fail(self.failure)
        if self.stat is not None:
            return succeed(self.stat)
        return observe(self._done)

    def follow(
        self, sink: IFollowerSink, first: int = 0, stop: int | None = None
    ) -> Deferred[None]:
        """
        Stream the file into ``sink`` from byte ``first`` (up to ``stop``,
        exclusive, if given: see :class:`Follower`).  The body starts
        when the upstream's 200 headers arrive (at once if they have).  If
        the download fails after that, the sink is aborted; a sink that
        closes (the client left) just detaches (the download goes on).

        :param sink: Where the bytes go.
        :return: A Deferred firing with ``None`` once the sink was dealt
            with (finished, aborted, or closed), or failing with the
            :class:`DownloadError` if the download failed before the body
            started: then the caller answers.  Cancelling it detaches the
            follower (and aborts the sink if the body started).
        """
        if self.failure is not None:
            return fail(self.failure)
        follower = Follower(self, sink, self._chunk_size, first, stop)
        self._store.pin(self.spec.segments)
        self._followers.append(follower)
        result = follower.attach()
        if self.state is not State.WAITING:
            follower.begin(self.expected_length)
        return result

    @property
    def complete(self) -> bool:
        """
        Whether the file was verified and all its bytes are readable, and
        either committed, passed through, or :attr:`released` (verified,
        being committed).
        """
        return self.released or self.state in (State.DONE, State.PASSED)

    def open_reader(self, position: int = 0) -> ISpoolReader:
        """
        :param position: The first byte the caller will read.
        :return: A new reader of the file from there (the spool, before and
            after the commit; memory when passing through), for the caller
            to close.
        :raise OSError: If it cannot be opened.
        """
        if self._intake.outlet.spool is None and not self._intake.outlet.passing:
            raise OSError("nothing was written")
        return self._intake.outlet.open_reader(position)

    def detach(self, follower: Follower) -> None:
        """
        Forget a follower, and its pin on the file.  A download passing
        through stops when its last follower leaves.

        :param follower: One of this download's followers.
        """
        if follower in self._followers:
            self._followers.remove(follower)
            self._store.unpin(self.spec.segments)
            if not self._followers and self._intake.outlet.passing:
                why = "the disk is full, and every client left"
                self._fail(Failure(NotCached(why)))

    def _began(self) -> None:
        """The upstream's 200 headers came: the followers' bodies begin."""
        self.state = State.STREAMING
        for follower in self._followers[:]:
            follower.begin(self.expected_length)
        fire(self._started, self.expected_length)

    def _received(self) -> None:
        """More of the body is readable: tell the followers."""
        for follower in self._followers[:]:
            follower.progress()

    def _verified(self) -> None:
        """The whole body came and was verified: commit the file."""
        if self._intake.outlet.passing:
            self._passed()
            return
        self.state = State.COMMITTING
        spool, segments = self._intake.outlet.spool, self.spec.segments
        assert spool is not None
        d = commit_spool(self._store, spool, segments, self._before_commit)
        d.addCallbacks(self._committed, self._commit_failed)
        if self.state is State.COMMITTING:  # a rename is done by now; an upload is not
            self.released = True
            for follower in self._followers[:]:
                follower.progress()

    def _commit_failed(self, reason: Failure) -> None:
        """
        The store did not publish the file; if it said why the file is not
        cached (see :func:`commit_spool`), the followers still get the
        verified file from the spool.
        """
        if reason.check(NotCached):
            self._passed(reason.getErrorMessage())
        else:
            self._fail(reason)

    def _passed(self, why: str = DISK_FULL) -> None:
        """
        The file was verified but is not cached: finish the followers, fail
        the waiters for the file's stat with :class:`NotCached`.

        :param why: Why it is not cached.
        """
        self.state = State.PASSED
        self.failure = failure = Failure(NotCached(why))
        self._intake.outlet.drop()
        self._on_end(self)
        self._store.unpin(self.spec.segments)
        _log.info(
            "Sent {url} ({size} bytes) without caching it: {why}",
            url=self.spec.url,
            size=self.written,
            why=why,
        )
        for follower in self._followers[:]:
            follower.progress()
        fire(self._done, failure)

    def _committed(self, stat: FileStat) -> None:
        """The file is in the store: finish the followers."""
        self.state = State.DONE
        self.stat = stat
        self._on_end(self)
        self._store.unpin(self.spec.segments)
        _log.info("Cached {url} ({size} bytes)", url=self.spec.url, size=self.written)
        for follower in self._followers[:]:
            follower.progress()
        fire(self._done, stat)

    def _fail(self, reason: Failure) -> None:
        """
        Fail once: stop the upstream, delete the spool, abort followers
        whose body started, tell everyone else.
        """
        if self.state in (State.DONE, State.PASSED, State.FAILED):
            return
        self.failure = reason = as_download_error(reason)
        streaming = self.state is State.STREAMING
        self.state = State.FAILED
        self._intake.stop()
        self._intake.outlet.drop()
        self._on_end(self)
        self._store.unpin(self.spec.segments)
        name, host = source_of(self.spec.url)
        _log.warn(
            "Download of {file} from {host} failed: {why}",
            file=name,
            host=host,
            url=self.spec.url,
            written=self.written,
            why=failure_words(
                reason, self.written, self.expected_length, streaming=streaming
            ),
        )
        if not self.released:  # else they read the verified spool on, and finish
            for follower in self._followers[:]:
                follower.source_failed(reason)
        fire(self._started, reason)
        fire(self._done, reason)
