"""
Tests for :mod:`twisted_pypi.app.tap` and the twistd plugin.
"""

from __future__ import annotations

import os

from twisted.application.service import IServiceMaker
from twisted.plugin import getPlugins
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from tests import REPOSITORY
from twisted_pypi.app.tap import Options, default_cache_dir
from twisted_pypi.core.config import DEFAULT_INDEX, ProxyConfig


def parse(*args: str) -> ProxyConfig:
    """
    Parse command-line arguments and return the configuration they make.
    """
    options = Options()
    options.parseOptions(list(args))
    config = options["config"]
    assert isinstance(config, ProxyConfig)
    return config


class PluginTests(SynchronousTestCase):
    """
    The ``pypiproxy`` twistd plugin.
    """

    def test_discoverable(self) -> None:
        """
        Twisted's plugin system finds a service maker with the tapname
        ``pypiproxy`` that provides ``IServiceMaker``.
        """
        makers = {m.tapname: m for m in getPlugins(IServiceMaker)}
        self.assertIn("pypiproxy", makers)
        self.assertTrue(verifyObject(IServiceMaker, makers["pypiproxy"]))

    def test_no_package_init(self) -> None:
        """
        Neither ``twisted/`` nor ``twisted/plugins/`` of the project has an
        ``__init__.py``: a plugin folder must be a namespace folder, or it would
        hide Twisted's own plugins.
        """
        root = REPOSITORY
        for folder in ("twisted", os.path.join("twisted", "plugins")):
            self.assertFalse(
                os.path.exists(os.path.join(root, folder, "__init__.py")), folder
            )


class OptionsTests(SynchronousTestCase):
    """
    Parsing the proxy's options into a :class:`ProxyConfig`.
    """

    def setUp(self) -> None:
        self.cache = self.mktemp()

    def test_defaults(self) -> None:
        """
        With no options the proxy listens on tcp:8080, uses PyPI, keeps no
        size limit, a 600 s TTL, relative links, and the user's cache
        directory.
        """
        config = parse()
        self.assertEqual(config.listen, ("tcp:8080",))
        self.assertEqual([i.url for i in config.indexes], [DEFAULT_INDEX])
        self.assertEqual(config.indexes[0].ttl, 600.0)
        self.assertEqual(config.indexes[0].name, "pypi.org")
        self.assertIsNone(config.cache_size)
        self.assertIsNone(config.base_url)
        self.assertEqual(config.cache_dir, os.path.abspath(default_cache_dir()))
        self.assertIn("twisted-pypi", config.cache_dir)

    def test_listen_repeatable(self) -> None:
        """
        ``--listen`` may be given several times; each endpoint is kept in
        order.
        """
        config = parse(
            "--cache-dir",
            self.cache,
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--listen",
            "unix:/tmp/pypiproxy.sock",
        )
        self.assertEqual(
            config.listen, ("tcp:0:interface=127.0.0.1", "unix:/tmp/pypiproxy.sock")
        )

    def test_all_options(self) -> None:
        """
        Every option lands in the configuration, converted to its type.
        """
        config = parse(
            "--cache-dir",
            self.cache,
            "--index",
            "http://127.0.0.1:9000/simple",
            "--cache-size",
            "500M",
            "--index-ttl",
            "30",
            "--base-url",
            "https://pypi.example.com/mirror",
        )
        self.assertEqual(config.indexes[0].url, "http://127.0.0.1:9000/simple/")
        self.assertEqual(config.indexes[0].name, "127.0.0.1:9000")
        self.assertEqual(config.indexes[0].ttl, 30.0)
        self.assertEqual(config.cache_size, 500 * 1024 * 1024)
        self.assertEqual(config.base_url, "https://pypi.example.com/mirror/")
        self.assertEqual(config.cache_dir, os.path.abspath(self.cache))

    def test_bad_values(self) -> None:
        """
        A bad value for any option is a ``UsageError`` whose message names the
        problem.
        """
        cases = [
            (["--cache-size", "lots"], "not a size"),
            (["--cache-size", "0"], "larger than zero"),
            (["--index-ttl", "soon"], "not a number of seconds"),
            (["--index-ttl", "-5"], "0 or more"),
            (["--index", "ftp://example.com/simple/"], "http"),
            (["--index", "pypi.org/simple"], "absolute"),
            (["--base-url", "/relative/"], "absolute"),
            (["--listen", "tcp:notaport"], "not a valid endpoint"),
            (["--listen", "bogus:1234"], "not a valid endpoint"),
        ]
        for args, message in cases:
            with self.assertRaises(UsageError, msg=args) as caught:
                parse("--cache-dir", self.cache, *args)
            self.assertIn(message, str(caught.exception), args)

    def test_upload_users(self) -> None:
        """
        ``--upload-users`` needs a ``--local`` index and a valid users file,
        and lands (absolute) in the configuration with the upload limit.
        """
        import bcrypt

        local = self.mktemp()
        os.makedirs(local)
        users = os.path.abspath(self.mktemp())
        hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
        with open(users, "w") as f:
            f.write(f"alice:{hashed}\n")
        config = parse(
            "--cache-dir", self.cache,
            "--local", f"private={local}",
            "--upload-users", users,
            "--max-upload-size", "10M",
        )  # fmt: skip
        self.assertEqual(config.upload_users, users)
        self.assertEqual(config.max_upload_size, 10 << 20)
        with self.assertRaises(UsageError) as caught:
            parse("--cache-dir", self.cache, "--upload-users", users)
        self.assertIn("needs a --local", str(caught.exception))
        with open(users, "w") as f:
            f.write("alice:plaintext\n")
        with self.assertRaises(UsageError) as caught:
            parse("--cache-dir", self.cache, "--local", f"private={local}",
                  "--upload-users", users)  # fmt: skip
        self.assertIn("--upload-users", str(caught.exception))

    def test_cache_dir_is_a_file(self) -> None:
        """
        A cache directory that is an existing file is refused with a
        ``UsageError``.
        """
        with open(self.cache, "w"):
            pass
        with self.assertRaises(UsageError) as caught:
            parse("--cache-dir", self.cache)
        self.assertIn("not a directory", str(caught.exception))
