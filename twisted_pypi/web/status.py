# -*- test-case-name: tests.web.test_status -*-
"""
``/``: the status page.

The page is plain HTML with inline CSS (no scripts, fonts or other external
assets), laid out for a phone first: cards and definition lists rather than
tables, long URLs wrapped.  Every figure comes from the service's
:class:`~twisted_pypi.core.stats.Stats`, the file cache and the downloads in
flight, read at render time; nothing asks an upstream.  The page is a
:mod:`twisted.web.template` element (:class:`~twisted_pypi.web.statusview.StatusView`),
so everything interpolated is escaped by the flattener.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.template import flattenString

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.web.respond import error_page
from twisted_pypi.web.snippets import server_url
from twisted_pypi.web.statusview import StatusView

__all__ = ["StatusPage"]

log = Logger()

#: Before the flattened element: the template has no doctype of its own.
_DOCTYPE = b"<!DOCTYPE html>"


class StatusPage(Resource):
    """
    ``/``: what the proxy is, how to use it, and how it is doing.
    """

    isLeaf = True

    def __init__(
        self,
        config: ProxyConfig,
        stats: Stats,
        cache: FileCache,
        downloads: Downloads,
    ) -> None:
        """
        :param config: The settings shown (indexes, dummies, routes, ...).
        :param stats: The running totals.
        :param cache: The file cache.
        :param downloads: The downloads in flight.
        """
        super().__init__()
        self._config = config
        self._stats = stats
        self._cache = cache
        self._downloads = downloads

    def render_GET(self, request: Request) -> int:
        """
        Answer with the page, flattened from :class:`StatusView`.
        """
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(
            b"content-security-policy",
            b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        )
        page = self.html(server_url(request, self._config.base_url))
        page.addCallbacks(_send, _failed, (request,), errbackArgs=(request,))
        return NOT_DONE_YET

    def html(self, url: str) -> Deferred[bytes]:
        """
        The whole page.  Every renderer is synchronous, so the result is
        there at once (the page is small: flattening it is quick).

        :param url: The proxy's own URL, for the snippets.
        """
        view = StatusView(self._config, self._stats, self._cache, self._downloads, url)
        return flattenString(None, view).addCallback(
            lambda body: _DOCTYPE + body + b"\n"
        )


def _send(body: bytes, request: Request) -> None:
    """
    Write the page and finish.
    """
    request.setHeader(b"content-length", b"%d" % len(body))
    request.write(body)
    request.finish()


def _failed(failure: Failure, request: Request) -> None:
    """
    Log a page that could not be rendered, and answer 500.
    """
    log.failure("The status page could not be rendered", failure)
    error_page(request, 500, "The status page could not be rendered", finish=True)
