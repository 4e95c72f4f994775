"""
Tests for :mod:`twisted_pypi.app.cachecli`: which cache directory the
``pypiproxy cache`` commands work on. The commands themselves run on a filled
cache directory in ``tests/storage/test_cachedir.py``.
"""

from __future__ import annotations

import os

from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.cachecli import StatsOptions, find_cache_dir


class CacheDirOptionTests(SynchronousTestCase):
    """
    Which directory the commands work on.
    """

    def test_precedence(self) -> None:
        """
        ``--cache-dir`` wins over ``PYPIPROXY_CACHE_DIR``, which wins over
        the settings file's ``cache-dir``; the file comes from ``--config``
        or ``PYPIPROXY_CONFIG``.
        """
        a, b, c = (self.mktemp() for _ in range(3))
        for path in (a, b, c):
            os.makedirs(path)
        config = self.mktemp()
        with open(config, "w") as f:
            f.write(f'cache-dir = "{c}"\nindex-ttl = 5\n')
        env = {"PYPIPROXY_CACHE_DIR": b}
        self.assertEqual(find_cache_dir(a, config, env), os.path.abspath(a))
        self.assertEqual(find_cache_dir(None, config, env), os.path.abspath(b))
        self.assertEqual(find_cache_dir(None, config, {}), os.path.abspath(c))
        from_env = {"PYPIPROXY_CONFIG": config}
        self.assertEqual(find_cache_dir(None, None, from_env), os.path.abspath(c))

    def test_missing_directory(self) -> None:
        """
        A cache directory that does not exist is a usage error.
        """
        with self.assertRaises(UsageError) as caught:
            find_cache_dir(self.mktemp(), None, {})
        self.assertIn("does not exist", str(caught.exception))


class StoreOptionTests(SynchronousTestCase):
    """
    Which shared store the commands work on.
    """

    def parse(self, args: list[str], environ: dict[str, str]) -> StatsOptions:
        """Parse ``cache stats`` options with ``environ``."""
        options = StatsOptions()
        options.environ = environ
        options.parseOptions(args)
        return options

    def test_store_precedence(self) -> None:
        """
        ``--store`` wins over ``PYPIPROXY_STORE``, which wins over the
        settings file's ``store``; the endpoint is found the same way; with
        a store, the cache directory need not exist.
        """
        config = self.mktemp()
        with open(config, "w") as f:
            f.write('store = "s3://file-bucket/p"\ns3-endpoint = "http://f:1"\n')
        nowhere = ["--cache-dir", self.mktemp()]
        env = {"PYPIPROXY_STORE": "s3://env-bucket", "PYPIPROXY_CONFIG": config}
        given = self.parse(["--store", "s3://cli-bucket", *nowhere], env)
        self.assertEqual(given["store"].bucket, "cli-bucket")
        self.assertEqual(given["store"].endpoint, "http://f:1")
        self.assertEqual(self.parse(nowhere, env)["store"].bucket, "env-bucket")
        from_file = self.parse(nowhere, {"PYPIPROXY_CONFIG": config})["store"]
        self.assertEqual((from_file.bucket, from_file.prefix), ("file-bucket", "p/"))
        with self.assertRaises(UsageError):
            self.parse(nowhere, {})

    def test_endpoint_without_store(self) -> None:
        """
        ``--s3-endpoint`` without a store is a usage error.
        """
        path = self.mktemp()
        os.makedirs(path)
        with self.assertRaises(UsageError):
            self.parse(["--cache-dir", path, "--s3-endpoint", "http://x:1"], {})
