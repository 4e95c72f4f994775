"""
End-to-end: ``export s3://BUCKET/PREFIX`` into a real SeaweedFS bucket, and
real pip installing from that bucket over plain HTTP.

SeaweedFS cannot serve a static index's directory URLs itself: its S3
gateway answers ``.../simple/tpbapp/`` (a key ending in ``/``) with an
error, and its filer answers it with its own directory listing, not the
``index.html`` object inside (AWS S3 website endpoints and CDNs do map
``/`` to ``index.html``).  So the test puts a tiny loopback web server in
front of the bucket, as a website endpoint would be: it maps a URL to the
object of that key (``index.html`` for a URL ending in ``/``) read through
the S3 API, with the object's own ``Content-Type``.
"""

from __future__ import annotations

from typing import Any

from botocore.credentials import Credentials
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy
from tests.realinstall import RealInstallTestCase, pip_argv, port_of
from tests.seaweed import REGION, shared_server
from tests.wheels import build_wheel
from twisted_pypi.app.compose import make_page_caches
from twisted_pypi.mirror.export import export_tree
from twisted_pypi.mirror.exporttree import BucketTree
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.errors import NotFound
from twisted_pypi.objectstore.signing import Signer
from twisted_pypi.upstream.offline import OfflineClient

APP = build_wheel("tpbapp", "1.0", requires=["tpblib"])
LIB = build_wheel("tpblib", "2.0")

#: The prefix the tree is exported under.
PREFIX = "mirror/"


class _BucketWebsite(Resource):
    """
    A bucket's website endpoint, for the test: ``GET /PATH`` is the object
    ``PREFIX/PATH`` (``PREFIX/PATH/index.html`` for ``/PATH/``).
    """

    isLeaf = True

    def __init__(self, client: S3Client, bucket: str) -> None:
        super().__init__()
        self._client = client
        self._bucket = bucket
        self.paths: list[str] = []

    def render_GET(self, request: Request) -> int:
        """Answer with the object, or 404."""
        path = request.path.decode()
        self.paths.append(path)
        key = PREFIX + path.lstrip("/") + ("index.html" if path.endswith("/") else "")

        async def answer() -> None:
            try:
                info, data = await self._client.read(self._bucket, key, 1 << 24)
            except NotFound:
                request.setResponseCode(404)
                request.finish()
                return
            request.setHeader(b"content-type", info.content_type.encode())
            request.write(data)
            request.finish()

        Deferred.fromCoroutine(answer())
        return NOT_DONE_YET


class BucketExportTests(RealInstallTestCase):
    """
    An export to a bucket, served as a static site.
    """

    timeout = 180

    def setUp(self) -> None:
        """A cache filled through an online proxy, and a new bucket."""
        super().setUp()
        index = FakeIndex(mode="json")
        index.add("tpbapp", FakeFile(APP))
        index.add("tpblib", FakeFile(LIB))
        self.online = online = MemoryProxy(index, self.scratch())
        for path in ("/simple/tpbapp/", "/simple/tpblib/"):
            online.get(path)
        for wheel in (APP, LIB):
            online.get(online.file_path(wheel.filename))
            online.get(online.file_path(wheel.filename + ".metadata"))
        self.server = shared_server()
        self.bucket = self.server.new_bucket("export")
        keys = self.server.keys
        assert keys is not None
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        signer = Signer(Credentials(keys.access_key, keys.secret_key), REGION)
        self.client = S3Client(
            Agent(reactor, pool=pool), self.server.endpoint, signer, reactor
        )

    async def export(self) -> Any:
        """Export the cache to ``s3://BUCKET/mirror/``; the report."""
        online = self.online
        pages = make_page_caches(
            online.config, OfflineClient(), online.clock, online.cache
        )
        tree = BucketTree(self.client, self.bucket, PREFIX)
        return await export_tree(tree, pages, online.cache, [], online.config)

    def content_type(self, relative: str) -> str:
        """The content type of an exported object, asked of the S3 API."""
        status, headers, _ = self.server.request(
            "HEAD", f"/{self.bucket}/{PREFIX}{relative}"
        )
        self.assertEqual(status, 200, relative)
        return headers["content-type"]

    async def test_pip_installs_from_bucket(self) -> None:
        """
        The tree is written with content types set; a second export
        uploads nothing; pip installs the project and its dependency from
        the bucket served as a static site.
        """
        report = await self.export()
        self.assertEqual(report.projects, ["tpbapp", "tpblib"])
        self.assertEqual(report.copied, 2)
        expected = {
            "simple/index.html": "text/html; charset=utf-8",
            "simple/tpbapp/index.html": "text/html; charset=utf-8",
            "simple/tpbapp/index.v1_json": "application/vnd.pypi.simple.v1+json",
            f"packages/tpbapp/{APP.filename}": "application/octet-stream",
            f"packages/tpbapp/{APP.filename}.metadata": "text/plain; charset=utf-8",
        }
        for relative, kind in expected.items():
            self.assertEqual(self.content_type(relative), kind)
        again = await self.export()
        self.assertEqual((again.written, again.copied), ([], 0))
        website = _BucketWebsite(self.client, self.bucket)
        factory: Any = Site(website)
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        target = self.scratch()
        url = f"http://127.0.0.1:{port_of(port)}/simple/"
        code, output = await self.run_process(pip_argv(url, target, "tpbapp"), self.env)
        self.assertEqual(code, 0, output)
        self.assertEqual(
            {n for n in target.listdir() if n.endswith(".dist-info")},
            {"tpbapp-1.0.dist-info", "tpblib-2.0.dist-info"},
        )
        self.assertIn(f"/packages/tpblib/{LIB.filename}", website.paths)
