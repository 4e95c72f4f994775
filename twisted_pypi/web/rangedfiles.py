# -*- test-case-name: tests.web.test_rangedfiles -*-
"""
``Range`` requests for package files the proxy does not hold yet (cached
files are :mod:`~twisted_pypi.web.fileserve`'s).  Installers read wheels by
ranges (uv: ``HEAD``, the zip's tail, then the ``METADATA`` member), so a
range must neither wait for a whole download nor start one:

- **The file is being downloaded**: answered ``206`` from the download's
  spool as soon as those bytes are on disk (see
  :class:`~twisted_pypi.files.follower.Follower`), when the file's length is
  known (the index's size, or the upstream's ``Content-Length``).  The rule
  for "too far ahead": a range whose first byte lies more than
  :data:`FAR_AHEAD` bytes past what is on disk is passed to the upstream
  instead, as is any range while the length is unknown.
- **It is neither cached nor being downloaded**: passed to the upstream as
  a range (:mod:`~twisted_pypi.web.passthrough`); no download starts.  The
  file must be listed, as for any file (the caller checks).
- **The upstream ignores ranges** (answers ``200``): that answer becomes
  the file's download (its body is cached as usual) and the range is
  answered from its spool, as above, once those bytes arrived.  So a range
  on a file not cached is always answered ``206`` (or ``416``) when the
  file's length is known, which is what ``HEAD`` promises with
  ``Accept-Ranges: bytes`` (:func:`honours_ranges`); with the length still
  unknown after the upstream's ``200``, the whole file is sent (``200``).

Only a ``GET`` with exactly one range and no ``If-Range`` is answered here
(:func:`asked_range`).  Several ranges, a malformed header (to be ignored),
and ``If-Range`` (the proxy gave no validator for a file it does not hold,
so the condition cannot hold) take the whole-file path: ``200`` from the
file's download.  ``.metadata`` files are small and always sent whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from twisted.internet.defer import Deferred
from twisted.web.http import PARTIAL_CONTENT
from twisted.web.iweb import IResponse
from twisted.web.server import Request

from twisted_pypi.core.links import METADATA
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Download, Downloads, FileSpec
from twisted_pypi.upstream.stream import streaming
from twisted_pypi.web.fileheaders import IMMUTABLE, content_type
from twisted_pypi.web.following import RequestSink, serve_download
from twisted_pypi.web.passthrough import pass_range, unsatisfiable
from twisted_pypi.web.ranges import Spec, resolve_range, single_range

__all__ = ["FAR_AHEAD", "RangeSink", "RangedFiles", "asked_range", "honours_ranges"]

#: How far past the bytes of a download on disk a range may start and still
#: wait for them; a range starting further ahead is passed to the upstream.
FAR_AHEAD = 4 << 20


def asked_range(request: Request, segments: Sequence[str]) -> Spec | None:
    """
    The range a request for a file not cached asks for, if this module
    answers it.

    :param request: The request.
    :param segments: The file's key.
    :return: The one range of a ``GET`` without ``If-Range`` for a file
        (not a ``.metadata``); else ``None``: the whole file is the answer.
    """
    if request.method != b"GET" or segments[-1].endswith(METADATA):
        return None
    if request.getHeader(b"if-range") is not None:
        return None
    return single_range(request.getHeader(b"range"))


def honours_ranges(segments: Sequence[str], length: int | None) -> bool:
    """
    Whether a ``Range`` request for a file not cached will be answered with
    the range (what ``Accept-Ranges: bytes`` on its ``HEAD`` says).

    :param segments: The file's key.
    :param length: Its length, if known.
    """
    return length is not None and not segments[-1].endswith(METADATA)


class RangeSink(RequestSink):
    """
    A request as the sink of a follower of one range of a download: its
    headers are the ``206``'s.
    """

    def __init__(
        self, request: Request, kind: bytes, offset: int, length: int, size: int
    ) -> None:
        """
        :param request: The request.
        :param kind: The file's ``Content-Type``.
        :param offset: The range's first byte.
        :param length: Its length.
        :param size: The file's.
        """
        super().__init__(request, kind)
        self._range = (offset, length, size)

    def start(self, length: int | None) -> None:
        """
        Send the headers: 206, the range's length and ``Content-Range``,
        the type, immutable caching, ``Accept-Ranges: bytes`` and no
        ``Content-Encoding``.

        :param length: The file's length (known already).
        """
        request, (offset, size_of_range, size) = self._request, self._range
        request.setResponseCode(PARTIAL_CONTENT)
        request.setHeader(b"content-length", b"%d" % (size_of_range,))
        request.setHeader(
            b"content-range",
            b"bytes %d-%d/%d" % (offset, offset + size_of_range - 1, size),
        )
        request.setHeader(b"content-type", self._kind)
        request.setHeader(b"cache-control", IMMUTABLE)
        request.setHeader(b"accept-ranges", b"bytes")
        request.responseHeaders.removeHeader(b"content-encoding")
        request.write(b"")


class RangedFiles:
    """
    Answers ``Range`` requests for files not cached: from a download's
    spool, or from the upstream; see the module docstring.
    """

    def __init__(
        self,
        downloads: Downloads,
        fetch: Callable[..., Deferred[IResponse]],
        stats: Stats | None = None,
        far_ahead: int = FAR_AHEAD,
    ) -> None:
        """
        :param downloads: The downloads in flight (their clock and idle
            timeout also serve the ranges passed to the upstream).
        :param fetch: Issues upstream file requests (``fetch(url, method,
            extra)``).
        :param stats: Where the ranges are counted, if anywhere.
        :param far_ahead: See :data:`FAR_AHEAD`.
        """
        self._downloads = downloads
        self._fetch = streaming(fetch)
        self._stats = stats
        self._far_ahead = far_ahead

    async def from_download(
        self, request: Request, download: Download, asked: Spec
    ) -> None:
        """
        Answer a range of a file being downloaded: from its spool, or from
        the upstream when the bytes are far ahead or the length unknown.

        :param request: A ``GET`` nothing was written to.
        :param download: The file's download in flight.
        :param asked: The range.
        :raise UpstreamError: If the answer failed before any header was
            sent (the caller answers 502 or 504).
        """
        await self._from_download(request, download, asked, may_pass=True)

    async def from_upstream(
        self, request: Request, spec: FileSpec, asked: Spec
    ) -> None:
        """
        Answer a range of a file neither cached nor being downloaded, by
        passing it to the upstream.

        :param request: A ``GET`` nothing was written to.
        :param spec: The file, as its index lists it.
        :param asked: The range.
        :raise UpstreamError: As for :meth:`from_download`.
        """
        if spec.size is not None:
            resolved = resolve_range(asked, spec.size)
            if resolved is None:
                unsatisfiable(request, spec.size)
                return
            offset, length = resolved
            asked = (offset, offset + length - 1)
        downloads = self._downloads
        whole = await pass_range(
            request, self._fetch, spec, asked, downloads.clock, downloads.idle_timeout
        )
        if whole is None:
            self._count("upstream")
            return
        download = downloads.start_or_join(spec, whole)
        await self._from_download(request, download, asked, may_pass=False)

    async def _from_download(
        self, request: Request, download: Download, asked: Spec, may_pass: bool
    ) -> None:
        """
        Answer from the download's spool, or, if ``may_pass``, from the
        upstream when the bytes are far ahead or the length unknown; with
        the length unknown and no upstream to ask, the whole file.
        """
        spec = download.spec
        size = download.expected_length
        if size is None:
            size = spec.size
        if size is None:
            if may_pass:
                await self.from_upstream(request, spec, asked)
            else:
                await serve_download(request, download)
            return
        resolved = resolve_range(asked, size)
        if resolved is None:
            unsatisfiable(request, size)
            return
        offset, length = resolved
        if may_pass and offset - download.written > self._far_ahead:
            await self.from_upstream(request, spec, (offset, offset + length - 1))
            return
        self._count("spool")
        sink = RangeSink(request, content_type(spec.segments[-1]), offset, length, size)
        await download.follow(sink, offset, offset + length)

    def _count(self, source: str) -> None:
        """Count a range answered from ``source``."""
        if self._stats is not None:
            self._stats.range_served(source)
