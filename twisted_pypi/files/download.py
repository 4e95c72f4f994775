# -*- test-case-name: tests.files.test_download -*-
"""
Downloads in flight and the clients that follow them ("background fetch").

However many clients ask for an uncached file, one :class:`Download` runs.
It writes the upstream body straight to a spool file of the store (disk is
the buffer), verifies length and hash, and commits the file to the store.
Each client is a :class:`~twisted_pypi.files.follower.Follower`, a push
producer reading the spool at its own offset into its own sink, so a slow
client slows neither the download nor the others, and memory stays flat.
The web layer attaches a request as a sink (see
:mod:`twisted_pypi.web.following`)::

    d = downloads.start_or_join(spec).follow(sink)
    d.addErrback(answer_502_or_504)  # only if the body did not start
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import define, field
from twisted.internet.defer import Deferred, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IConsumer, IDelayedCall, IProducer, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_pypi.files.follower import Follower
from twisted_pypi.files.interfaces import IFollowerSink
from twisted_pypi.files.spec import (
    DownloadError,
    DownloadStatus,
    FileSpec,
    State,
    UpstreamTimeout,
    VerificationError,
    as_download_error,
    body_problem,
    hasher_for,
    response_problem,
)
from twisted_pypi.files.waiters import fire, observe
from twisted_pypi.storage.interfaces import (
    FileStat,
    IFileStore,
    IReservation,
    ISpool,
    ISpoolReader,
)
from twisted_pypi.upstream.stream import StreamingResponse

# The records and errors are re-exported: callers of downloads use them.
__all__ = ["Download", "DownloadError", "Downloads", "FileSpec"]

_log = Logger()

#: Issues an upstream ``GET`` for a URL.
Fetch = Callable[[str], Deferred[StreamingResponse]]


@implementer(IConsumer)
class _SpoolWriter:
    """Takes an upstream body for a :class:`Download`."""

    def __init__(self, download: Download) -> None:
        """:param download: Where the body goes."""
        self._download = download

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """The upstream connection; never paused (disk is the buffer)."""

    def unregisterProducer(self) -> None:
        """The body ended."""

    def write(self, data: bytes) -> None:
        """:param data: Body bytes."""
        self._download._chunk(data)


@define(eq=False)
class Download:
    """
    One upstream download, written to a spool file and followed by clients;
    made and started by :meth:`Downloads.start_or_join`.

    :ivar spec: What is downloaded.
    :ivar state: Where the download is.
    :ivar expected_length: The body's length, once known.
    :ivar written: Bytes written to disk (and readable) so far.
    :ivar failure: Why it failed (a :class:`DownloadError`), once it has.
    :ivar stat: The committed file's stat, once it succeeded.
    """

    spec: FileSpec
    _store: IFileStore
    _fetch: Fetch
    _clock: IReactorTime
    _idle_timeout: float
    _chunk_size: int
    _on_end: Callable[[Download], None]
    state: State = field(default=State.WAITING, init=False)
    expected_length: int | None = field(default=None, init=False)
    written: int = field(default=0, init=False)
    failure: Failure | None = field(default=None, init=False)
    stat: FileStat | None = field(default=None, init=False)
    _spool: ISpool | None = field(default=None, init=False)
    _hash: tuple[Any, str] | None = field(default=None, init=False)
    _timer: IDelayedCall | None = field(default=None, init=False)
    _fetching: Deferred[None] | None = field(default=None, init=False)
    _body: Deferred[None] | None = field(default=None, init=False)
    _reservation: IReservation | None = field(default=None, init=False)
    _followers: list[Follower] = field(factory=list, init=False)
    _started: list[Deferred[int | None]] = field(factory=list, init=False)
    _done: list[Deferred[FileStat]] = field(factory=list, init=False)

    def status(self) -> DownloadStatus:
        """:return: A snapshot for a status page."""
        spec, followers = self.spec, len(self._followers)
        return DownloadStatus(spec.url, self.written, self.expected_length, followers)

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

    def follow(self, sink: IFollowerSink) -> Deferred[None]:
        """
        Stream the file into ``sink`` from its first byte.  The body starts
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
        follower = Follower(self, sink, self._chunk_size)
        self._store.pin(self.spec.segments)
        self._followers.append(follower)
        result = follower.attach()
        if self.state is not State.WAITING:
            follower.begin(self.expected_length)
        return result

    @property
    def complete(self) -> bool:
        """
        Whether the file was verified and committed (all bytes are written).
        """
        return self.state is State.DONE

    def open_reader(self) -> ISpoolReader:
        """
        :return: A new reader of the spool file (before and after the
            commit), for the caller to close.
        :raise OSError: If it cannot be opened.
        """
        if self._spool is None:
            raise OSError("nothing was written")
        return self._spool.open_reader()

    def detach(self, follower: Follower) -> None:
        """
        Forget a follower, and its pin on the file.

        :param follower: One of this download's followers.
        """
        if follower in self._followers:
            self._followers.remove(follower)
            self._store.unpin(self.spec.segments)

    def _got_response(self, response: StreamingResponse) -> None:
        """Check the upstream's response and start writing its body."""
        length, size = response.length, self.spec.size
        problem: Exception | None = response_problem(self.spec, response.code, length)
        if problem is None:
            try:
                self._spool = self._store.open_spool()
            except OSError as e:
                problem = DownloadError(f"cannot create a temporary file: {e}")
        if problem is not None:
            response.discard()
            self._fail(Failure(problem))
            return
        self.expected_length = size if size is not None else length
        if self._reservation is None and self.expected_length is not None:
            self._reservation = self._store.reserve(self.expected_length)
        self.state = State.STREAMING
        self._reset_timer()
        for follower in self._followers[:]:
            follower.begin(self.expected_length)
        fire(self._started, self.expected_length)
        body = self._body = response.stream_to(_SpoolWriter(self))
        body.addCallbacks(self._body_ended, self._body_failed)
        if self.state is State.FAILED and not body.called:
            body.cancel()  # it failed while the body was being delivered

    def _chunk(self, data: bytes) -> None:
        """Write a body chunk to the spool, then tell the followers."""
        if self.state is not State.STREAMING or self._spool is None:
            return
        try:
            self._spool.write(data)
        except OSError as e:
            self._fail(Failure(DownloadError(f"cannot write: {e}")))
            return
        # Every reader of the spool sees the bytes now, so there is nothing
        # to flush before telling the followers.
        self.written += len(data)
        if self._hash is not None:
            self._hash[0].update(data)
        expected = self.expected_length
        if expected is not None and self.written > expected:
            self._fail(Failure(VerificationError(f"more than {expected} bytes")))
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
        self.state = State.COMMITTING
        assert self._spool is not None
        d = maybeDeferred(self._store.commit, self._spool, self.spec.segments)
        d.addCallbacks(self._committed, self._commit_failed)

    def _commit_failed(self, reason: Failure) -> None:
        """The store could not publish the file."""
        why = f"cannot commit: {reason.getErrorMessage()}"
        self._fail(Failure(DownloadError(why)))

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
        why = f"no data from upstream for {self._idle_timeout} seconds"
        self._fail(Failure(UpstreamTimeout(why)))

    def _reset_timer(self) -> None:
        """Restart the idle timer."""
        if self._timer is not None:
            self._timer.reset(self._idle_timeout)

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
        if self.state in (State.DONE, State.FAILED):
            return
        self.failure = reason = as_download_error(reason)
        self.state = State.FAILED
        self._stop()
        if self._fetching is not None and not self._fetching.called:
            self._fetching.cancel()
        if self._body is not None and not self._body.called:
            self._body.cancel()
        if self._spool is not None:
            self._spool.discard()
        self._on_end(self)
        self._store.unpin(self.spec.segments)
        _log.warn(
            "Download of {url} failed after {written} bytes: {why}",
            url=self.spec.url,
            written=self.written,
            why=reason.getErrorMessage(),
        )
        for follower in self._followers[:]:
            follower.source_failed(reason)
        fire(self._started, reason)
        fire(self._done, reason)


@define
class Downloads:
    """
    The downloads in flight, at most one per file.

    :ivar store: Where files go.
    :ivar fetch: Issues an upstream ``GET`` for a URL (``Accept-Encoding:
        identity``, with connect and header timeouts), see
        :func:`twisted_pypi.upstream.stream.streaming`.
    :ivar clock: Runs the idle timers.
    :ivar idle_timeout: Seconds without upstream bytes before failing.
    :ivar chunk_size: The most bytes a follower reads and writes at once.
    """

    store: IFileStore
    fetch: Fetch
    clock: IReactorTime
    idle_timeout: float = 30.0
    chunk_size: int = 65536
    _active: dict[tuple[str, ...], Download] = field(factory=dict, init=False)

    def get(self, segments: tuple[str, ...]) -> Download | None:
        """
        :param segments: A file's place in the cache.
        :return: Its download in flight, or ``None``.
        """
        return self._active.get(tuple(segments))

    def start_or_join(self, spec: FileSpec) -> Download:
        """
        The download in flight for ``spec.segments``, started now if there
        is none (check the cache first: this always downloads).

        :param spec: The file.
        :return: The download (it may have failed at once).
        """
        download = self._active.get(spec.segments)
        if download is None:
            download = Download(
                spec, self.store, self.fetch, self.clock,
                self.idle_timeout, self.chunk_size, self._ended,
            )  # fmt: skip
            self._active[spec.segments] = download
            download.start()
        return download

    def in_flight(self) -> list[DownloadStatus]:
        """:return: A snapshot of every download in flight."""
        return [download.status() for download in self._active.values()]

    def _ended(self, download: Download) -> None:
        """Forget a download that succeeded or failed."""
        if self._active.get(download.spec.segments) is download:
            del self._active[download.spec.segments]
