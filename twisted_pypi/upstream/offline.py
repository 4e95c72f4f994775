# -*- test-case-name: tests.upstream.test_offline -*-
"""
Upstream clients for a proxy with no network (``--offline``): a page client
and a file fetcher that fail every request at once, without connecting.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.web.iweb import IResponse

from twisted_pypi.upstream.client import UpstreamError

__all__ = ["OfflineClient", "offline_fetch"]


class OfflineClient:
    """
    A page client that fails every request at once, without connecting.
    """

    def get(
        self,
        url: str,
        /,
        *,
        headers: dict[bytes | str, bytes | str],
        unbuffered: bool,
        timeout: float,
        reactor: Any,
        auth: tuple[str, str] | None = None,
    ) -> Deferred[Any]:
        """
        Fail: the proxy is offline.

        :param url: The page that is not fetched.
        """
        return fail(UpstreamError(f"the proxy is offline: {url} is not fetched"))


def offline_fetch(
    url: str, method: bytes = b"GET", extra: object = None
) -> Deferred[IResponse]:
    """
    A file fetcher that fails every request at once, without connecting.

    :param url: The file that is not fetched.
    :param method: The HTTP method asked for.
    :param extra: More request headers (unused).
    """
    return fail(UpstreamError(f"the proxy is offline: {url} is not fetched"))
