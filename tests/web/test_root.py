"""
Tests for :mod:`twisted_pypi.web.root`: the one place the resource tree is
mounted.
"""

from __future__ import annotations

from typing import Any, cast

import attrs
import bcrypt
from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource

from twisted_pypi.core.config import (
    ClusterConfig,
    IndexConfig,
    LocalConfig,
    ProxyConfig,
)
from twisted_pypi.core.dummyspec import parse_dummy_spec
from twisted_pypi.core.links import RELATIVE
from twisted_pypi.core.runner import run_now
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.cluster import ClusterFetch
from twisted_pypi.files.download import Downloads
from twisted_pypi.pypijson.cache import JsonCache
from twisted_pypi.sources.dummies import Dummies
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.sources.remote import PageCache, PageStore
from twisted_pypi.sources.router import Router
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.jsonstore import JsonStore
from twisted_pypi.upstream.offline import OfflineClient, offline_fetch
from twisted_pypi.upstream.stream import streaming
from twisted_pypi.web.auth import UploadGuard
from twisted_pypi.web.cachecontrol import CacheControlResource
from twisted_pypi.web.dummyfiles import DummyFilesResource
from twisted_pypi.web.files import FilesResource
from twisted_pypi.web.inflight import InflightResource
from twisted_pypi.web.jsonapi import JsonApiResource
from twisted_pypi.web.localfiles import LocalFilesResource
from twisted_pypi.web.metrics import HealthPage, MetricsPage
from twisted_pypi.web.root import Directory, Root, _Missing, make_root
from twisted_pypi.web.simple import SimpleIndex
from twisted_pypi.web.snapshot import SnapshotResource
from twisted_pypi.web.status import StatusPage

INDEX = IndexConfig("up", "http://upstream.test/simple/", 100.0)


def _paths(resource: Resource, prefix: str = "") -> dict[str, type]:
    """
    Every static path of the tree below ``resource`` and the type of the
    resource there.
    """
    found: dict[str, type] = {prefix or "/": type(resource)}
    for name, child in getattr(resource, "children", {}).items():
        found.update(_paths(child, f"{prefix}/{name.decode()}"))
    return found


class MakeRootTests(SynchronousTestCase):
    """
    :func:`make_root` mounts every resource, each at its path.
    """

    def setUp(self) -> None:
        """
        Components for settings with an upstream, a local index and a dummy.
        """
        local = FilePath(self.mktemp())
        local.makedirs()
        users = FilePath(self.mktemp())
        hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
        users.setContent(f"alice:{hashed}\n".encode())
        self.users = users.path
        self.clock = Clock()
        self.config = ProxyConfig(
            indexes=(INDEX,),
            locals=(LocalConfig("mine", local.path),),
            dummies=(parse_dummy_spec("torch"),),
            cache_dir=self.mktemp(),
        )
        self.cache = FileCache(FilePath(self.config.cache_dir), None, self.clock)
        store = PageStore.on_disk(self.cache.root.child("pages"))
        self.pages = [PageCache(INDEX, self.config, OfflineClient(), self.clock, store)]
        self.local = [LocalIndex(c, RELATIVE) for c in self.config.locals]
        self.router = Router([*self.local, *self.pages], {}, frozenset())
        self.stats = Stats(self.clock)
        self.dummies = Dummies(
            self.config.dummies, self.router.get_project, RELATIVE, stats=self.stats
        )
        self.router = self.router.with_first(self.dummies)
        self.downloads = Downloads(self.cache, streaming(offline_fetch), self.clock)
        self.documents = JsonCache(
            self.config,
            OfflineClient(),
            self.clock,
            JsonStore.on_disk(self.cache.root.child("json")),
        )

    def root(self, config: ProxyConfig, **kwargs: Any) -> Resource:
        """
        The tree for ``config`` over the components.
        """
        return make_root(
            config,
            router=self.router,
            dummies=self.dummies,
            pages=self.pages,
            local=self.local,
            cache=self.cache,
            downloads=self.downloads,
            fetch=offline_fetch,
            stats=self.stats,
            **kwargs,
        )

    def test_routes(self) -> None:
        """
        The status page, health, metrics, the index, its snapshots, the
        files of each kind are mounted; nothing else is without a JSON API,
        an admin token or upload users.
        """
        self.assertEqual(
            _paths(self.root(self.config)),
            {
                "/": StatusPage,
                "/-": Directory,
                "/-/cache": _Missing,
                "/-/health": HealthPage,
                "/-/metrics": MetricsPage,
                "/simple": SimpleIndex,
                "/files": FilesResource,
                "/local": LocalFilesResource,
                "/dummy": DummyFilesResource,
                "/snapshot": SnapshotResource,
            },
        )
        self.assertIsInstance(self.root(self.config), Root)

    def test_everything(self) -> None:
        """
        With JSON documents, an admin token and upload users, the JSON API,
        cache control and the uploads (behind HTTP basic auth) are mounted
        too, beside the snapshots.
        """
        config = ProxyConfig(
            indexes=self.config.indexes,
            locals=self.config.locals,
            cache_dir=self.config.cache_dir,
            admin_token="secret",
            upload_users=self.users,
        )
        paths = _paths(
            self.root(config, documents=self.documents, clock=self.clock, run=run_now)
        )
        self.assertEqual(paths["/pypi"], JsonApiResource)
        self.assertEqual(paths["/-/cache"], CacheControlResource)
        self.assertEqual(paths["/upload"], UploadGuard)
        self.assertEqual(paths["/snapshot"], SnapshotResource)
        self.assertEqual(len(paths), 12)

    def get(self, root: Resource, path: str, method: str = "GET") -> tuple[int, str]:
        """
        Request ``path`` of ``root`` in memory.

        :return: The status and the body.
        """
        stub: Any = StubTreq(root)
        response = self.successResultOf(
            stub.request(method, "http://proxy.test" + path)
        )
        body = self.successResultOf(stub.content(response))
        return response.code, body.decode()

    def test_inflight(self) -> None:
        """
        On a node of a cluster (cluster settings, and downloads through a
        cluster), ``/-/inflight/`` serves its downloads in flight to its
        peers; a node without either has no such path.
        """
        config = attrs.evolve(
            self.config, cluster=ClusterConfig("http://n1:8080", b"s" * 16)
        )
        self.assertNotIn("/-/inflight", _paths(self.root(config)))
        cluster = ClusterFetch(
            cast(Any, None), streaming(offline_fetch), cast(Any, None)
        )
        self.downloads = Downloads(
            self.cache, streaming(offline_fetch), self.clock, cluster=cluster
        )
        self.assertNotIn("/-/inflight", _paths(self.root(self.config)))
        self.assertEqual(_paths(self.root(config))["/-/inflight"], InflightResource)

    def test_unknown_paths(self) -> None:
        """
        A path the tree does not have, at the root or under ``/-/``, gets
        the proxy's own 404 page pointing at the index, not Twisted's stock
        "No Such Resource".
        """
        root = self.root(self.config)
        for path in ("/nowhere", "/-/nowhere", "/nowhere/deeper"):
            code, body = self.get(root, path)
            self.assertEqual(code, 404, path)
            self.assertIn("The package index is at simple/", body)
            self.assertNotIn("No Such Resource", body)

    def test_cache_control_off(self) -> None:
        """
        Without an admin token, a request for cache control (``DELETE
        /-/cache/...``) is a 404 that says cache control is off and how to
        turn it on.
        """
        code, body = self.get(
            self.root(self.config), "/-/cache/pages/pypi/demo", "DELETE"
        )
        self.assertEqual(code, 404)
        self.assertIn("Cache control is off", body)
        self.assertIn("--admin-token", body)

    def test_uploads_need_runner(self) -> None:
        """
        Uploads cannot be mounted without a clock and a runner.
        """
        config = ProxyConfig(
            indexes=self.config.indexes,
            locals=self.config.locals,
            cache_dir=self.config.cache_dir,
            upload_users=self.users,
        )
        self.assertRaises(ValueError, self.root, config, clock=self.clock)
        self.assertRaises(ValueError, self.root, config, run=run_now)
