"""
Tests for :mod:`twisted_pypi.app.indexoptions`: the ``--index``, ``--local``,
``--route`` and ``--merge`` values (how the options put them together:
``test_sourceoptions``).
"""

from __future__ import annotations

import os

from twisted.python.filepath import FilePath
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.indexoptions import (
    INDEX_SYNTAX,
    parse_index,
    parse_local,
    parse_project,
    parse_route,
)
from twisted_pypi.app.tap import Options
from twisted_pypi.core.config import (
    IndexConfig,
    LocalConfig,
    ProxyConfig,
    StoreConfig,
)

#: The TTL given when an ``--index`` value names none.
DEFAULT_TTL = 600.0


def index(text: str) -> IndexConfig:
    """
    Parse an ``--index`` value with the default TTL.
    """
    return parse_index(text, DEFAULT_TTL)


class IndexTests(SynchronousTestCase):
    """
    ``--index [NAME=]URL[,ttl=SECONDS][,auth=...]``.
    """

    def test_name_and_url(self) -> None:
        """
        ``NAME=URL`` names the index; the URL gets a trailing slash; the TTL
        is the default; there are no credentials.
        """
        config = index("corp=https://pypi.corp.example/simple")
        self.assertEqual(config.name, "corp")
        self.assertEqual(config.url, "https://pypi.corp.example/simple/")
        self.assertEqual(config.ttl, DEFAULT_TTL)
        self.assertIsNone(config.credentials)

    def test_bare_url(self) -> None:
        """
        A bare URL is named after its host.
        """
        config = index("https://download.pytorch.org/whl/cpu")
        self.assertEqual(config.name, "download.pytorch.org")
        self.assertEqual(config.url, "https://download.pytorch.org/whl/cpu/")

    def test_bare_url_with_port(self) -> None:
        """
        A bare URL with a port is named ``host:port``; ``=`` in its path does
        not make a name.
        """
        self.assertEqual(index("http://127.0.0.1:8081/simple/").name, "127.0.0.1:8081")
        config = index("https://example.com/a=b/simple/")
        self.assertEqual(config.name, "example.com")
        self.assertEqual(config.url, "https://example.com/a=b/simple/")

    def test_name_characters(self) -> None:
        """
        A name may hold letters, digits, ``.``, ``_`` and ``-``.
        """
        self.assertEqual(index("My_Index-2.x=https://h/").name, "My_Index-2.x")

    def test_ttl(self) -> None:
        """
        ``ttl=SECONDS`` sets the index's TTL, zero included.
        """
        self.assertEqual(index("corp=https://h/simple/,ttl=60").ttl, 60.0)
        self.assertEqual(index("https://h/simple/,ttl=0").ttl, 0.0)
        self.assertEqual(index("https://h/simple/,ttl=1.5").ttl, 1.5)

    def test_min_age(self) -> None:
        """
        ``min-age=DURATION`` sets the index's own minimum age (0 turns it
        off); without it the index has none of its own; a bad one names
        ``--index`` and ``min-age``.
        """
        self.assertEqual(index("corp=https://h/simple/,min-age=36h").min_age, 129600)
        self.assertEqual(index("https://h/simple/,min-age=0").min_age, 0.0)
        self.assertIsNone(index("https://h/simple/").min_age)
        with self.assertRaises(ValueError) as caught:
            index("https://h/simple/,min-age=3")
        self.assertIn("--index: min-age: '3' is not a duration", str(caught.exception))

    def test_auth(self) -> None:
        """
        ``auth=USER:PASSWORD`` gives the credentials; the password may hold
        ``:`` and ``=``.
        """
        config = index("corp=https://h/simple/,auth=alice:s3:cr=et")
        self.assertEqual(config.credentials, ("alice", "s3:cr=et"))
        self.assertEqual(config.url, "https://h/simple/")

    def test_auth_and_ttl(self) -> None:
        """
        Settings may come in any order.
        """
        config = index("corp=https://h/simple/,auth=alice:pw,ttl=5")
        self.assertEqual((config.ttl, config.credentials), (5.0, ("alice", "pw")))

    def test_auth_file(self) -> None:
        """
        ``auth=@FILE`` reads ``USER:PASSWORD`` from the file, surrounding
        whitespace and the final newline dropped.
        """
        secret = FilePath(self.mktemp())
        secret.setContent(b"  bob:pa ss,word\n")
        config = index(f"corp=https://h/simple/,auth=@{secret.path}")
        self.assertEqual(config.credentials, ("bob", "pa ss,word"))

    def test_auth_file_missing(self) -> None:
        """
        An unreadable credentials file is an error naming it.
        """
        missing = os.path.abspath(self.mktemp())
        with self.assertRaises(ValueError) as caught:
            index(f"corp=https://h/simple/,auth=@{missing}")
        self.assertIn("cannot read credentials", str(caught.exception))
        self.assertIn(missing, str(caught.exception))

    def test_auth_file_without_password(self) -> None:
        """
        A credentials file holding no ``USER:`` is an error.
        """
        secret = FilePath(self.mktemp())
        secret.setContent(b"justatoken\n")
        with self.assertRaises(ValueError) as caught:
            index(f"corp=https://h/simple/,auth=@{secret.path}")
        self.assertIn("USER:PASSWORD", str(caught.exception))

    def test_userinfo(self) -> None:
        """
        Credentials in the URL are kept (percent-decoded) and removed from
        the URL; the port stays.
        """
        config = index("corp=https://alice:p%40ss%3Aw@pypi.corp.example:8443/simple/")
        self.assertEqual(config.url, "https://pypi.corp.example:8443/simple/")
        self.assertEqual(config.credentials, ("alice", "p@ss:w"))
        self.assertEqual(config.name, "corp")

    def test_userinfo_bare_url(self) -> None:
        """
        A bare URL with credentials is named after its host alone.
        """
        config = index("https://alice:pw@pypi.corp.example/simple/")
        self.assertEqual(config.name, "pypi.corp.example")
        self.assertEqual(config.url, "https://pypi.corp.example/simple/")
        self.assertEqual(config.credentials, ("alice", "pw"))

    def test_userinfo_ipv6(self) -> None:
        """
        Removing credentials keeps an IPv6 host in brackets.
        """
        config = index("v6=http://alice:pw@[::1]:8080/simple/")
        self.assertEqual(config.url, "http://[::1]:8080/simple/")
        self.assertEqual(config.credentials, ("alice", "pw"))

    def test_userinfo_user_only(self) -> None:
        """
        A user with no password gets an empty password.
        """
        config = index("https://alice@h/simple/")
        self.assertEqual(config.credentials, ("alice", ""))
        self.assertEqual(config.url, "https://h/simple/")

    def test_userinfo_password_only(self) -> None:
        """
        A password with no user is an error that does not repeat the secret
        (it would otherwise stay in the URL, shown and logged).
        """
        with self.assertRaises(ValueError) as caught:
            index("corp=https://:t0ken@h/simple/")
        self.assertIn("need a user", str(caught.exception))
        self.assertNotIn("t0ken", str(caught.exception))

    def test_auth_overrides_userinfo(self) -> None:
        """
        ``auth=`` wins over credentials in the URL, which are still removed.
        """
        config = index("corp=https://url:old@h/simple/,auth=new:pw")
        self.assertEqual(config.credentials, ("new", "pw"))
        self.assertEqual(config.url, "https://h/simple/")

    def test_repr_hides_password(self) -> None:
        """
        The ``repr`` of an index shows the user but never the password,
        whichever way it was given.
        """
        secret = FilePath(self.mktemp())
        secret.setContent(b"carol:f1le-secret")
        for text, password in (
            ("corp=https://alice:url-secret@h/simple/", "url-secret"),
            ("corp=https://h/simple/,auth=alice:opt-secret", "opt-secret"),
            (f"corp=https://h/simple/,auth=@{secret.path}", "f1le-secret"),
        ):
            shown = repr(index(text))
            self.assertNotIn(password, shown)
            self.assertIn("username=", shown)
            self.assertIn("https://h/simple/", shown)

    def test_errors(self) -> None:
        """
        Malformed values are errors whose messages say what is wrong.
        """
        for text, message in (
            ("corp=ftp://h/simple/", "http"),
            ("corp=", "absolute"),
            ("pypi.org/simple", "absolute"),
            ("https://h/simple/?x=1", "query"),
            ("my index=https://h/", "not a valid name"),
            ("-corp=https://h/", "not a valid name"),
            ("https://h/simple/,tls=1", "unknown setting 'tls'"),
            ("https://h/simple/,ttl", "not KEY=VALUE"),
            ("https://h/simple/,", "not KEY=VALUE"),
            ("https://h/simple/,ttl=soon", "not a number of seconds"),
            ("https://h/simple/,ttl=-1", "0 or more"),
            ("https://h/simple/,auth=alice", "USER:PASSWORD"),
            ("https://h/simple/,auth=:pw", "USER:PASSWORD"),
            ("https://h:99999/simple/", "not a valid URL"),
        ):
            with self.assertRaises(ValueError) as caught:
                index(text)
            self.assertIn(message, str(caught.exception), text)

    def test_errors_name_option_and_part(self) -> None:
        """
        An error names ``--index`` and the part that is wrong: a bad name
        before ``=`` is a name error (not a URL one), a bad ``ttl`` says
        ``ttl``.
        """
        for text, message in (
            ("../x=https://h/simple/", "--index: '../x' is not a valid name"),
            ("a/b=https://h/simple/", "--index: 'a/b' is not a valid name"),
            ("https://h/simple/,ttl=abc", "--index: ttl: 'abc' is not a number"),
        ):
            with self.assertRaises(ValueError) as caught:
                index(text)
            self.assertIn(message, str(caught.exception), text)

    def test_url_with_equals(self) -> None:
        """
        An ``=`` inside the URL (after its scheme) is not a name.
        """
        self.assertEqual(index("https://h/a=b/simple/").url, "https://h/a=b/simple/")

    def test_syntax_in_messages(self) -> None:
        """
        An unknown setting's message shows how ``--index`` is written.
        """
        with self.assertRaises(ValueError) as caught:
            index("https://h/simple/,colour=blue")
        self.assertIn(INDEX_SYNTAX, str(caught.exception))


class LocalTests(SynchronousTestCase):
    """
    ``--local NAME=DIR``.
    """

    def test_directory(self) -> None:
        """
        An existing directory is taken, made absolute.
        """
        path = FilePath(self.mktemp())
        path.makedirs()
        relative = os.path.relpath(path.path)
        self.assertEqual(
            parse_local(f"private={relative}"), LocalConfig("private", path.path)
        )

    def test_missing_directory(self) -> None:
        """
        A directory that does not exist is an error naming it.
        """
        missing = os.path.abspath(self.mktemp())
        with self.assertRaises(ValueError) as caught:
            parse_local(f"private={missing}")
        self.assertIn(missing, str(caught.exception))
        self.assertIn("not a directory", str(caught.exception))

    def test_file(self) -> None:
        """
        A file instead of a directory is an error naming it.
        """
        path = FilePath(self.mktemp())
        path.setContent(b"not a directory")
        with self.assertRaises(ValueError) as caught:
            parse_local(f"private={path.path}")
        self.assertIn("not a directory", str(caught.exception))
        self.assertIn(path.path, str(caught.exception))

    def test_malformed(self) -> None:
        """
        A value without ``NAME=`` or without a directory, or with an invalid
        name, is an error.
        """
        path = FilePath(self.mktemp())
        path.makedirs()
        for text, message in (
            (path.path, "NAME=DIR"),
            ("private=", "NAME=DIR"),
            (f"my dir={path.path}", "not a valid name"),
        ):
            with self.assertRaises(ValueError) as caught:
                parse_local(text)
            self.assertIn(message, str(caught.exception), text)


class RouteAndMergeTests(SynchronousTestCase):
    """
    ``--route PROJECT=NAME`` and ``--merge PROJECT``.
    """

    def test_route(self) -> None:
        """
        A route gives the normalized project and the index name.
        """
        self.assertEqual(
            parse_route("Torch_Vision=pytorch"), ("torch-vision", "pytorch")
        )
        self.assertEqual(parse_route(" torch = pytorch "), ("torch", "pytorch"))

    def test_route_errors(self) -> None:
        """
        A route without ``=``, with an invalid project or an invalid index
        name, is an error.
        """
        for text, message in (
            ("torch", "PROJECT=INDEX-NAME"),
            ("=pytorch", "PROJECT=INDEX-NAME"),
            ("-torch-=pytorch", "PROJECT=INDEX-NAME"),
            ("torch=", "not a valid name"),
            ("torch=py torch", "not a valid name"),
            ("-torch-=pytorch", "'-torch-' is not a valid project name"),
        ):
            with self.assertRaises(ValueError) as caught:
                parse_route(text)
            self.assertIn(message, str(caught.exception), text)

    def test_project(self) -> None:
        """
        A project name is normalized; an invalid one is an error naming the
        option.
        """
        self.assertEqual(parse_project("Zope.Interface", "--merge"), "zope-interface")
        with self.assertRaises(ValueError) as caught:
            parse_project("not/a/name", "--merge")
        self.assertIn("--merge", str(caught.exception))
        self.assertIn("not a valid project name", str(caught.exception))


class BucketLocalTests(SynchronousTestCase):
    """
    ``--local NAME=s3://BUCKET/PREFIX``: a private index in a bucket.
    """

    def parse(self, *args: str) -> ProxyConfig:
        """Parse ``args`` (with a temporary cache directory)."""
        options = Options()
        options.parseOptions(["--cache-dir", self.mktemp(), *args])
        config = options["config"]
        assert isinstance(config, ProxyConfig)
        return config

    def test_bucket(self) -> None:
        """
        A bucket URL is taken with its prefix normalized; the endpoint and
        region of ``--s3-endpoint`` and ``--s3-region`` (allowed without
        ``--store``) and the page TTL are bound to it.
        """
        config = self.parse(
            "--local", "team=s3://wheels/private//team",
            "--s3-endpoint", "http://127.0.0.1:8333/",
            "--s3-region", "eu-west-1",
            "--index-ttl", "30",
        )  # fmt: skip
        self.assertIsNone(config.store)
        (local,) = config.locals
        self.assertEqual(local.path, "s3://wheels/private/team/")
        self.assertEqual(
            local.bucket,
            StoreConfig(
                "wheels", "private/team/", "http://127.0.0.1:8333", "eu-west-1"
            ),
        )
        self.assertEqual(local.ttl, 30.0)

    def test_bad_bucket(self) -> None:
        """
        A bucket URL whose bucket or prefix is not usable is an error naming
        the option.
        """
        for text in ("team=s3://No_Such", "team=s3://wheels/a/../b"):
            with self.assertRaises(ValueError) as caught:
                parse_local(text)
            self.assertIn("--local team=", str(caught.exception))

    def test_endpoint_needs_a_bucket(self) -> None:
        """
        ``--s3-endpoint`` without ``--store`` or a bucket index is still an
        error.
        """
        with self.assertRaises(UsageError) as caught:
            self.parse("--s3-endpoint", "http://127.0.0.1:8333")
        self.assertIn("need --store", str(caught.exception))
