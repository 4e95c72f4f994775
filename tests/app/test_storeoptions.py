"""
Tests for :mod:`twisted_pypi.app.storeoptions`: the store's and the
cluster's options, checked together, from the command line, the TOML file
and the environment.
"""

from __future__ import annotations

import os

from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.storeoptions import check_cache_dir
from twisted_pypi.app.tap import Options
from twisted_pypi.core.config import ClusterConfig, ProxyConfig

SECRET = "a-cluster-secret-0123"
STORE = ["--store", "s3://bkt/fleet", "--s3-endpoint", "http://127.0.0.1:8333"]


class ClusterOptionsTests(SynchronousTestCase):
    """
    ``--node-url`` and ``--cluster-secret``.
    """

    def setUp(self) -> None:
        """A cache directory."""
        self.cache = self.mktemp()

    def parse(self, *args: str, environ: dict[str, str] | None = None) -> ProxyConfig:
        """The configuration ``args`` (and ``environ``) make."""
        options = Options()
        options.environ = environ or {}
        options.parseOptions(["--cache-dir", self.cache, *args])
        config = options["config"]
        assert isinstance(config, ProxyConfig)
        return config

    def error(self, *args: str) -> str:
        """The usage error ``args`` make."""
        with self.assertRaises(UsageError) as caught:
            self.parse(*args)
        return str(caught.exception)

    def test_none(self) -> None:
        """Without the options, a node takes part in no cluster."""
        self.assertIsNone(self.parse(*STORE).cluster)
        self.assertIsNone(self.parse().cluster)

    def test_both(self) -> None:
        """
        With both, the node's URL (without its trailing slash) and the
        secret are in the configuration; the secret is not in its repr.
        """
        config = self.parse(
            *STORE, "--node-url", "http://10.0.0.5:8080/", "--cluster-secret", SECRET
        )
        self.assertEqual(
            config.cluster, ClusterConfig("http://10.0.0.5:8080", SECRET.encode())
        )
        self.assertNotIn(SECRET, repr(config))

    def test_secret_from_file(self) -> None:
        """``--cluster-secret @FILE`` reads the secret from the file."""
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(SECRET + "\n")
        config = self.parse(
            *STORE, "--node-url", "http://n1:8080", "--cluster-secret", "@" + path
        )
        assert config.cluster is not None
        self.assertEqual(config.cluster.secret, SECRET.encode())

    def test_from_environment(self) -> None:
        """Both can come from ``PYPIPROXY_*`` variables."""
        environ = {
            "PYPIPROXY_NODE_URL": "http://n2:8080",
            "PYPIPROXY_CLUSTER_SECRET": SECRET,
        }
        config = self.parse(*STORE, environ=environ)
        self.assertEqual(
            config.cluster, ClusterConfig("http://n2:8080", SECRET.encode())
        )

    def test_one_alone(self) -> None:
        """One without the other is an error saying they go together."""
        for args in (["--node-url", "http://n1:8080"], ["--cluster-secret", SECRET]):
            self.assertIn("go together", self.error(*STORE, *args))

    def test_without_store(self) -> None:
        """Without ``--store`` they are an error saying they need it."""
        message = self.error("--node-url", "http://n1:8080", "--cluster-secret", SECRET)
        self.assertIn("need --store", message)

    def test_bad_values(self) -> None:
        """
        A node URL that is not an HTTP URL, or a short secret, is an error
        naming the option, never quoting the secret.
        """
        message = self.error(
            *STORE, "--node-url", "ftp://n1", "--cluster-secret", SECRET
        )
        self.assertIn("--node-url", message)
        message = self.error(
            *STORE, "--node-url", "http://n1:8080", "--cluster-secret", "short-one"
        )
        self.assertIn("--cluster-secret", message)
        self.assertNotIn("short-one", message)


class CacheDirTests(SynchronousTestCase):
    """
    :func:`check_cache_dir`.
    """

    def test_file(self) -> None:
        """A cache directory inside a file is refused."""
        path = self.mktemp()
        with open(path, "w"):
            pass
        with self.assertRaises(UsageError) as caught:
            check_cache_dir(os.path.join(path, "cache"))
        self.assertIn("is not a directory", str(caught.exception))

    def test_new(self) -> None:
        """A directory still to be made, under a writable one, is fine."""
        check_cache_dir(os.path.join(os.path.abspath(self.mktemp()), "a", "b"))
