"""
Tests for :mod:`twisted_pypi.app.configfile`: ``--config FILE`` and the
``PYPIPROXY_*`` environment variables of ``twistd pypiproxy`` and
``pypiproxy serve``.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping

from twisted.python.usage import UsageError
from twisted.scripts.twistd import ServerOptions
from twisted.trial.unittest import SynchronousTestCase

from tests.app.cachefill import fill_cache
from twisted_pypi.app.cli import Options as CommandOptions
from twisted_pypi.app.configfile import option_specs, settings_arguments
from twisted_pypi.app.tap import Options
from twisted_pypi.core.config import ProxyConfig


class _Files(SynchronousTestCase):
    """
    Helpers: settings files in a temporary directory, and parsing.
    """

    def setUp(self) -> None:
        self.dir = self.mktemp()
        os.makedirs(self.dir)
        self.cache = os.path.join(self.dir, "cache")
        # What --offline reads without --index.
        fill_cache(self.cache)

    def write(self, text: str, name: str = "proxy.toml") -> str:
        """
        Write a settings file and return its path.
        """
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def parse(self, *args: str, environ: Mapping[str, str] | None = None) -> Options:
        """
        Parse ``args`` with ``environ`` as the environment (empty by default).
        """
        options = Options()
        options.environ = dict(environ or {})
        options.parseOptions(list(args))
        return options

    def config(
        self, *args: str, environ: Mapping[str, str] | None = None
    ) -> ProxyConfig:
        """
        The configuration ``args`` and ``environ`` make.
        """
        config = self.parse(*args, environ=environ)["config"]
        assert isinstance(config, ProxyConfig)
        return config

    def error(self, *args: str, environ: Mapping[str, str] | None = None) -> str:
        """
        The message of the ``UsageError`` parsing raises.
        """
        with self.assertRaises(UsageError) as caught:
            self.parse(*args, environ=environ)
        return str(caught.exception)


class PrecedenceTests(_Files):
    """
    Options win over the environment, which wins over the file, which wins
    over the defaults.
    """

    def test_scalar(self) -> None:
        """
        ``index-ttl`` comes from the command line if given there, else from
        ``PYPIPROXY_INDEX_TTL``, else from the file, else the default.
        """
        path = self.write(f'cache-dir = "{self.cache}"\nindex-ttl = 30\n')
        env = {"PYPIPROXY_INDEX_TTL": "45"}
        ttl = [
            self.config("--config", path, "--index-ttl", "60", environ=env),
            self.config("--config", path, environ=env),
            self.config("--config", path),
            self.config("--cache-dir", self.cache),
        ]
        self.assertEqual([c.indexes[0].ttl for c in ttl], [60.0, 45.0, 30.0, 600.0])

    def test_lists_are_replaced(self) -> None:
        """
        A repeatable option takes all its values from one place: the command
        line's ``--index`` replaces the file's list, and so does
        ``PYPIPROXY_INDEX`` (whitespace-separated values).
        """
        path = self.write(
            f'cache-dir = "{self.cache}"\n'
            'index = ["a=https://a.example/simple/", "b=https://b.example/simple/"]\n'
        )
        from_file = self.config("--config", path)
        self.assertEqual([i.name for i in from_file.indexes], ["a", "b"])
        from_options = self.config("--config", path, "--index", "c=https://c.test/s/")
        self.assertEqual([i.name for i in from_options.indexes], ["c"])
        env = {"PYPIPROXY_INDEX": "d=https://d.test/simple/\n e=https://e.test/s/"}
        from_env = self.config("--config", path, environ=env)
        self.assertEqual([i.name for i in from_env.indexes], ["d", "e"])

    def test_flag(self) -> None:
        """
        A flag set in the file is turned off by ``PYPIPROXY_OFFLINE=0`` and
        on by ``--offline``.
        """
        path = self.write(f'cache-dir = "{self.cache}"\noffline = true\n')
        self.assertTrue(self.config("--config", path).offline)
        off = {"PYPIPROXY_OFFLINE": "0"}
        self.assertFalse(self.config("--config", path, environ=off).offline)
        self.assertTrue(self.config("--config", path, "--offline", environ=off).offline)
        on = {"PYPIPROXY_OFFLINE": "yes", "PYPIPROXY_CACHE_DIR": self.cache}
        self.assertTrue(self.config(environ=on).offline)

    def test_config_file_from_environment(self) -> None:
        """
        ``PYPIPROXY_CONFIG`` names the file when ``--config`` is not given;
        ``--config`` wins over it.
        """
        first = self.write(f'cache-dir = "{self.cache}"\ntimeout = 3\n', "a.toml")
        second = self.write(f'cache-dir = "{self.cache}"\ntimeout = 4\n', "b.toml")
        env = {"PYPIPROXY_CONFIG": first}
        self.assertEqual(self.config(environ=env).connect_timeout, 3.0)
        self.assertEqual(
            self.config("--config", second, environ=env).connect_timeout, 4.0
        )

    def test_common_environment_variables(self) -> None:
        """
        The common settings are read from their ``PYPIPROXY_*`` variables.
        """
        token = os.path.join(self.dir, "token")
        with open(token, "w") as f:
            f.write("s3cret\n")
        config = self.config(
            environ={
                "PYPIPROXY_LISTEN": "tcp:0:interface=127.0.0.1 unix:/tmp/p.sock",
                "PYPIPROXY_INDEX": "https://pypi.example/simple/",
                "PYPIPROXY_CACHE_DIR": self.cache,
                "PYPIPROXY_CACHE_SIZE": "2G",
                "PYPIPROXY_INDEX_TTL": "15",
                "PYPIPROXY_BASE_URL": "https://proxy.example/pypi",
                "PYPIPROXY_DUMMY": "torch numpy==1.26.4",
                "PYPIPROXY_ADMIN_TOKEN": f"@{token}",
            }
        )
        self.assertEqual(
            config.listen, ("tcp:0:interface=127.0.0.1", "unix:/tmp/p.sock")
        )
        self.assertEqual(
            [i.url for i in config.indexes], ["https://pypi.example/simple/"]
        )
        self.assertEqual(config.cache_dir, os.path.abspath(self.cache))
        self.assertEqual(config.cache_size, 2 << 30)
        self.assertEqual(config.indexes[0].ttl, 15.0)
        self.assertEqual(config.base_url, "https://proxy.example/pypi/")
        self.assertEqual([d.project for d in config.dummies], ["torch", "numpy"])
        self.assertEqual(config.admin_token, "s3cret")

    def test_empty_variable_is_unset(self) -> None:
        """
        An empty ``PYPIPROXY_*`` variable (as compose files often leave them)
        counts as unset: the file's value stays.
        """
        path = self.write(f'cache-dir = "{self.cache}"\nbase-url = "https://x.test/"\n')
        config = self.config("--config", path, environ={"PYPIPROXY_BASE_URL": ""})
        self.assertEqual(config.base_url, "https://x.test/")

    def test_abbreviated_option_wins(self) -> None:
        """
        An option abbreviated on the command line (``--index-t`` for
        ``--index-ttl``) still wins over the file.
        """
        path = self.write(f'cache-dir = "{self.cache}"\nindex-ttl = 30\n')
        self.assertEqual(
            self.config("--config", path, "--index-t", "5").indexes[0].ttl, 5.0
        )


#: Settings, as TOML lines, that set each option to a valid value, and the
#: command-line arguments that must give the same configuration.  ``{dir}``
#: is a directory holding an empty ``users`` file.
SAMPLES: dict[str, tuple[str, list[str]]] = {
    "offline": ("offline = true", ["--offline"]),
    "cache-dir": ('cache-dir = "{dir}/other"', ["--cache-dir", "{dir}/other"]),
    "cache-size": ("cache-size = 1048576", ["--cache-size", "1M"]),
    "index-ttl": ("index-ttl = 12.5", ["--index-ttl", "12.5"]),
    "base-url": (
        'base-url = "https://p.example/x"',
        ["--base-url", "https://p.example/x/"],
    ),
    "timeout": ("timeout = 3", ["--timeout", "3"]),
    "idle-timeout": ('idle-timeout = "7"', ["--idle-timeout", "7"]),
    "header-timeout": ("header-timeout = 5", ["--header-timeout", "5"]),
    "admin-token": ('admin-token = "tok-123"', ["--admin-token", "tok-123"]),
    "log-level": ('log-level = "debug"', ["--log-level", "debug"]),
    "access-log": (
        'access-log = "{dir}/access.log"',
        ["--access-log", "{dir}/access.log"],
    ),
    "listen": (
        'listen = ["tcp:0:interface=127.0.0.1", "unix:{dir}/s"]',
        ["--listen", "tcp:0:interface=127.0.0.1", "--listen", "unix:{dir}/s"],
    ),
    "index": (
        'index = ["a=https://a.test/simple/", "https://b.test/simple/,ttl=5"]',
        [
            "--index",
            "a=https://a.test/simple/",
            "--index",
            "https://b.test/simple/,ttl=5",
        ],
    ),
    "local": ('local = ["wheels={dir}"]', ["--local", "wheels={dir}"]),
    "route": ('route = ["demo=pypi.org"]', ["--route", "demo=pypi.org"]),
    "merge": ('merge = ["Demo", "other"]', ["--merge", "Demo", "--merge", "other"]),
    "dummy": (
        'dummy = ["torch", "numpy==1.26.4:stub"]',
        ["--dummy", "torch", "--dummy", "numpy==1.26.4:stub"],
    ),
    "upload-users": (
        'local = ["wheels={dir}"]\nupload-users = "{dir}/users"',
        ["--local", "wheels={dir}", "--upload-users", "{dir}/users"],
    ),
    "max-upload-size": ('max-upload-size = "20M"', ["--max-upload-size", "20971520"]),
    "store": ('store = "s3://wheels/team"', ["--store", "s3://wheels/team/"]),
    "s3-endpoint": (
        'store = "s3://bkt"\ns3-endpoint = "http://127.0.0.1:8333"',
        ["--store", "s3://bkt", "--s3-endpoint", "http://127.0.0.1:8333/"],
    ),
    "s3-region": (
        'store = "s3://bkt"\ns3-region = "eu-west-3"',
        ["--store", "s3://bkt", "--s3-region", "eu-west-3"],
    ),
    "node-url": (
        'store = "s3://bkt"\nnode-url = "http://10.0.0.5:8080"\n'
        'cluster-secret = "0123456789abcdef"',
        [
            "--store",
            "s3://bkt",
            "--node-url",
            "http://10.0.0.5:8080/",
            "--cluster-secret",
            "0123456789abcdef",
        ],
    ),  # fmt: skip
    "cluster-secret": (
        'store = "s3://bkt"\nnode-url = "http://n1:8080"\n'
        'cluster-secret = "@{dir}/secret"',
        [
            "--store",
            "s3://bkt",
            "--node-url",
            "http://n1:8080",
            "--cluster-secret",
            "@{dir}/secret",
        ],
    ),  # fmt: skip
    "min-age": ('min-age = "7d"', ["--min-age", "7d"]),
    "min-age-exempt": (
        'min-age-exempt = ["Urgent_Fix"]',
        ["--min-age-exempt", "urgent-fix"],
    ),
    "deny": (
        'deny = ["evilpkg", "urllib3<2"]',
        ["--deny", "evilpkg", "--deny", "urllib3<2"],
    ),
    "policy-dry-run": ("policy-dry-run = true", ["--policy-dry-run"]),
}


class EveryOptionTests(_Files):
    """
    Every option can be set in the file, with the same effect as on the
    command line.
    """

    def test_every_option(self) -> None:
        """
        For each option of ``pypiproxy serve``, a file setting it gives the
        same configuration as the option itself.
        """
        names = [spec.name for spec in option_specs(Options())]
        missing = [name for name in names if name not in SAMPLES]
        self.assertEqual(missing, [], "add a sample for each new option to SAMPLES")
        with open(os.path.join(self.dir, "users"), "w"):
            pass
        with open(os.path.join(self.dir, "secret"), "w") as f:
            f.write("a-secret-read-from-a-file\n")
        for name in names:
            toml, args = SAMPLES[name]
            path = self.write(
                f'cache-dir = "{self.cache}"\n' * (name != "cache-dir")
                + toml.format(dir=self.dir)
                + "\n"
            )
            argv = [a.format(dir=self.dir) for a in args]
            if name != "cache-dir":
                argv = ["--cache-dir", self.cache, *argv]
            self.assertEqual(self.config("--config", path), self.config(*argv), name)

    def test_defaults_unchanged(self) -> None:
        """
        An empty file changes nothing.
        """
        path = self.write("")
        self.assertEqual(
            self.config("--config", path, "--cache-dir", self.cache),
            self.config("--cache-dir", self.cache),
        )


class ErrorTests(_Files):
    """
    A bad file or variable stops the start with a message naming it.
    """

    def test_unknown_key(self) -> None:
        """
        An unknown key is an error naming the key and the file, with a hint
        when it is a near miss.
        """
        path = self.write('cache_dir = "/tmp"\n')
        message = self.error("--config", path)
        self.assertIn(path, message)
        self.assertIn("unknown setting 'cache_dir'", message)
        self.assertIn("did you mean 'cache-dir'", message)
        self.assertIn("'config'", self.error("--config", self.write('config = "x"\n')))

    def test_not_utf8(self) -> None:
        """
        A file that is not UTF-8 text is the same kind of clear error as any
        other bad file: it names the file and the offending byte, with no
        traceback.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b'listen = "tcp:0"\n# caf\xe9\n')
        message = self.error("--config", path)
        self.assertIn(path, message)
        self.assertIn("not UTF-8 text (byte 0xe9 at offset 22)", message)

    def test_wrong_types(self) -> None:
        """
        A value of the wrong TOML type is an error naming the key, the file
        and what was expected.
        """
        cases = [
            ("index-ttl = [1]", "'index-ttl' must be a string or a number"),
            ("base-url = 1", "'base-url' must be a string, not a number"),
            ('offline = "yes"', "'offline' must be true or false"),
            ('index = "https://a.test/simple/"', "'index' must be an array"),
            ("index = [1]", "'index' must be a string"),
            ("timeout = true", "'timeout' must be a string or a number, not a boolean"),
            ("[listen]\nport = 1", "'listen' must be an array"),
        ]
        for text, expected in cases:
            path = self.write(text + "\n")
            message = self.error("--config", path)
            self.assertIn(path, message, text)
            self.assertIn(expected, message, text)

    def test_bad_values_name_their_source(self) -> None:
        """
        A value the option refuses names the file and key, or the variable.
        """
        path = self.write('index-ttl = "soon"\n')
        message = self.error("--config", path)
        self.assertIn(f"{path}: setting 'index-ttl'", message)
        self.assertIn("not a number of seconds", message)
        message = self.error(environ={"PYPIPROXY_CACHE_SIZE": "lots"})
        self.assertIn("PYPIPROXY_CACHE_SIZE", message)
        self.assertIn("not a size", message)
        message = self.error(environ={"PYPIPROXY_OFFLINE": "maybe"})
        self.assertIn("PYPIPROXY_OFFLINE='maybe'", message)

    def test_unreadable_or_invalid_file(self) -> None:
        """
        A missing file and a file that is not TOML are errors naming the file.
        """
        missing = os.path.join(self.dir, "missing.toml")
        self.assertIn(
            f"--config {missing!r}: cannot read it", self.error("--config", missing)
        )
        broken = self.write("index-ttl = = 3\n")
        self.assertIn("not valid TOML", self.error("--config", broken))

    def test_help_skips_the_file(self) -> None:
        """
        ``--help`` prints the help even when the settings file is broken.
        """
        broken = self.write("nonsense = 1\n")
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        with self.assertRaises(SystemExit):
            self.parse("--config", broken, "--help")
        self.assertIn("--config", out.getvalue())


class EntryPointTests(_Files):
    """
    ``twistd pypiproxy`` and ``pypiproxy serve`` both read the file.
    """

    def test_twistd(self) -> None:
        """
        ``twistd -n pypiproxy --config FILE`` parses the file's settings.
        """
        path = self.write(f'cache-dir = "{self.cache}"\nindex-ttl = 31\n')
        options = ServerOptions()
        options.parseOptions(["--nodaemon", "pypiproxy", "--config", path])
        self.assertEqual(options.subOptions["config"].indexes[0].ttl, 31.0)

    def test_pypiproxy_serve(self) -> None:
        """
        ``pypiproxy serve --config FILE`` parses the file's settings.
        """
        path = self.write(f'cache-dir = "{self.cache}"\nindex-ttl = 32\n')
        options = CommandOptions()
        options.parseOptions(["serve", "--config", path])
        self.assertEqual(options.subOptions["config"].indexes[0].ttl, 32.0)

    def test_arguments_go_first(self) -> None:
        """
        The file's settings become ``--name=value`` arguments, in the order
        of the options, none for a false flag or for what the command line
        gives.
        """
        path = self.write(
            'offline = false\nindex-ttl = 5\nlisten = ["tcp:1", "tcp:2"]\n'
            'cache-size = "1G"\n'
        )
        arguments = settings_arguments(
            Options(), ["--config", path, "--cache-size", "2G"], {}
        )
        self.assertEqual(
            arguments, ["--index-ttl=5", "--listen=tcp:1", "--listen=tcp:2"]
        )
