"""
End-to-end: ``export s3://BUCKET/PREFIX`` into a real SeaweedFS bucket, then
real pip and real uv installing straight from SeaweedFS's own HTTP
endpoints through the export's ``find-links.html`` page (``--no-index
--find-links URL``), with no web server in front.

SeaweedFS serves objects to unauthenticated clients in two places: its
filer (``http://FILER/buckets/<bucket>/<key>``), always, whatever the S3
API's credentials; and its S3 API (``http://S3/<bucket>/<key>``) when it
runs with no identity configured (no AWS keys in weed's environment), as
anonymous reads.  Neither maps a directory URL to its ``index.html``, but
a find-links page is one object whose links are relative to it.
"""

from __future__ import annotations

import sys
from typing import Any

from botocore.credentials import Credentials
from twisted.internet import reactor
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest
from twisted.web.client import Agent, HTTPConnectionPool

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy
from tests.realinstall import RealInstallTestCase, uv_binary
from tests.seaweed import REGION, S3Keys, SeaweedServer, shared_server
from tests.wheels import build_wheel
from twisted_pypi.app.compose import make_page_caches
from twisted_pypi.mirror.export import export_tree
from twisted_pypi.mirror.exporttree import BucketTree
from twisted_pypi.mirror.findlinks import FIND_LINKS
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.signing import Signer
from twisted_pypi.upstream.offline import OfflineClient

APP = build_wheel("tpflapp", "1.0", requires=["tpfllib"])
LIB = build_wheel("tpfllib", "2.0")

#: The prefix the tree is exported under.
PREFIX = "mirror/"

#: What an install of ``tpflapp`` leaves in its target.
INSTALLED = {"tpflapp-1.0.dist-info", "tpfllib-2.0.dist-info"}


def _pip_argv(page: str, target: FilePath[str], *requirements: str) -> list[str]:
    """
    This Python's pip installing ``requirements`` from the find-links
    ``page`` only, into ``target``.
    """
    return [
        sys.executable, "-m", "pip", "install", "--isolated",
        "--no-cache-dir", "--disable-pip-version-check", "--no-input",
        "--progress-bar", "off", "--retries", "0", "--timeout", "30",
        "--no-index", "--find-links", page, "--target", target.path,
        *requirements,
    ]  # fmt: skip


def _uv_argv(page: str, target: FilePath[str], *requirements: str) -> list[str]:
    """
    ``uv pip install`` for this Python installing ``requirements`` from the
    find-links ``page`` only, into ``target``.
    """
    uv = uv_binary()
    if uv is None:
        raise SkipTest("uv is not installed")
    return [
        uv, "pip", "install", "--no-cache", "--no-progress", "--color", "never",
        "--python", sys.executable, "--no-index", "--find-links", page,
        "--target", target.path, *requirements,
    ]  # fmt: skip


class FindLinksFromBucketTests(RealInstallTestCase):
    """
    An export to a bucket, installed from SeaweedFS's HTTP endpoints.
    """

    timeout = 240

    def setUp(self) -> None:
        """A cache filled through an online proxy."""
        super().setUp()
        index = FakeIndex(mode="json")
        index.add("tpflapp", FakeFile(APP))
        index.add("tpfllib", FakeFile(LIB))
        self.online = online = MemoryProxy(index, self.scratch())
        for path in ("/simple/tpflapp/", "/simple/tpfllib/"):
            online.get(path)
        for wheel in (APP, LIB):
            online.get(online.file_path(wheel.filename))
            online.get(online.file_path(wheel.filename + ".metadata"))

    async def export(self, server: SeaweedServer, bucket: str) -> Any:
        """Export the cache to ``s3://BUCKET/mirror/`` of ``server``."""
        keys = server.keys or S3Keys("anyone", "anything")
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        signer = Signer(Credentials(keys.access_key, keys.secret_key), REGION)
        client = S3Client(Agent(reactor, pool=pool), server.endpoint, signer, reactor)
        online = self.online
        pages = make_page_caches(
            online.config, OfflineClient(), online.clock, online.cache
        )
        tree = BucketTree(client, bucket, PREFIX)
        return await export_tree(tree, pages, online.cache, [], online.config)

    async def assertInstalls(self, page: str) -> None:
        """Real pip and real uv each install the project from ``page``."""
        for argv in (_pip_argv, _uv_argv):
            target = self.scratch()
            code, output = await self.run_process(
                argv(page, target, "tpflapp"), self.env
            )
            self.assertEqual(code, 0, output)
            self.assertEqual(
                {n for n in target.listdir() if n.endswith(".dist-info")}, INSTALLED
            )

    async def test_from_the_filer(self) -> None:
        """
        pip and uv install the project and its dependency from the filer's
        URL of the exported ``find-links.html``, with no credentials, on a
        store whose S3 API requires signed requests.
        """
        server = shared_server()
        bucket = server.new_bucket("findlinks")
        await self.export(server, bucket)
        status, _, _ = server.request(
            "GET", f"/{bucket}/{PREFIX}{FIND_LINKS}", keys=S3Keys("x", "y")
        )
        self.assertEqual(status, 403)
        page = f"http://127.0.0.1:{server.filer_port}/buckets/{bucket}/{PREFIX}{FIND_LINKS}"
        await self.assertInstalls(page)

    async def test_from_the_anonymous_s3_api(self) -> None:
        """
        pip and uv install the project and its dependency from the S3 API's
        URL of the exported ``find-links.html``, unsigned, on a SeaweedFS
        that runs with no identities configured.
        """
        server = SeaweedServer(keys=None)
        self.addCleanup(server.close)
        server.start()
        bucket = server.new_bucket("findlinks")
        await self.export(server, bucket)
        page = f"{server.endpoint}/{bucket}/{PREFIX}{FIND_LINKS}"
        await self.assertInstalls(page)
