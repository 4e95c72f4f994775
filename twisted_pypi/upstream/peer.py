# -*- test-case-name: tests.upstream.test_peer -*-
"""
GETting a file from the node of a cluster that is downloading it: its
``/-/inflight/`` URL (:func:`~twisted_pypi.core.cluster.inflight_path`),
signed with the cluster secret (:func:`~twisted_pypi.core.cluster.sign`).

The answer is a :class:`~twisted_pypi.upstream.stream.StreamingResponse`,
as from the upstream, so a local
:class:`~twisted_pypi.files.download.Download` can take its body from the
peer instead: its own followers, its own checks of length and hash.  A
body the peer cuts short (the peer died, or its download failed and it
aborted the connection) fails as any upstream body cut short does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IResponse

from twisted_pypi.core.cluster import AUTH_HEADER, inflight_path, sign
from twisted_pypi.upstream.client import USER_AGENT
from twisted_pypi.upstream.stream import StreamingResponse

__all__ = ["PeerFetch", "peer_fetcher"]

#: GETs a file in flight on a node: ``(node_url, segments)``.
PeerFetch = Callable[[str, Sequence[str]], Deferred[StreamingResponse]]


def peer_fetcher(
    agent: IAgent, clock: IReactorTime, secret: bytes, timeout: float
) -> PeerFetch:
    """
    A function that GETs a file in flight on another node.

    :param agent: Sends the requests (a plain ``Agent``: bodies raw).
    :param clock: Signs the requests (wall clock) and times them out.
    :param secret: The cluster secret.
    :param timeout: Seconds allowed until the response headers.
    :return: The function: it fires with the response (any status), or
        fails with ``TimeoutError`` or the connection's error.
    """

    def timed_out(result: IResponse | Failure, timeout: float) -> IResponse:
        # Cancelling an Agent request fails it with ResponseNeverReceived.
        if isinstance(result, Failure):
            raise TimeoutError(f"no response headers within {timeout:g} s")
        return result

    def fetch(node_url: str, segments: Sequence[str]) -> Deferred[StreamingResponse]:
        base = node_url.rstrip("/")
        path = urlsplit(base).path + inflight_path(segments)
        signature = sign(secret, b"GET", path.encode("ascii"), clock.seconds())
        headers = Headers(
            {
                b"accept-encoding": [b"identity"],
                b"user-agent": [USER_AGENT.encode()],
                AUTH_HEADER: [signature],
            }
        )
        url = base + inflight_path(segments)
        d: Deferred[Any] = agent.request(b"GET", url.encode("ascii"), headers)
        d.addTimeout(timeout, clock, onTimeoutCancel=timed_out)
        return d.addCallback(StreamingResponse.of)

    return fetch
