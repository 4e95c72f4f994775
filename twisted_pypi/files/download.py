# -*- test-case-name: tests.files.test_download -*-
"""
Downloads in flight and the clients that follow them ("background fetch").

However many clients ask for an uncached file, one :class:`Download` runs.
It writes the upstream body straight to a spool file of the store (disk is
the buffer), verifies length and hash, and commits the file to the store.
Each client is a :class:`~twisted_pypi.files.follower.Follower`, a push
producer reading the spool at its own offset into its own sink, so a slow
client slows neither the download nor the others, and memory stays flat.

When the store is full (:class:`~twisted_pypi.storage.interfaces.StoreFull`),
the download asks it to make room and tries again; if it still cannot write,
it *passes through*: the spool is dropped, the rest of the body goes to the
followers through memory (see :mod:`twisted_pypi.files.feed`; the slowest
follower then sets the pace), verified as ever, and nothing is cached.

When nodes share a store, a :class:`~twisted_pypi.files.cluster.ClusterFetch`
given as ``cluster`` decides where each download's body comes from (the
upstream, if this node holds the file's lease; else the node that does), and
the lease is released once the download ended, after the commit.  A node
that streamed the file from another waits for that node's publish before
its own commit (:meth:`~twisted_pypi.files.cluster.FileSource.settle`), so
that the file is uploaded once.

Clients are finished as soon as the file is verified: a commit that takes
time (the upload to a shared store) goes on after them, the download still
in flight ("committing"), new clients following it from the verified spool.

The web layer attaches a request as a sink (see
:mod:`twisted_pypi.web.following`)::

    d = downloads.start_or_join(spec).follow(sink)
    d.addErrback(answer_502_or_504)  # only if the body did not start
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from attrs import define, field
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime

from twisted_pypi.files.cluster import ClusterFetch, FileSource
from twisted_pypi.files.flight import Download
from twisted_pypi.files.intake import Fetch
from twisted_pypi.files.spec import (
    DownloadError,
    DownloadStatus,
    FileSpec,
    NotCached,
    State,
)
from twisted_pypi.storage.interfaces import IFileStore
from twisted_pypi.upstream.stream import StreamingResponse

# The records and errors are re-exported: callers of downloads use them.
__all__ = [
    "Download",
    "DownloadError",
    "DownloadStatus",
    "Downloads",
    "FileSpec",
    "NotCached",
]


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
    :ivar cluster: Where each download's body comes from when nodes share
        a store (one upstream fetch per file for the whole cluster), or
        ``None``: always ``fetch``.
    :ivar committed: Told of each download once its file is committed
        (what reads a wheel's metadata from it, see
        :meth:`twisted_pypi.files.metadata.MetadataFiles.committed`), or
        ``None``.
    :ivar uncached: How many downloads passed through to their clients
        without being cached (the store was full), since startup.
    """

    store: IFileStore
    fetch: Fetch
    clock: IReactorTime
    idle_timeout: float = 30.0
    chunk_size: int = 65536
    cluster: ClusterFetch | None = None
    committed: Callable[[Download], object] | None = None
    uncached: int = field(default=0, init=False)
    _active: dict[tuple[str, ...], Download] = field(factory=dict, init=False)
    _sources: dict[Download, FileSource] = field(factory=dict, init=False)

    def get(self, segments: tuple[str, ...]) -> Download | None:
        """
        :param segments: A file's place in the cache.
        :return: Its download in flight that a new client can follow, or
            ``None``.
        """
        download = self._active.get(tuple(segments))
        return download if download is not None and download.joinable else None

    def start_or_join(
        self, spec: FileSpec, response: StreamingResponse | None = None
    ) -> Download:
        """
        The download in flight for ``spec.segments``, started now if there
        is none that a new client can follow (check the cache first: this
        always downloads).

        :param spec: The file.
        :param response: An upstream answer for the whole file that the
            caller already has (the upstream ignored a ``Range``): a new
            download takes its body rather than ask again.  It is closed
            unread if the download is joined, or if nodes share a store
            (the cluster decides where the body comes from).
        :return: The download (it may have failed at once).
        """
        download = self.get(spec.segments)
        shared = download is not None or self.cluster is not None
        if response is not None and shared:
            response.discard()
            response = None
        if download is None:
            fetch, source, settle = self.fetch, None, None
            if response is not None:
                fetch = partial(_given, response)
            elif self.cluster is not None:
                source = self.cluster.for_file(spec.segments)
                fetch = source.fetch
                settle = partial(source.settle, self.store.find, self.clock)
            download = Download(
                spec, self.store, fetch, self.clock,
                self.idle_timeout, self.chunk_size, self._ended, settle,
            )  # fmt: skip
            self._active[spec.segments] = download
            if source is not None:
                self._sources[download] = source
            download.start()
        return download

    def in_flight(self) -> list[DownloadStatus]:
        """:return: A snapshot of every download in flight."""
        return [download.status() for download in self._active.values()]

    def _ended(self, download: Download) -> None:
        """
        Forget a download that succeeded (it is committed) or failed, and
        release its lease if it held one.
        """
        if download.state is State.PASSED:
            self.uncached += 1
        elif download.state is State.DONE and self.committed is not None:
            self.committed(download)
        if self._active.get(download.spec.segments) is download:
            del self._active[download.spec.segments]
        source = self._sources.pop(download, None)
        if source is not None:
            source.ended()


def _given(response: StreamingResponse, url: str) -> Deferred[StreamingResponse]:
    """
    A fetch that answers with a response the caller already has.

    :param response: The upstream's answer.
    :param url: The URL asked for (the response's).
    """
    return succeed(response)
