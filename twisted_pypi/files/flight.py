# -*- test-case-name: tests.files.test_download -*-
"""
One download in flight: the upstream body written to the store's spool (or,
past a full store, passed through memory), verified, committed, and followed
by clients; see :mod:`twisted_pypi.files.download`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import define, field
from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pypi.files.follower import Follower
from twisted_pypi.files.interfaces import IFollowerSink
from twisted_pypi.files.outlet import Outlet
from twisted_pypi.files.spec import (
    DownloadError,
    DownloadStatus,
    FileSpec,
    NotCached,
    State,
    UpstreamTimeout,
    VerificationError,
    as_download_error,
    body_problem,
    failure_words,
    hasher_for,
    response_problem,
    source_of,
)
from twisted_pypi.files.waiters import fire, observe
from twisted_pypi.storage.interfaces import (
    FileStat,
    IFileStore,
    IReservation,
    ISpoolReader,
    StoreFull,
    StoreUnreachable,
)
from twisted_pypi.upstream.stream import StreamingResponse

__all__ = ["Download", "Fetch"]

_log = Logger()

#: Issues an upstream ``GET`` for a URL.
Fetch = Callable[[str], Deferred[StreamingResponse]]

#: Called once the file is verified, before the commit: a Deferred that
#: fires when the commit may go ahead (see
#: :meth:`twisted_pypi.files.cluster.FileSource.settle`); it never fails.
BeforeCommit = Callable[[], Deferred[None]]


@define(eq=False)
class Download:
    """
    One upstream download, written to a spool file and followed by clients;
    made and started by :meth:`Downloads.start_or_join`.

    :ivar spec: What is downloaded.
    :ivar state: Where the download is.
    :ivar expected_length: The body's length, once known.
    :ivar written: Bytes received so far, all readable by followers (from
        the spool, or from memory when passing through).
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
    expected_length: int | None = field(default=None, init=False)
    written: int = field(default=0, init=False)
    failure: Failure | None = field(default=None, init=False)
    stat: FileStat | None = field(default=None, init=False)
    released: bool = field(default=False, init=False)
    _hash: tuple[Any, str] | None = field(default=None, init=False)
    _timer: IDelayedCall | None = field(default=None, init=False)
    _fetching: Deferred[None] | None = field(default=None, init=False)
    _body: Deferred[None] | None = field(default=None, init=False)
    _reservation: IReservation | None = field(default=None, init=False)
    _outlet: Outlet = field(init=False)
    _followers: list[Follower] = field(factory=list, init=False)
    _started: list[Deferred[int | None]] = field(factory=list, init=False)
    _done: list[Deferred[FileStat]] = field(factory=list, init=False)

    def __attrs_post_init__(self) -> None:
        """Make the outlet the body goes to."""
        self._outlet = Outlet(self._store, self._chunk, self._upstream_paused)

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
        return not self._outlet.passing and self.state is not State.PASSED

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
        if self.spec.size is not None:
            self._reservation = self._store.reserve(self.spec.size)
        self._hash = hasher_for(self.spec.hashes)
        self._timer = self._clock.callLater(self._idle_timeout, self._stalled)
        fetch_url = self.spec.fetch_url  # with the link's credentials, if any
        d = maybeDeferred(self._fetch, fetch_url).addCallback(self._got_response)
        self._fetching = d.addErrback(self._fail)

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
        if self._outlet.spool is None and not self._outlet.passing:
            raise OSError("nothing was written")
        return self._outlet.open_reader(position)

    def detach(self, follower: Follower) -> None:
        """
        Forget a follower, and its pin on the file.  A download passing
        through stops when its last follower leaves.

        :param follower: One of this download's followers.
        """
        if follower in self._followers:
            self._followers.remove(follower)
            self._store.unpin(self.spec.segments)
            if not self._followers and self._outlet.passing:
                why = "the disk is full, and every client left"
                self._fail(Failure(NotCached(why)))

    def _got_response(self, response: StreamingResponse) -> None:
        """Check the upstream's response and start writing its body."""
        length, size = response.length, self.spec.size
        problem: Exception | None = response_problem(self.spec, response.code, length)
        expected = size if size is not None else length
        spooled = False
        if problem is None:
            try:
                spooled = self._outlet.open(expected)
            except OSError as e:
                problem = DownloadError(f"cannot create a temporary file: {e}")
        if problem is None and not spooled and not self._followers:
            problem = NotCached("the disk is full")
        if problem is not None:
            response.discard()
            self._fail(Failure(problem))
            return
        self.expected_length = expected
        if not spooled:
            self._pass_through()
        elif self._reservation is None and expected is not None:
            self._reservation = self._store.reserve(expected)
        self.state = State.STREAMING
        self._reset_timer()
        for follower in self._followers[:]:
            follower.begin(self.expected_length)
        fire(self._started, self.expected_length)
        body = self._body = response.stream_to(self._outlet)
        body.addCallbacks(self._body_ended, self._body_failed)
        if self.state is State.FAILED and not body.called:
            body.cancel()  # it failed while the body was being delivered

    def _pass_through(self) -> None:
        """
        The store is full: drop the spool (its readers read on) and hand
        the rest of the body to the followers through memory.
        """
        self._outlet.pass_through(self.written)
        if self._reservation is not None:
            self._reservation.release()
            self._reservation = None
        _log.info(
            "Sending {url} to {clients} client(s) without caching it: the disk is full",
            url=self.spec.url,
            clients=len(self._followers),
        )

    def _chunk(self, data: bytes) -> None:
        """Write a body chunk to the spool (or memory), then tell the followers."""
        if self.state is not State.STREAMING:
            return
        try:
            taken = self._outlet.take(data, self.written, self.expected_length)
            if not taken and self._followers:
                self._pass_through()
                taken = self._outlet.take(data, self.written, self.expected_length)
        except OSError as e:
            why = f"could not write to the cache: {e.strerror or e}"
            self._fail(Failure(DownloadError(why)))
            return
        if not taken:
            self._fail(Failure(NotCached("the disk is full")))
            return
        # Every reader sees the bytes now, so there is nothing to flush
        # before telling the followers.
        self.written += len(data)
        if self._hash is not None:
            self._hash[0].update(data)
        expected = self.expected_length
        if expected is not None and self.written > expected:
            why = f"the upstream sent more than the {expected:,} bytes expected"
            self._fail(Failure(VerificationError(why)))
            return
        self._reset_timer()
        for follower in self._followers[:]:
            follower.progress()

    def _body_failed(self, reason: Failure) -> None:
        """The body was cut short (or we stopped it, having failed)."""
        if self.state is State.STREAMING:
            self._fail(reason)

    def _body_ended(self, ignored: None) -> None:
        """Verify and commit the file, or fail."""
        if self.state is not State.STREAMING:
            return
        why = body_problem(self.written, self.expected_length, self._hash)
        if why is not None:
            self._fail(Failure(why))
            return
        self._stop()
        if self._outlet.passing:
            self._passed()
            return
        self.state = State.COMMITTING
        spool, segments = self._outlet.spool, self.spec.segments
        assert spool is not None
        d = succeed(None) if self._before_commit is None else self._before_commit()
        d.addCallback(lambda _: self._store.commit(spool, segments))
        d.addCallbacks(self._committed, self._commit_failed)
        if self.state is State.COMMITTING:  # a rename is done by now; an upload is not
            self.released = True
            for follower in self._followers[:]:
                follower.progress()

    def _commit_failed(self, reason: Failure) -> None:
        """
        The store could not publish the file; if it is full, or could not
        be reached (a shared store), the followers still get the verified
        file from the spool.
        """
        if reason.check(StoreFull):
            self._passed()
            return
        if reason.check(StoreUnreachable):
            self._passed(f"the store failed: {reason.getErrorMessage()}")
            return
        why = f"cannot commit: {reason.getErrorMessage()}"
        self._fail(Failure(DownloadError(why)))

    def _passed(self, why: str = "the disk is full") -> None:
        """
        The file was verified but is not cached: finish the followers, fail
        the waiters for the file's stat with :class:`NotCached`.

        :param why: Why it is not cached.
        """
        self.state = State.PASSED
        self.failure = failure = Failure(NotCached(why))
        self._outlet.drop()
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

    def _stalled(self) -> None:
        """The idle timer ran out."""
        self._timer = None
        why = f"the upstream sent nothing for {self._idle_timeout:g} s"
        self._fail(Failure(UpstreamTimeout(why)))

    def _reset_timer(self) -> None:
        """Restart the idle timer."""
        if self._timer is not None:
            self._timer.reset(self._idle_timeout)

    def _upstream_paused(self, paused: bool) -> None:
        """
        The outlet paused the upstream for a lagging follower (stop the idle
        timer), or resumed it (restart the timer).
        """
        if paused and self._timer is not None:
            self._timer.cancel()
            self._timer = None
        elif not paused and self._timer is None and self.state is State.STREAMING:
            self._timer = self._clock.callLater(self._idle_timeout, self._stalled)

    def _stop(self) -> None:
        """Release the timer and the reservation."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._reservation is not None:
            self._reservation.release()
            self._reservation = None

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
        self._stop()
        if self._fetching is not None and not self._fetching.called:
            self._fetching.cancel()
        if self._body is not None and not self._body.called:
            self._body.cancel()
        self._outlet.drop()
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
