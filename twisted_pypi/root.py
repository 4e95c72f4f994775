"""
The root of the resource tree: ``/simple/``, ``/files/`` and a front page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from twisted.internet.defer import Deferred
from twisted.web.iweb import IRequest, IResponse
from twisted.web.resource import Resource
from twisted.web.server import Request

from . import __version__
from .cache import FileCache
from .config import ProxyConfig
from .download import Downloads
from .dummies import DUMMY_PREFIX, Dummies, DummyFilesResource
from .files import FilesResource
from .links import FILES_PREFIX
from .local import LOCAL_PREFIX, LocalFilesResource, LocalIndex
from .pages import PageCache
from .router import Router
from .simple import SimpleIndex


class Root(Resource):
    """
    ``/``: a short page saying how to use the proxy.
    """

    def __init__(self, config: ProxyConfig) -> None:
        """
        :param config: The settings shown on the page.
        """
        super().__init__()
        self._config = config

    def getChild(self, path: bytes, request: IRequest) -> Resource:
        if path == b"":
            return self
        return super().getChild(path, request)  # type: ignore[no-any-return]

    def render_GET(self, request: Request) -> bytes:
        base = self._config.base_url
        if base is None:
            host = request.getHeader(b"host") or b"localhost"
            scheme = "https" if request.isSecure() else "http"
            base = f"{scheme}://{host.decode('ascii', 'replace')}/"
        index = escape(base + "simple/")
        upstreams = "".join(
            f"<li>{escape(i.name)}: {escape(i.url)}</li>" for i in self._config.indexes
        )
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width'>"
            "<title>twisted-pypi</title></head>"
            f"<body><h1>twisted-pypi {__version__}</h1>"
            f"<p>A caching proxy for Python package indexes.</p><ul>{upstreams}</ul>"
            f"<pre>pip install --index-url {index} PACKAGE\n"
            f"uv pip install --index-url {index} PACKAGE</pre></body></html>\n"
        ).encode()


def make_root(
    config: ProxyConfig,
    pages: Sequence[PageCache],
    cache: FileCache,
    downloads: Downloads,
    fetch: Callable[..., Deferred[IResponse]],
    local: Sequence[LocalIndex] = (),
) -> Resource:
    """
    The proxy's resource tree.

    :param config: The settings.
    :param pages: The page caches of the remote indexes, highest priority
        first.
    :param cache: The file cache.
    :param downloads: The downloads in flight.
    :param fetch: Issues upstream file requests.
    :param local: The local indexes, highest priority first; they rank above
        the remote ones.
    """
    router = Router([*local, *pages], config.routes, config.merge, config.base_url)
    root = Root(config)
    ttl = min((p.index.ttl for p in pages), default=600.0)
    dummies = Dummies(config.dummies, router.get_project, config.base_url, ttl)
    root.putChild(b"simple", SimpleIndex(router, config.base_url, dummies))
    root.putChild(DUMMY_PREFIX.encode(), DummyFilesResource(dummies))
    root.putChild(
        LOCAL_PREFIX.encode(), LocalFilesResource({i.index.name: i for i in local})
    )
    root.putChild(
        FILES_PREFIX.encode(),
        FilesResource({p.index.name: p for p in pages}, cache, downloads, fetch),
    )
    return root
