"""
Tests for :mod:`twisted_pypi.app.sourceoptions`: the options that name where
projects come from, and the indexes they make, checked together; on their
own and through :class:`twisted_pypi.app.tap.Options`.
"""

from __future__ import annotations

import os

from twisted.python.filepath import FilePath
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.sourceoptions import SOURCE_PARAMETERS, SourceOptions
from twisted_pypi.app.tap import Options
from twisted_pypi.core.config import DEFAULT_INDEX, LocalConfig, ProxyConfig


class _Sources(SourceOptions):
    """The source options alone."""

    optParameters = SOURCE_PARAMETERS


class SourceOptionsTests(SynchronousTestCase):
    """
    :class:`SourceOptions` on its own.
    """

    def test_default_index(self) -> None:
        """
        Without ``--index``, the index is PyPI's, with ``--index-ttl``.
        """
        options = _Sources()
        options.parseOptions(["--index-ttl", "30"])
        [index] = options.indexes(self.mktemp(), None)
        self.assertEqual((index.url, index.ttl), (DEFAULT_INDEX, 30.0))

    def test_route_checked(self) -> None:
        """A route is checked against the indexes given."""
        options = _Sources()
        options.parseOptions(["--index", "a=https://a.example/", "--route", "x=b"])
        with self.assertRaises(UsageError) as caught:
            options.indexes(self.mktemp(), None)
        self.assertIn("there is no index named 'b'", str(caught.exception))


class OptionsTests(SynchronousTestCase):
    """
    The source options through :class:`twisted_pypi.app.tap.Options`.
    """

    def setUp(self) -> None:
        self.local = FilePath(self.mktemp())
        self.local.makedirs()

    def parse(self, *args: str) -> ProxyConfig:
        """
        Parse ``args`` (with a temporary cache directory) into a
        configuration.
        """
        options = Options()
        options.parseOptions(["--cache-dir", self.mktemp(), *args])
        config = options["config"]
        assert isinstance(config, ProxyConfig)
        return config

    def usage_error(self, *args: str) -> str:
        """
        The message of the ``UsageError`` that parsing ``args`` raises.
        """
        with self.assertRaises(UsageError) as caught:
            self.parse(*args)
        return str(caught.exception)

    def test_indexes_in_order(self) -> None:
        """
        Indexes keep the order given (their priority) and their settings;
        ``--index-ttl`` is the TTL of those that name none.
        """
        config = self.parse(
            "--index-ttl", "30",
            "--index", "pypi=https://pypi.org/simple/",
            "--index", "https://download.pytorch.org/whl/cpu,ttl=3600",
            "--index", "corp=https://alice:pw@pypi.corp.example/simple/",
        )  # fmt: skip
        self.assertEqual(
            [(i.name, i.url, i.ttl) for i in config.indexes],
            [
                ("pypi", "https://pypi.org/simple/", 30.0),
                (
                    "download.pytorch.org",
                    "https://download.pytorch.org/whl/cpu/",
                    3600.0,
                ),
                ("corp", "https://pypi.corp.example/simple/", 30.0),
            ],
        )
        self.assertEqual(config.indexes[2].credentials, ("alice", "pw"))

    def test_local_routes_merge(self) -> None:
        """
        ``--local``, ``--route`` (normalized, to a remote or a local index)
        and ``--merge`` (normalized) end up in the configuration; with no
        ``--index``, PyPI is the remote index.
        """
        config = self.parse(
            "--local", f"private={self.local.path}",
            "--route", "Torch=pypi.org",
            "--route", "secret_pkg=private",
            "--merge", "Zope.Interface",
        )  # fmt: skip
        self.assertEqual(config.locals, (LocalConfig("private", self.local.path),))
        self.assertEqual(
            dict(config.routes), {"torch": "pypi.org", "secret-pkg": "private"}
        )
        self.assertEqual(config.merge, frozenset({"zope-interface"}))
        self.assertEqual([i.url for i in config.indexes], [DEFAULT_INDEX])

    def test_duplicate_names(self) -> None:
        """
        Two indexes with the same name (given, or from the same host), or an
        index and a local directory with the same name, are a usage error
        that names the clash and says how to avoid it.
        """
        for args in (
            ("--index", "a=https://one.example/", "--index", "a=https://two.example/"),
            ("--index", "https://h.example/one/", "--index", "https://h.example/two/"),
            (
                "--index",
                "private=https://h.example/",
                "--local",
                f"private={self.local.path}",
            ),
            ("--local", f"x={self.local.path}", "--local", f"x={self.local.path}"),
        ):
            message = self.usage_error(*args)
            self.assertIn("used twice", message, args)
            self.assertIn("NAME=URL", message, args)

    def test_route_to_unknown_index(self) -> None:
        """
        A route to a name no index has is a usage error that names the
        known indexes, local ones included.
        """
        message = self.usage_error(
            "--index", "pypi=https://pypi.org/simple/",
            "--index", "corp=https://h.example/simple/",
            "--local", f"private={self.local.path}",
            "--route", "torch=pytorch",
        )  # fmt: skip
        self.assertIn("'pytorch'", message)
        self.assertIn("pypi, corp, private", message)

    def test_bad_values(self) -> None:
        """
        A bad ``--index``, ``--local``, ``--route`` or ``--merge`` value is a
        usage error with the parser's message.
        """
        missing = os.path.abspath(self.mktemp())
        for args, expected in (
            (("--index", "corp=ftp://h/"), "http"),
            (("--index", "https://h/,auth=nopassword"), "USER:PASSWORD"),
            (("--local", f"private={missing}"), "not a directory"),
            (("--route", "torch"), "PROJECT=INDEX-NAME"),
            (("--merge", "not/valid"), "not a valid project name"),
        ):
            self.assertIn(expected, self.usage_error(*args), args)

    def test_dummies(self) -> None:
        """
        ``--dummy`` is repeatable and parsed into specs, keyed by normalized
        name; a bad spec or the same project twice is a ``UsageError``.
        """
        config = self.parse(
            "--dummy", "Torch",
            "--dummy", "opencv-python==4.9.0.80:stub",
        )  # fmt: skip
        self.assertEqual(
            [d.project for d in config.dummies], ["torch", "opencv-python"]
        )
        self.assertIsNone(config.dummies[0].versions)
        self.assertEqual(config.dummies[1].versions, ("4.9.0.80",))
        self.assertEqual(config.dummies[1].module, "cv2")
        for args, message in [
            (["--dummy", "torch>=2"], "only exact versions"),
            (["--dummy", "torch", "--dummy", "torch==2.0"], "given twice"),
        ]:
            self.assertIn(message, self.usage_error(*args))
