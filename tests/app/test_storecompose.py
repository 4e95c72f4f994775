"""
Tests for :mod:`twisted_pypi.app.storecompose`: the stores a configuration
asks for, and nothing of the S3 stack when it asks for none.
"""

from __future__ import annotations

import os
import subprocess
import sys

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests import REPOSITORY
from tests.seaweed import REGION, shared_server
from twisted_pypi.app.storecompose import record_store
from twisted_pypi.core.config import ProxyConfig, StoreConfig
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.storage.recordstore import Record


class LocalTests(SynchronousTestCase):
    """
    Without ``--store`` the records are local and botocore is never loaded.
    """

    def test_local_records(self) -> None:
        """
        Without a store, records of an area live in the cache directory.
        """
        config = ProxyConfig(cache_dir=self.mktemp())
        records = record_store(config, "pages", ".page")
        self.assertIsInstance(records, LocalRecords)
        records.save("first", "demo", Record({"a": 1}, b"body"))
        where = FilePath(config.cache_dir).child("pages").child("first")
        self.assertTrue(where.child("demo.page").exists())

    def test_no_botocore(self) -> None:
        """
        Importing the service, its options and the command line, and building
        local record stores, leaves botocore unloaded (a proxy without a
        store does not carry its ten megabytes).
        """
        script = (
            "import sys\n"
            "import twisted_pypi.app.cli, twisted_pypi.app.service\n"
            "import twisted_pypi.app.tap, twisted_pypi.app.compose\n"
            "from twisted_pypi.app.storecompose import record_store\n"
            "from twisted_pypi.core.config import ProxyConfig\n"
            "record_store(ProxyConfig(cache_dir='unused'), 'pages', '.page')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'botocore'))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        self.assertEqual(out.strip(), "[]")


class ObservedTests(SynchronousTestCase):
    """
    The record stores' requests to a shared store are told to an observer.
    """

    def test_requests_observed(self) -> None:
        """
        Each request the blocking record client makes is observed with its
        method, status and latency: a save, a load and a load of a record
        that is not there.
        """
        server = shared_server()
        keys = server.keys
        assert keys is not None
        for name, value in (
            ("AWS_ACCESS_KEY_ID", keys.access_key),
            ("AWS_SECRET_ACCESS_KEY", keys.secret_key),
        ):
            self.patch(os, "environ", {**os.environ, name: value})
        config = ProxyConfig(
            cache_dir=self.mktemp(),
            store=StoreConfig(server.new_bucket(), "", server.endpoint, REGION),
        )
        seen: list[tuple[str, int | None, float, str]] = []
        records = record_store(
            config, "pages", ".page", observe=lambda *a: seen.append(a)
        )
        record = Record({"url": "https://x/simple/six/"}, b"six")
        self.assertTrue(records.save("pypi", "six", record))
        self.assertEqual(records.load("pypi", "six"), record)
        self.assertIsNone(records.load("pypi", "absent"))
        self.assertEqual(
            [(method, code) for method, code, _, _ in seen],
            [("PUT", 200), ("GET", 200), ("GET", 404)],
        )
        self.assertTrue(all(seconds >= 0 for _, _, seconds, _ in seen))

    def test_one_client_for_the_records(self) -> None:
        """
        The page and JSON record stores of one store share one botocore
        client, and each of its requests is observed once however many
        stores were built with the observer.
        """
        server = shared_server()
        keys = server.keys
        assert keys is not None
        self.patch(
            os,
            "environ",
            {
                **os.environ,
                "AWS_ACCESS_KEY_ID": keys.access_key,
                "AWS_SECRET_ACCESS_KEY": keys.secret_key,
            },
        )
        config = ProxyConfig(
            cache_dir=self.mktemp(),
            store=StoreConfig(server.new_bucket(), "", server.endpoint, REGION),
        )
        seen: list[tuple[str, int | None, float, str]] = []
        pages = record_store(
            config, "pages", ".page", observe=lambda *a: seen.append(a)
        )
        documents = record_store(
            config, "pypi-json", ".json", observe=lambda *a: seen.append(a)
        )
        self.assertIs(pages._client, documents._client)  # type: ignore[attr-defined]
        self.assertIsNone(documents.load("pypi", "six"))
        self.assertEqual([(m, c) for m, c, _, _ in seen], [("GET", 404)])
