# -*- test-case-name: tests.app.test_filefetch -*-
"""
GETting upstream files: raw bytes (no content decoding), our User-Agent, a
timeout on the response headers, and HTTP basic auth sent only to the origin
of the index it belongs to, or to the file a link with credentials names.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, TimeoutError
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from twisted_pypi.core.links import split_credentials
from twisted_pypi.upstream.client import USER_AGENT

__all__ = ["file_fetcher", "origin_of"]

#: The port each scheme implies.
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int] | None:
    """
    The scheme, lower-case host and port (explicit or implied by the scheme)
    of a URL, or ``None`` when it has no host.

    :param url: An absolute URL.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not parts.hostname or scheme not in _DEFAULT_PORTS:
        return None
    return (scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme])


def file_fetcher(
    agent: Any,
    clock: Any,
    timeout: float,
    credentials: Mapping[str, tuple[str, str]] | None = None,
) -> Any:
    """
    A function that GETs an upstream file as raw bytes (no content decoding,
    identity encoding asked for) and fails if no response headers arrive in
    ``timeout`` seconds: ``fetch(url, method=b"GET", extra=None)``, where
    ``extra`` holds more request headers (such as ``Range``).

    :param agent: An ``IAgent``.
    :param clock: The reactor that times out the request.
    :param timeout: Seconds allowed until the response headers.
    :param credentials: HTTP basic auth by index URL: sent only to the
        scheme, host and port of that URL (never to another host, such as a
        CDN its pages link to, nor to another port or over plain HTTP).
        A URL with its own credentials (``https://user:password@host/...``,
        from an index's link) is requested without them, with them as basic
        auth instead.
    """
    plain = {b"accept-encoding": [b"identity"], b"user-agent": [USER_AGENT.encode()]}
    authorizations = {
        origin_of(url): _basic(user, password)
        for url, (user, password) in (credentials or {}).items()
    }
    authorizations.pop(None, None)

    def timed_out(result: IResponse | Failure, timeout: float) -> IResponse | Failure:
        # Cancelling an Agent request fails it with ResponseNeverReceived, not
        # the CancelledError that addTimeout turns into a TimeoutError.
        if isinstance(result, Failure):
            raise TimeoutError(f"no response headers within {timeout:g} s")
        return result

    def fetch(
        url: str,
        method: bytes = b"GET",
        extra: Mapping[bytes, bytes] | None = None,
    ) -> Deferred[IResponse]:
        headers = Headers(plain)
        for name, value in (extra or {}).items():
            headers.setRawHeaders(name, [value])
        url, own = split_credentials(url)
        authorization = authorizations.get(origin_of(url))
        if own is not None:
            authorization = _basic(*own)
        if authorization is not None:
            headers.setRawHeaders(b"authorization", [authorization])
        d: Deferred[IResponse] = agent.request(method, url.encode("ascii"), headers)
        return d.addTimeout(timeout, clock, onTimeoutCancel=timed_out)

    return fetch


def _basic(user: str, password: str) -> bytes:
    """The ``Authorization`` value of HTTP basic auth."""
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())
