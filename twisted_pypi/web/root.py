# -*- test-case-name: tests.web.test_root -*-
"""
The one place the resource tree is mounted, from components built elsewhere
(by the composition root, :mod:`twisted_pypi.app.compose`)::

    /                 the status page
    /-/health         the health check
    /-/metrics        Prometheus metrics
    /-/cache/         cache control (only with an admin token)
    /-/inflight/      the downloads in flight, for the other nodes of a
                      cluster (only with --node-url and --cluster-secret)
    /simple/          the PEP 503/691 index
    /files/           the remote indexes' files, cached
    /local/           the local indexes' files
    /dummy/           the dummy projects' generated files
    /pypi/            the JSON API (only with a JSON client)
    /upload/          uploads to the local indexes (only with upload users)
    /snapshot/<T>/    the index as it was at a moment (simple/, files/,
                      local/, dummy/ below it; see web/snapshot.py)

With a supply-chain policy (``--min-age``, ``--deny``), ``/simple/`` and
``/pypi/`` show pages without the files it holds back, and ``/files/`` and
``/local/`` refuse those files; without one they are served exactly as
before, with no policy code on the way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.http import NOT_FOUND
from twisted.web.iweb import IRequest, IResponse
from twisted.web.resource import Resource
from twisted.web.server import Request

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.links import FILES_PREFIX
from twisted_pypi.core.moments import snapshot_text
from twisted_pypi.core.runner import Runner, run_now
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads
from twisted_pypi.files.metadata import MetadataFiles
from twisted_pypi.pypijson.cache import JsonCache
from twisted_pypi.sources.dummies import DUMMY_PREFIX, Dummies
from twisted_pypi.sources.local import LOCAL_PREFIX, LocalIndex
from twisted_pypi.sources.policyview import PolicyPages, PolicyView
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.sources.router import Router
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.web.cachecontrol import CACHE, DASH, CacheControlResource
from twisted_pypi.web.dummyfiles import DummyFilesResource
from twisted_pypi.web.files import FilesResource
from twisted_pypi.web.inflight import INFLIGHT_CHILD, InflightResource
from twisted_pypi.web.jsonapi import JSON_PREFIX, JsonApiResource
from twisted_pypi.web.localfiles import LocalFilesResource
from twisted_pypi.web.metrics import HealthPage, MetricsPage, registry_factory
from twisted_pypi.web.policygate import FileGuard
from twisted_pypi.web.respond import error_page
from twisted_pypi.web.simple import Pages, SimpleIndex
from twisted_pypi.web.snapshot import SNAPSHOT_PREFIX, SnapshotResource
from twisted_pypi.web.status import StatusPage

__all__ = ["Directory", "Root", "make_root"]


class Directory(Resource):
    """
    A resource whose only content is its children: a path it does not have
    gets the proxy's own 404 page, saying where the index is (not Twisted's
    stock "No Such Resource").
    """

    def getChild(self, path: bytes, request: IRequest) -> Resource:
        return _Missing(
            "Nothing here. The package index is at simple/; the status page "
            "is at the proxy's root."
        )


class Root(Directory):
    """
    The root of the tree; ``/`` itself is its child ``b""``, the status page.
    """


class _Missing(Resource):
    """
    A 404 with a sentence saying why, whatever the method and the path below.
    """

    isLeaf = True

    def __init__(self, detail: str) -> None:
        """
        :param detail: What the page says.
        """
        super().__init__()
        self._detail = detail

    def render(self, request: IRequest) -> bytes:
        assert isinstance(request, Request)
        return error_page(request, NOT_FOUND, self._detail)


def make_root(
    config: ProxyConfig,
    *,
    router: Router,
    dummies: Dummies,
    pages: Sequence[PageCache],
    local: Sequence[LocalIndex],
    cache: FileCache,
    downloads: Downloads,
    fetch: Callable[..., Deferred[IResponse]],
    stats: Stats,
    documents: JsonCache | None = None,
    clock: IReactorTime | None = None,
    run: Runner | None = None,
    metadata: MetadataFiles | None = None,
) -> Resource:
    """
    The proxy's resource tree.

    :param config: The settings: base URL, dummies, offline, admin token,
        upload users.
    :param router: Answers for projects (``/simple/`` and ``/pypi/``).
    :param dummies: The dummy projects.
    :param pages: The page caches of the remote indexes, highest priority
        first.
    :param local: The local indexes.
    :param cache: The file cache.
    :param downloads: The downloads in flight.
    :param fetch: Issues upstream file requests.
    :param stats: The service's running totals.
    :param documents: The upstreams' JSON API documents; without them there
        is no ``/pypi/``.
    :param clock: Time, for remembering upload logins (needed with upload
        users).
    :param run: Runs password checks and uploads away from the reactor
        (needed with upload users).
    :param metadata: Makes the ``.metadata`` of wheels whose index offers
        none (else they are 404).
    :raises ValueError: If the settings turn on uploads but ``clock`` or
        ``run`` is missing.
    """
    by_name = {p.index.name: p for p in pages}
    local_by_name = {i.index.name: i for i in local}
    active = config.policy.active
    view = PolicyView(
        config.policy,
        clock or cache.clock,
        stats.policy,
        run or run_now,
        config.base_url,
    )
    guard = FileGuard(view, by_name) if active else None
    root = Root()
    root.putChild(b"", StatusPage(config, stats, cache, downloads))
    root.putChild(DASH, _dash(config, stats, pages, cache, downloads, documents))
    simple: Pages = PolicyPages(router, view) if active else router
    root.putChild(b"simple", SimpleIndex(simple, config.base_url, run or run_now))
    dummy_files = DummyFilesResource(dummies)
    root.putChild(DUMMY_PREFIX.encode(), dummy_files)
    root.putChild(LOCAL_PREFIX.encode(), LocalFilesResource(local_by_name, guard))
    root.putChild(
        FILES_PREFIX.encode(),
        FilesResource(
            by_name,
            cache,
            downloads,
            fetch,
            offline=config.offline,
            metadata=metadata,
            stats=stats,
            guard=guard,
        ),
    )

    def snapshot_tree(moment: float) -> Resource:
        """The routes below ``/snapshot/<TIMESTAMP>/``."""
        guard = FileGuard(view, by_name, moment)
        files = FilesResource(
            by_name,
            cache,
            downloads,
            fetch,
            offline=config.offline,
            metadata=metadata,
            stats=stats,
            guard=guard,
        )
        base = f"{config.base_url or '/'}{SNAPSHOT_PREFIX}/{snapshot_text(moment)}/"
        tree = Directory()
        pages_then = PolicyPages(router, view, moment)
        tree.putChild(b"simple", SimpleIndex(pages_then, base, run or run_now))
        tree.putChild(FILES_PREFIX.encode(), files)
        tree.putChild(LOCAL_PREFIX.encode(), LocalFilesResource(local_by_name, guard))
        tree.putChild(DUMMY_PREFIX.encode(), dummy_files)
        return tree

    root.putChild(SNAPSHOT_PREFIX.encode(), SnapshotResource(snapshot_tree))
    if documents is not None:
        json_api = JsonApiResource(
            router,
            by_name,
            documents,
            config.base_url,
            run or run_now,
            view=view if active else None,
        )
        root.putChild(JSON_PREFIX.encode(), json_api)
    if config.upload_users is not None:
        if clock is None or run is None:
            raise ValueError("uploads need a clock and a runner")
        # Imported here: the upload machinery (cred, bcrypt, form parsing)
        # costs memory that a proxy without uploads should not pay.
        from twisted_pypi.web.upload import UPLOAD_PREFIX, make_upload_resource

        root.putChild(
            UPLOAD_PREFIX.encode(),
            make_upload_resource(
                {index.config.name: index for index in local},
                config.upload_users,
                clock=clock,
                runner=run,
                max_size=config.max_upload_size,
            ),
        )
    return root


def _dash(
    config: ProxyConfig,
    stats: Stats,
    pages: Sequence[PageCache],
    cache: FileCache,
    downloads: Downloads,
    documents: JsonCache | None,
) -> Resource:
    """
    ``/-/``: the health check, the metrics (with a registry of their own),
    on a node of a cluster the downloads in flight for its peers, and, with
    an admin token, cache control.
    """
    registry = registry_factory(
        stats, cache, downloads, [i.name for i in config.indexes]
    )
    dash = Directory()
    dash.putChild(b"health", HealthPage(stats, cache.space))
    dash.putChild(b"metrics", MetricsPage(registry))
    if config.cluster is not None and downloads.cluster is not None:
        secret = config.cluster.secret
        dash.putChild(INFLIGHT_CHILD, InflightResource(downloads, secret, cache.clock))
    if config.admin_token is not None:
        control = CacheControlResource(
            config.admin_token, pages, cache, downloads, documents
        )
        dash.putChild(CACHE, control)
    else:
        dash.putChild(
            CACHE,
            _Missing(
                "Cache control is off: start the proxy with --admin-token"
                " to turn it on."
            ),
        )
    return dash
