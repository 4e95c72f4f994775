# -*- test-case-name: tests.files.test_intake,tests.files.test_flight -*-
"""
The upstream side of a download in flight (see
:mod:`twisted_pypi.files.flight`): the request, the checks of the response,
the body written to the outlet (the store's spool; past a full store,
memory, when someone follows), the checks of the body against the index's
size and hash, and the idle timer.

The download owns what follows: it is told when the body begins, when more
of it is readable, when the whole of it came and was verified, and why it
failed; it stops the intake when it fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import define, field
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pypi.files.commit import DISK_FULL
from twisted_pypi.files.idle import IdleTimer
from twisted_pypi.files.outlet import Outlet
from twisted_pypi.files.spec import (
    DownloadError,
    FileSpec,
    NotCached,
    UpstreamTimeout,
    VerificationError,
    body_problem,
    hasher_for,
    response_problem,
)
from twisted_pypi.storage.interfaces import IFileStore, IReservation
from twisted_pypi.upstream.stream import StreamingResponse

__all__ = ["Fetch", "Intake"]

_log = Logger()

#: Issues an upstream ``GET`` for a URL.
Fetch = Callable[[str], Deferred[StreamingResponse]]


@define(eq=False)
class Intake:
    """
    One file's upstream request and body, for its download.

    :ivar outlet: Where the body goes, for the followers to read.
    :ivar expected_length: The body's length, once known.
    :ivar written: Bytes received so far, all readable by followers (from
        the spool, or from memory when passing through).
    """

    _spec: FileSpec
    _store: IFileStore
    _fetch: Fetch
    _clock: IReactorTime
    _idle_timeout: float
    #: How many clients follow the download (a full store is passed
    #: through only to followers).
    _followed: Callable[[], int]
    #: Told when the upstream's 200 headers came: the body begins.
    _began: Callable[[], None]
    #: Told when more of the body is readable.
    _received: Callable[[], None]
    #: Told when the whole body came and was verified.
    _verified: Callable[[], None]
    #: Told why the download fails (once or more: it ignores the rest).
    _failed: Callable[[Failure], None]
    outlet: Outlet = field(init=False)
    expected_length: int | None = field(default=None, init=False)
    written: int = field(default=0, init=False)
    _idle: IdleTimer = field(init=False)
    _hash: tuple[Any, str] | None = field(default=None, init=False)
    _fetching: Deferred[None] | None = field(default=None, init=False)
    _body: Deferred[None] | None = field(default=None, init=False)
    _reservation: IReservation | None = field(default=None, init=False)
    _receiving: bool = field(default=False, init=False)
    _stopped: bool = field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        """Make the outlet the body goes to, and the idle timer."""
        self.outlet = Outlet(self._store, self._chunk, self._upstream_paused)
        self._idle = IdleTimer(self._clock, self._idle_timeout, self._stalled)

    def start(self) -> None:
        """
        Reserve room for the file if its size is known, and issue the
        upstream request.  The idle timer runs from now, so it also catches
        a silent upstream.
        """
        if self._spec.size is not None:
            self._reservation = self._store.reserve(self._spec.size)
        self._hash = hasher_for(self._spec.hashes)
        self._idle.start()
        fetch_url = self._spec.fetch_url  # with the link's credentials, if any
        d = maybeDeferred(self._fetch, fetch_url).addCallback(self._got_response)
        self._fetching = d.addErrback(self._failed)

    def stop(self) -> None:
        """
        The download failed: release the timer and the reservation, and
        stop the upstream request or body.
        """
        self._stopped = True
        self._receiving = False
        self._release()
        if self._fetching is not None and not self._fetching.called:
            self._fetching.cancel()
        if self._body is not None and not self._body.called:
            self._body.cancel()

    def _got_response(self, response: StreamingResponse) -> None:
        """Check the upstream's response and start writing its body."""
        length, size = response.length, self._spec.size
        problem: Exception | None = response_problem(self._spec, response.code, length)
        expected = size if size is not None else length
        spooled = False
        if problem is None:
            try:
                spooled = self.outlet.open(expected)
            except OSError as e:
                problem = DownloadError(f"cannot create a temporary file: {e}")
        if problem is None and not spooled and not self._followed():
            problem = NotCached(DISK_FULL)
        if problem is not None:
            response.discard()
            self._failed(Failure(problem))
            return
        self.expected_length = expected
        if not spooled:
            self._pass_through()
        elif self._reservation is None and expected is not None:
            self._reservation = self._store.reserve(expected)
        self._receiving = True
        self._idle.reset()
        self._began()
        body = self._body = response.stream_to(self.outlet)
        body.addCallbacks(self._body_ended, self._body_failed)
        if self._stopped and not body.called:
            body.cancel()  # it failed while the body was being delivered

    def _pass_through(self) -> None:
        """
        The store is full: drop the spool (its readers read on) and hand
        the rest of the body to the followers through memory.
        """
        self.outlet.pass_through(self.written)
        if self._reservation is not None:
            self._reservation.release()
            self._reservation = None
        _log.info(
            "Sending {url} to {clients} client(s) without caching it: the disk is full",
            url=self._spec.url,
            clients=self._followed(),
        )

    def _chunk(self, data: bytes) -> None:
        """Write a body chunk to the spool (or memory), then tell the download."""
        if not self._receiving:
            return
        try:
            taken = self.outlet.take(data, self.written, self.expected_length)
            if not taken and self._followed():
                self._pass_through()
                taken = self.outlet.take(data, self.written, self.expected_length)
        except OSError as e:
            why = f"could not write to the cache: {e.strerror or e}"
            self._failed(Failure(DownloadError(why)))
            return
        if not taken:
            self._failed(Failure(NotCached(DISK_FULL)))
            return
        # Every reader sees the bytes now, so there is nothing to flush
        # before telling the followers.
        self.written += len(data)
        if self._hash is not None:
            self._hash[0].update(data)
        expected = self.expected_length
        if expected is not None and self.written > expected:
            why = f"the upstream sent more than the {expected:,} bytes expected"
            self._failed(Failure(VerificationError(why)))
            return
        self._idle.reset()
        self._received()

    def _body_failed(self, reason: Failure) -> None:
        """The body was cut short (or we stopped it, having failed)."""
        if self._receiving:
            self._failed(reason)

    def _body_ended(self, ignored: None) -> None:
        """Verify the whole body, or fail."""
        if not self._receiving:
            return
        why = body_problem(self.written, self.expected_length, self._hash)
        if why is not None:
            self._failed(Failure(why))
            return
        self._receiving = False
        self._release()
        self._verified()

    def _stalled(self) -> None:
        """The idle timer ran out."""
        why = f"the upstream sent nothing for {self._idle_timeout:g} s"
        self._failed(Failure(UpstreamTimeout(why)))

    def _upstream_paused(self, paused: bool) -> None:
        """
        The outlet paused the upstream for a lagging follower (stop the idle
        timer), or resumed it (restart the timer).
        """
        if paused:
            self._idle.stop()
        elif self._receiving:
            self._idle.start()

    def _release(self) -> None:
        """Release the timer and the reservation."""
        self._idle.stop()
        if self._reservation is not None:
            self._reservation.release()
            self._reservation = None
