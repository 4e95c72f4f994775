# -*- test-case-name: tests.files.test_download -*-
"""
Downloads in flight and the clients that follow them ("background fetch").

However many clients ask for an uncached file, one :class:`Download` runs.
It writes the upstream body straight to a temporary file (disk is the
buffer), verifies length and hash, and commits the file to the cache.  Each
client is a :class:`Follower`, a push producer reading that file at its own
offset, so a slow client slows neither the download nor the others, and
memory stays flat.  How the HTTP layer serves a ``GET`` of an uncached file
(``HEAD`` is never served by a download)::

    d = downloads.start_or_join(spec).serve(request)
    d.addErrback(answer_502_or_504, request)  # only if no header was sent
    return NOT_DONE_YET
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from enum import Enum, auto
from typing import Any, TypeVar

from attrs import define, field, frozen
from twisted.internet import error
from twisted.internet.defer import Deferred, TimeoutError, fail, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.web.client import PotentialDataLoss, ResponseDone
from twisted.web.iweb import UNKNOWN_LENGTH, IResponse
from twisted.web.server import Request

from twisted_pypi.files.follower import Follower
from twisted_pypi.storage.filecache import FileCache, Reservation
from twisted_pypi.upstream.client import UpstreamError, UpstreamTimeout
from twisted_pypi.web.fileserve import content_type

_log = Logger()
_T = TypeVar("_T")

#: sha256 (what indexes give) first, then the others, strongest first.
_HASHES = ("sha256", "sha512", "sha3_512", "blake2b", "sha384", "sha3_384",
           "sha3_256", "blake2s", "sha224", "sha3_224", "sha1", "md5")  # fmt: skip


class DownloadError(Exception):
    """
    A download failed for a local (disk) reason; nothing was cached.  An
    upstream's failure is an :class:`~twisted_pypi.upstream.client.UpstreamError`.
    """


class VerificationError(UpstreamError):
    """
    The body's length or hash differs from the index's (or from the
    upstream's own ``Content-Length``).
    """


@frozen
class FileSpec:
    """
    What the index says about a file to download.

    :ivar url: The upstream URL.
    :ivar segments: The file's place in the cache.
    :ivar size: The size the index gave, or ``None``.
    :ivar hashes: Hash name to hex digest, as the index gave them.
    """

    url: str
    segments: tuple[str, ...]
    size: int | None = None
    hashes: Mapping[str, str] = field(factory=dict)


@frozen
class DownloadStatus:
    """
    A snapshot of one download in flight (for a status page).

    :ivar url: The upstream URL.
    :ivar written: Bytes written to disk so far.
    :ivar expected_length: The expected length, if known.
    :ivar followers: How many clients are attached.
    """

    url: str
    written: int
    expected_length: int | None
    followers: int


class State(Enum):
    """Where a :class:`Download` is in its life."""

    WAITING = auto()  #: for the upstream's response headers
    STREAMING = auto()  #: the body is being written
    DONE = auto()  #: verified and committed
    FAILED = auto()  #: nothing cached; see ``failure``


def _observe(waiters: list[Deferred[_T]]) -> Deferred[_T]:
    """:return: A new Deferred, kept in ``waiters`` until fired or cancelled."""
    d: Deferred[_T] = Deferred(lambda d: waiters.remove(d) if d in waiters else None)
    waiters.append(d)
    return d


def _fire(waiters: list[Deferred[_T]], result: _T | Failure) -> None:
    """Fire and forget ``waiters``, each its own Deferred."""
    pending = waiters[:]
    del waiters[:]
    for d in pending:
        d.errback(result) if isinstance(result, Failure) else d.callback(result)


def _as_download_error(reason: Failure) -> Failure:
    """
    :return: ``reason`` as a :class:`DownloadError`: a timeout becomes an
        :class:`UpstreamTimeout`, anything else an :class:`UpstreamError`.
    """
    if reason.check(DownloadError, UpstreamError):
        return reason
    timeout = reason.check(TimeoutError, error.TimeoutError)
    exc = (UpstreamTimeout if timeout else UpstreamError)(reason.getErrorMessage())
    exc.__cause__ = reason.value
    return Failure(exc)


class _BodyWriter(Protocol):
    """Hands an upstream body to a :class:`Download`."""

    def __init__(self, download: Download) -> None:
        """:param download: Where the body goes."""
        self._download = download

    def dataReceived(self, data: bytes) -> None:
        """:param data: Body bytes."""
        self._download._chunk(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """:param reason: Why the body ended."""
        self._download._body_ended(reason)


@define(eq=False)
class Download:
    """
    One upstream download, written to a temporary file and followed by
    clients; made and started by :meth:`Downloads.start_or_join`.

    :ivar spec: What is downloaded.
    :ivar state: Where the download is.
    :ivar expected_length: The body's length, once known.
    :ivar written: Bytes written to disk (and readable) so far.
    :ivar failure: Why it failed (a :class:`DownloadError`), once it has.
    :ivar path: The committed file, once it succeeded.
    """

    spec: FileSpec
    _cache: FileCache
    _fetch: Callable[[str], Deferred[IResponse]]
    _clock: IReactorTime
    _idle_timeout: float
    _chunk_size: int
    _on_end: Callable[[Download], None]
    state: State = field(default=State.WAITING, init=False)
    expected_length: int | None = field(default=None, init=False)
    written: int = field(default=0, init=False)
    failure: Failure | None = field(default=None, init=False)
    path: FilePath[str] | None = field(default=None, init=False)
    _temp: FilePath[str] | None = field(default=None, init=False)
    _fd: int | None = field(default=None, init=False)
    _hash: tuple[Any, str] | None = field(default=None, init=False)
    _timer: IDelayedCall | None = field(default=None, init=False)
    _fetching: Deferred[None] | None = field(default=None, init=False)
    _writer: _BodyWriter | None = field(default=None, init=False)
    _reservation: Reservation | None = field(default=None, init=False)
    _followers: list[Follower] = field(factory=list, init=False)
    _started: list[Deferred[int | None]] = field(factory=list, init=False)
    _done: list[Deferred[FilePath[str]]] = field(factory=list, init=False)

    def status(self) -> DownloadStatus:
        """:return: A snapshot for a status page."""
        followers = len(self._followers)
        return DownloadStatus(
            self.spec.url, self.written, self.expected_length, followers
        )

    def start(self) -> None:
        """
        Issue the upstream request; called once, by :class:`Downloads`.  The
        idle timer runs from now, so it also catches a silent upstream.
        """
        self._cache.pin(self.spec.segments)
        if self.spec.size is not None:
            self._reservation = self._cache.reserve(self.spec.size)
        hashes = {k.lower(): v.lower() for k, v in self.spec.hashes.items()}
        for name in _HASHES:
            if name in hashes and name in hashlib.algorithms_guaranteed:
                self._hash = (hashlib.new(name), hashes[name])
                break
        self._timer = self._clock.callLater(self._idle_timeout, self._stalled)
        d = maybeDeferred(self._fetch, self.spec.url).addCallback(self._got_response)
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
        return _observe(self._started)

    def when_done(self) -> Deferred[FilePath[str]]:
        """
        :return: A new Deferred firing with the committed file's path, or
            failing with the :class:`DownloadError`.  Cancelling it does not
            affect the download.
        """
        if self.failure is not None:
            return fail(self.failure)
        if self.path is not None:
            return succeed(self.path)
        return _observe(self._done)

    def serve(self, request: Request) -> Deferred[None]:
        """
        Stream the file to a ``GET``: 200 from the first byte whatever
        ``Range`` says, no ``Accept-Ranges``, ``Content-Length`` when known.
        Headers go out when the upstream's 200 headers arrive (at once if
        they have).  If the download fails after that, the connection is
        aborted; a client that leaves just detaches (the download goes on).

        :param request: A ``GET``; the caller may have set headers (such as
            ``X-Cache``) but not written anything.
        :return: A Deferred firing with ``None`` once the request was dealt
            with (finished, aborted, or the client left), or failing with
            the :class:`DownloadError` if the download failed before any
            header was sent: then the caller answers (504 for
            :class:`UpstreamTimeout`, 502 for other :class:`UpstreamError`,
            else 500).  Cancelling it detaches the follower (and aborts the
            connection if headers were sent).
        :raise ValueError: For ``HEAD``: answer it without downloading.
        """
        if request.method == b"HEAD":
            raise ValueError("HEAD is not served by a download")
        if self.failure is not None:
            return fail(self.failure)
        follower = Follower(
            self, request, self._chunk_size, content_type(self.spec.segments[-1])
        )
        self._cache.pin(self.spec.segments)
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

    def open_reader(self) -> int:
        """
        :return: A new read-only descriptor on the file being written (or the
            committed file), for the caller to close.
        """
        path = self.path if self.path is not None else self._temp
        assert path is not None
        return os.open(path.path, os.O_RDONLY)

    def detach(self, follower: Follower) -> None:
        """
        Forget a follower, and its pin on the file.

        :param follower: One of this download's followers.
        """
        if follower in self._followers:
            self._followers.remove(follower)
            self._cache.unpin(self.spec.segments)

    def _got_response(self, response: IResponse) -> None:
        """Check the upstream's response and start writing its body."""
        self._writer = _BodyWriter(self)
        length = None if response.length is UNKNOWN_LENGTH else response.length
        size = self.spec.size
        problem: Exception | None = None
        if response.code != 200:
            problem = UpstreamError(f"upstream answered {response.code}")
        elif size is not None and length is not None and size != length:
            problem = VerificationError(f"upstream length {length}, index size {size}")
        else:
            try:
                self._temp, self._fd = self._cache.open_temp()
            except OSError as e:
                problem = DownloadError(f"cannot create a temporary file: {e}")
        if problem is not None:
            response.deliverBody(self._writer)  # ignored, and stopped by _fail
            self._fail(Failure(problem))
            return
        self.expected_length = size if size is not None else length
        if self._reservation is None and self.expected_length is not None:
            self._reservation = self._cache.reserve(self.expected_length)
        self.state = State.STREAMING
        self._reset_timer()
        for follower in self._followers[:]:
            follower.begin(self.expected_length)
        _fire(self._started, self.expected_length)
        response.deliverBody(self._writer)

    def _chunk(self, data: bytes) -> None:
        """Write a body chunk to disk, then tell the followers."""
        if self.state is not State.STREAMING or self._fd is None:
            return
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as e:
            self._fail(Failure(DownloadError(f"cannot write: {e}")))
            return
        # Unbuffered os.write: every reader's descriptor sees the bytes now,
        # so there is nothing to flush before telling the followers.
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

    def _body_ended(self, reason: Failure) -> None:
        """Verify and commit the file, or fail."""
        if self.state is not State.STREAMING:
            return
        expected, hashed = self.expected_length, self._hash
        if not reason.check(ResponseDone, PotentialDataLoss):
            why: Exception | None = UpstreamError(
                f"body cut short: {reason.getErrorMessage()}"
            )
        elif expected is not None and self.written != expected:
            why = VerificationError(f"got {self.written} bytes, expected {expected}")
        elif hashed is not None and hashed[0].hexdigest() != hashed[1]:
            why = VerificationError(f"{hashed[0].name} mismatch")
        else:
            why = None
        if why is not None:
            self._fail(Failure(why))
            return
        self._stop()
        assert self._temp is not None
        try:
            self.path = self._cache.commit(self._temp, self.spec.segments)
        except (OSError, ValueError) as e:
            self._fail(Failure(DownloadError(f"cannot commit: {e}")))
            return
        self.state = State.DONE
        self._temp = None
        self._on_end(self)
        self._cache.unpin(self.spec.segments)
        _log.info("Cached {url} ({size} bytes)", url=self.spec.url, size=self.written)
        for follower in self._followers[:]:
            follower.progress()
        _fire(self._done, self.path)

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
        """Release the timer, the write descriptor and the reservation."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._reservation is not None:
            self._reservation.release()
            self._reservation = None

    def _fail(self, reason: Failure) -> None:
        """
        Fail once: stop the upstream, delete the partial file, abort
        followers that got headers, tell everyone else.
        """
        if self.state in (State.DONE, State.FAILED):
            return
        self.failure = reason = _as_download_error(reason)
        self.state = State.FAILED
        self._stop()
        if self._fetching is not None and not self._fetching.called:
            self._fetching.cancel()
        if self._writer is not None and self._writer.transport is not None:
            self._writer.transport.stopProducing()  # type: ignore[attr-defined]
        if self._temp is not None:
            self._cache.discard(self._temp)
            self._temp = None
        self._on_end(self)
        self._cache.unpin(self.spec.segments)
        _log.warn(
            "Download of {url} failed after {written} bytes: {why}",
            url=self.spec.url,
            written=self.written,
            why=reason.getErrorMessage(),
        )
        for follower in self._followers[:]:
            follower.source_failed(reason)
        _fire(self._started, reason)
        _fire(self._done, reason)


@define
class Downloads:
    """
    The downloads in flight, at most one per file.

    :ivar cache: Where files go.
    :ivar fetch: Issues an upstream ``GET`` for a URL (``Accept-Encoding:
        identity``, with connect and header timeouts).
    :ivar clock: Runs the idle timers.
    :ivar idle_timeout: Seconds without upstream bytes before failing.
    :ivar chunk_size: The most bytes a follower reads and writes at once.
    """

    cache: FileCache
    fetch: Callable[[str], Deferred[IResponse]]
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
                spec, self.cache, self.fetch, self.clock,
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
