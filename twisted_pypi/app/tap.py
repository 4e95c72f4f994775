# -*- test-case-name: tests.app.test_tap -*-
"""
Command-line options and the service maker for ``twistd pypiproxy`` (and
``pypiproxy serve``, which takes the same options).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

import platformdirs
from twisted.application.service import IService
from twisted.python import usage

from twisted_pypi import __version__
from twisted_pypi.app.argorder import GnuOptions, gnu_order
from twisted_pypi.app.cachedindexes import check_cached_indexes
from twisted_pypi.app.configfile import settings_arguments
from twisted_pypi.app.endpoints import check_listen
from twisted_pypi.app.logs import DEFAULT_LOG_LEVEL, parse_log_level
from twisted_pypi.app.output import print_and_exit
from twisted_pypi.app.policyoptions import (
    POLICY_FLAGS,
    POLICY_PARAMETERS,
    PolicyOptions,
)
from twisted_pypi.app.sourceoptions import SOURCE_PARAMETERS, SourceOptions
from twisted_pypi.app.storeoptions import (
    STORE_PARAMETERS,
    check_cache_dir,
    store_settings,
)
from twisted_pypi.core.config import (
    ProxyConfig,
    parse_http_url,
    parse_seconds,
    parse_size,
)
from twisted_pypi.web.accesslog import check_access_log
from twisted_pypi.web.cachecontrol import read_admin_token
from twisted_pypi.web.channel import HEADER_TIMEOUT

__all__ = [
    "Options",
    "default_cache_dir",
    "makeService",
]


def default_cache_dir() -> str:
    """
    The user's cache directory for the proxy, such as
    ``~/.cache/twisted-pypi`` on Linux.
    """
    return platformdirs.user_cache_dir("twisted-pypi", appauthor=False)


class Options(GnuOptions, SourceOptions, PolicyOptions):
    """
    Options of the proxy service (the sources' come from
    :class:`~twisted_pypi.app.sourceoptions.SourceOptions`, the policy's
    from :class:`~twisted_pypi.app.policyoptions.PolicyOptions`).
    """

    synopsis = "[options]"
    longdesc = (
        "A caching proxy for Python package indexes: point pip, uv, poetry or "
        "pdm at http://HOST:PORT/simple/. Uncached files are downloaded once and "
        "streamed to every waiting client while they are saved."
    )

    def opt_version(self) -> None:
        """
        Print the version of twisted-pypi (not Twisted's) and exit.
        """
        print_and_exit(f"twisted-pypi {__version__}")

    optFlags = [
        [
            "offline",
            None,
            "Make no outbound connection: serve only the pages and files in the "
            "cache (fill it with 'pypiproxy warm').",
        ],
        *POLICY_FLAGS,
    ]

    optParameters = [
        [
            "cache-dir",
            None,
            None,
            "Directory for cached pages and files [default: the user's cache "
            "directory, e.g. ~/.cache/twisted-pypi].",
        ],
        [
            "cache-size",
            None,
            None,
            "The most the file cache may hold, e.g. 500M or 20G [default: unlimited].",
            parse_size,
        ],
        *SOURCE_PARAMETERS,
        [
            "base-url",
            None,
            None,
            "The proxy's external URL when it sits behind another server, e.g. "
            "https://pypi.example.com/ [default: links are relative].",
        ],
        [
            "upload-users",
            None,
            None,
            "A file of user:bcrypt-hash lines (see 'pypiproxy passwd'); turns on "
            "uploads (twine, uv publish) to the local indexes at /upload/NAME/.",
        ],
        [
            "max-upload-size",
            None,
            100 << 20,
            "The largest file an upload may carry, e.g. 100M.",
            parse_size,
        ],
        [
            "timeout",
            None,
            10.0,
            "Seconds to wait for an upstream to connect and answer.",
            parse_seconds,
        ],
        [
            "idle-timeout",
            None,
            30.0,
            "Seconds an upstream download may stay silent before it is abandoned.",
            parse_seconds,
        ],
        [
            "header-timeout",
            None,
            HEADER_TIMEOUT,
            "Seconds a client has to send a request's line and headers before "
            "the connection is closed (a slow client holds a connection open "
            "for at most this long); 0 for no deadline.",
            parse_seconds,
        ],
        [
            "admin-token",
            None,
            None,
            "Turn on cache control over HTTP (DELETE under /-/cache/) for "
            "requests that carry this token (Authorization: Bearer TOKEN); "
            "@FILE reads the token from a file [default: off].",
        ],
        [
            "log-level",
            None,
            None,
            "The least important events logged: debug, info (one line per "
            "request and what an operator must act on), warn or error "
            "[default: info; warn for warm, export and analyze, whose own "
            "progress lines say the rest].",
        ],
        [
            "access-log",
            None,
            None,
            "Append one line per request to this file, in the Combined Log "
            "Format [default: none].",
        ],
        *STORE_PARAMETERS,
        *POLICY_PARAMETERS,
    ]

    #: Where ``PYPIPROXY_*`` settings are read from (tests replace it).
    environ: Mapping[str, str] = os.environ

    #: The ``--log-level`` when none is given.
    default_log_level = DEFAULT_LOG_LEVEL

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []

    def opt_config(self, path: str) -> None:
        """
        Read settings from this TOML file (keys named like the options, e.g.
        cache-dir = "/var/cache/twisted-pypi"); PYPIPROXY_* environment
        variables win over it, and options win over both (see
        docs/configuration.md).
        """
        self["config-file"] = path

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Parse the settings of the ``--config`` file and of the environment,
        then ``options`` (the command line, which wins; options may come
        before and after positional arguments).

        :param options: The arguments; ``sys.argv[1:]`` when ``None``.
        """
        argv = gnu_order(self, sys.argv[1:] if options is None else options)
        settings = settings_arguments(self, argv, self.environ)
        usage.Options.parseOptions(self, [*settings, *argv])

    def opt_listen(self, description: str) -> None:
        """
        A Twisted server endpoint to listen on, e.g. tcp:8080,
        tcp:8443:interface=0.0.0.0, ssl:8443:privateKey=key.pem, unix:/run/p.sock
        (repeatable) [default: tcp:8080].
        """
        try:
            check_listen(description)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        self["listen"].append(description)

    def postOptions(self) -> None:
        try:
            self["log-level"] = parse_log_level(
                self["log-level"] or self.default_log_level
            )
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        base_url = self["base-url"]
        if base_url is not None:
            try:
                base_url = parse_http_url(base_url, "--base-url")
            except ValueError as e:
                raise usage.UsageError(str(e)) from None
        cache_dir = os.path.abspath(
            os.path.expanduser(self["cache-dir"] or default_cache_dir())
        )
        check_cache_dir(cache_dir)
        reader = self.cache_reader()
        indexes = self.indexes(cache_dir, reader)
        try:
            token = self["admin-token"]
            admin_token = read_admin_token(token) if token is not None else None
            access_log = self["access-log"]
            access_log = check_access_log(access_log) if access_log else None
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        store, locals_, cluster = store_settings(self, self.writes_to_bucket())
        upload_users = self["upload-users"]
        if upload_users is not None:
            if not self["local"]:
                raise usage.UsageError(
                    "--upload-users needs a --local NAME=DIR to upload to"
                )
            upload_users = os.path.abspath(os.path.expanduser(upload_users))
            from twisted_pypi.upload.users import load_users

            try:
                load_users(upload_users)
            except ValueError as e:
                raise usage.UsageError(f"--upload-users: {e}") from None
        self["config"] = ProxyConfig(
            listen=tuple(self["listen"] or ["tcp:8080"]),
            indexes=tuple(indexes),
            locals=tuple(locals_),
            routes=dict(self["route"]),
            merge=frozenset(self["merge"]),
            upload_users=upload_users,
            max_upload_size=self["max-upload-size"],
            cache_dir=cache_dir,
            cache_size=self["cache-size"],
            base_url=base_url,
            connect_timeout=self["timeout"] or 10.0,
            idle_timeout=self["idle-timeout"] or 30.0,
            header_timeout=self["header-timeout"] or None,
            dummies=tuple(self["dummy"].values()),
            offline=bool(self["offline"]),
            admin_token=admin_token,
            access_log=access_log,
            store=store,
            cluster=cluster,
            policy=self.policy(indexes, locals_),
        )
        if reader is not None:
            check_cached_indexes(self["config"], reader)

    def writes_to_bucket(self) -> bool:
        """Whether the command writes to a bucket (``export``), not serve."""
        return False

    def cache_reader(self) -> str | None:
        """
        The command, for messages, if these options read the cache alone
        (``--offline``): without ``--index`` they then use the indexes the
        cache holds.
        """
        return "--offline" if self["offline"] else None


def makeService(options: Options) -> IService:
    """
    Build the proxy service from parsed options (the twistd plugin entry
    point).

    :param options: Parsed :class:`Options`.
    :raises SystemExit: With status 1 and one line on standard error if the
        service cannot be built.
    """
    from twisted.internet import reactor

    from twisted_pypi.app.service import StartupError, make_service
    from twisted_pypi.app.startup import TwistdService

    try:
        proxy = make_service(options["config"], reactor)
    except (StartupError, OSError) as e:
        sys.stderr.write(f"twistd pypiproxy: error: {e}\n")
        raise SystemExit(1) from None
    return TwistdService(proxy, options["log-level"], getattr(options, "parent", None))
