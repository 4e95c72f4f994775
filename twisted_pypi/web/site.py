"""
The proxy's ``Site``: one log line per request, naming what was asked for,
whether the cache answered, how many bytes went out and how long it took.

Its connections are :class:`~twisted_pypi.web.channel.ProxyChannel` objects: each
request's headers have a deadline, and a
:class:`~twisted_pypi.web.connections.ConnectionTable` keeps the open
connections under the file descriptor limit.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.logger import Logger
from twisted.web.http import Request
from twisted.web.resource import IResource
from twisted.web.server import Site

from twisted_pypi.core.stats import Stats
from twisted_pypi.web.channel import HEADER_TIMEOUT, ProxyChannel
from twisted_pypi.web.connections import ConnectionTable

__all__ = [
    "ProxySite",
]

log = Logger()

#: One request's log line.
_ACCESS_LINE = "{method} {path} {code} {cache}{index} {bytes} B {ms:.1f} ms{aborted}"


class ProxySite(Site):
    """
    A ``Site`` that logs each request through ``twisted.logger``.
    """

    displayTracebacks = False
    # Twisted's default wraps the channel to switch to HTTP/2 after TLS
    # negotiation, which the proxy does not offer: use the channel itself.
    protocol = ProxyChannel  # type: ignore[assignment]

    def __init__(
        self,
        resource: IResource,
        clock: IReactorTime,
        stats: Stats | None = None,
        *,
        header_timeout: float | None = HEADER_TIMEOUT,
        connections: ConnectionTable | None = None,
        **kwargs: Any,
    ) -> None:
        """
        :param resource: The root resource.
        :param clock: The time source for request durations.
        :param stats: Where each request is counted (by status and
            ``X-Cache``, with its bytes), if anywhere.
        :param header_timeout: Seconds a client has to send a request's
            headers, or ``None`` for no deadline.
        :param connections: Keeps the open connections under a limit; by
            default under :func:`~twisted_pypi.web.connections.connection_limit`.
        :param kwargs: Passed on to ``Site``.
        """
        super().__init__(resource, **kwargs)
        self._clock = clock
        self._stats = stats
        self._started: WeakKeyDictionary[Request, float] = WeakKeyDictionary()
        self._header_timeout = header_timeout
        self.connections = connections or ConnectionTable(clock)

    def buildProtocol(self, addr: IAddress | None) -> Any:
        """
        A :class:`ProxyChannel` with the site's header deadline and
        connection table.
        """
        channel: ProxyChannel = super().buildProtocol(addr)
        channel.headerTimeout = self._header_timeout
        channel.connections = self.connections
        return channel

    def getResourceFor(self, request: Request) -> IResource:
        self._started[request] = self._clock.seconds()
        request.notifyFinish().addErrback(lambda _: self._log(request, aborted=True))
        return super().getResourceFor(request)  # type: ignore[no-any-return]

    def log(self, request: Request) -> None:
        self._log(request, aborted=False)

    def _log(self, request: Request, aborted: bool) -> None:
        started = self._started.pop(request, None)
        elapsed = self._clock.seconds() - started if started is not None else 0.0
        cache = request.responseHeaders.getRawHeaders(b"x-cache", [b"-"])[0]
        index = request.responseHeaders.getRawHeaders(b"x-pypi-index", [b""])[0]
        fields = {
            "method": request.method.decode("ascii", "replace"),
            "path": request.uri.decode("ascii", "replace"),
            "code": request.code,
            "cache": cache.decode("ascii", "replace"),
            "index": f" from {index.decode('ascii', 'replace')}" if index else "",
            "bytes": request.sentLength,
            "ms": elapsed * 1000,
            "aborted": " (aborted)" if aborted else "",
        }
        # The line is formatted here, by one str.format, and logged as the
        # event's only placeholder: twisted.logger's own formatting of eight
        # fields took 21 microseconds a line, this 10.  The fields stay in
        # the event for observers that want them.
        log.info(
            "{line}",
            line=_ACCESS_LINE.format(**fields),
            client=getattr(request.getClientAddress(), "host", "-"),
            **fields,
        )
        if self._stats is not None:
            self._stats.request_served(
                request.code, cache.decode("ascii", "replace"), request.sentLength
            )
