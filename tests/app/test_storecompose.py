"""
Tests for :mod:`twisted_pypi.app.storecompose`: the stores a configuration
asks for, and nothing of the S3 stack when it asks for none.
"""

from __future__ import annotations

import subprocess
import sys

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests import REPOSITORY
from twisted_pypi.app.storecompose import record_store
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.storage.interfaces import Record
from twisted_pypi.storage.records import LocalRecords


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
