"""
Tests for ``pypiproxy cache list|stats|purge|verify --store`` over
:mod:`twisted_pypi.storage.bucketfiles`, on a real S3-compatible server
(the shared SeaweedFS of :mod:`tests.seaweed`, a bucket per test) holding
what a proxy cached: its files, pages and JSON documents, in the layout
``--store`` writes.
"""

from __future__ import annotations

import io
import os
from typing import Any
from unittest import mock

from botocore.config import Config
from botocore.session import get_session
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.apifakes import ApiProxy, JsonFakeIndex
from tests.fakeindex import FakeFile
from tests.seaweed import REGION, shared_server
from tests.wheels import build_wheel
from twisted_pypi.app import cli
from twisted_pypi.app.cachecli import run

DEMO = build_wheel("demo", "1.0")
OTHER = build_wheel("other", "2.0")
PREFIX = "team/"


class StoreCommandTests(SynchronousTestCase):
    """
    The ``cache`` commands on a shared store that a proxy's cache was
    copied into (and no cache directory on this machine).
    """

    def setUp(self) -> None:
        """Fill a cache through a proxy, then copy it into a new bucket."""
        index = JsonFakeIndex()
        index.add("demo", FakeFile(DEMO))
        index.add("other", FakeFile(OTHER))
        cache = FilePath(self.mktemp())
        cache.makedirs()
        self.proxy = ApiProxy(index, cache)
        self.proxy.get("/simple/")
        self.proxy.get("/pypi/demo/json")
        for wheel in (DEMO, OTHER):
            path = self.proxy.file_path(wheel.filename)
            self.assertEqual(self.proxy.get(path).body, wheel.content)
            self.assertEqual(self.proxy.get(path + ".metadata").body, wheel.metadata)
        self.server = shared_server()
        self.bucket = self.server.new_bucket()
        keys = self.server.keys
        assert keys is not None
        env = {
            "AWS_ACCESS_KEY_ID": keys.access_key,
            "AWS_SECRET_ACCESS_KEY": keys.secret_key,
        }
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)
        client: Any = get_session().create_client(
            "s3",
            endpoint_url=self.server.endpoint,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}),
        )
        self.s3 = client
        for area in ("files", "pages", "pypi-json"):
            top = cache.child(area)
            for found in top.walk():
                if found.isfile() and not found.basename().startswith("."):
                    relative = "/".join(found.segmentsFrom(top))
                    self.s3.put_object(
                        Bucket=self.bucket,
                        Key=f"{PREFIX}{area}/{relative}",
                        Body=found.getContent(),
                    )
        self.nowhere = self.mktemp()  # no cache directory: it need not exist

    def command(self, *args: str) -> tuple[int, str]:
        """
        Run ``pypiproxy cache COMMAND --store ... ARGS``.

        :return: The exit code and the output.
        """
        options = cli.Options()
        command, *rest = args
        store = [
            "--store",
            f"s3://{self.bucket}/{PREFIX}",
            "--s3-endpoint",
            self.server.endpoint,
            "--cache-dir",
            self.nowhere,
        ]
        options.parseOptions(["cache", command, *store, *rest])
        out = io.StringIO()
        return run(options.subOptions, out), out.getvalue()

    def object_key(self, filename: str) -> str:
        """The object of a file the fake index serves."""
        return PREFIX + self.proxy.file_path(filename)[1:]

    def test_list_and_stats(self) -> None:
        """
        ``list`` names the store's pages and file objects with their
        projects; ``stats`` counts them and names the store.
        """
        code, out = self.command("list")
        name = self.proxy.index_name
        self.assertEqual(code, 0)
        self.assertIn(f"page  {name}  demo  fetched ", out)
        wheel = f"file  {name}  demo  {len(DEMO.content)}  "
        self.assertIn(wheel + self.proxy.file_path(DEMO.filename)[1:] + "\n", out)
        code, out = self.command("stats")
        self.assertIn(f"store              s3://{self.bucket}/{PREFIX}\n", out)
        self.assertIn("files              4 (", out)
        self.assertIn("project pages      2\n", out)
        self.assertIn("project lists      1\n", out)

    def test_verify(self) -> None:
        """
        ``verify`` streams each object through its page's hash: a corrupt
        object is deleted (exit code 1), the good ones are kept.
        """
        self.assertEqual(self.command("verify")[0], 0)
        self.s3.put_object(
            Bucket=self.bucket, Key=self.object_key(DEMO.filename), Body=b"X" * 10
        )
        code, out = self.command("verify")
        self.assertEqual(code, 1)
        self.assertIn("3 good, 1 corrupt (deleted), 0 unverifiable", out)
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=PREFIX + "files/")
        names = {item["Key"] for item in listed.get("Contents", ())}
        self.assertNotIn(self.object_key(DEMO.filename), names)
        self.assertIn(self.object_key(OTHER.filename), names)

    def test_purge(self) -> None:
        """
        ``purge PROJECT`` deletes the project's page record, JSON documents
        and file objects in the store; the others stay.
        """
        code, out = self.command("purge", "demo")
        self.assertEqual(code, 0)
        self.assertIn(
            "1 pages, 1 JSON documents, 2 files, 0 core metadata records deleted", out
        )
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=PREFIX)
        names = {item["Key"] for item in listed.get("Contents", ())}
        self.assertFalse([n for n in names if "demo" in n], names)
        self.assertIn(self.object_key(OTHER.filename), names)
