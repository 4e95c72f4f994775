"""
Helpers for end-to-end tests that run real installers (pip, uv) through a
proxy listening on 127.0.0.1 in front of a fake upstream index, on the real
reactor.

The installers run as subprocesses without blocking the reactor, with an
environment of their own: no ``PIP_*``/``UV_*`` variables or configuration
files of this machine, no HTTP proxy, a temporary home and cache.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IListeningPort, IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.protocols.policies import WrappingFactory
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, TestCase
from twisted.web.server import Site

from tests.fakeindex import FakeIndex
from twisted_pypi.app.service import make_service
from twisted_pypi.core.config import (
    IndexConfig,
    LocalConfig,
    ProxyConfig,
    index_name_for,
)
from twisted_pypi.core.dummyspec import DummySpec
from twisted_pypi.core.policy import Policy


def uv_binary() -> str | None:
    """
    The ``uv`` executable: beside this Python, from the ``uv`` package, or
    on ``PATH``.
    """
    beside = os.path.join(os.path.dirname(sys.executable), "uv")
    if os.access(beside, os.X_OK):
        return beside
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found,unused-ignore]

        found: str = find_uv_bin()
        return found
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def clean_env(home: FilePath[str]) -> dict[str, str]:
    """
    An environment for an installer that nothing of this machine's
    configuration reaches.

    :param home: A temporary home directory.
    """
    dropped = ("PIP_", "UV_", "XDG_", "PYTHON", "VIRTUAL_ENV", "CONDA")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(dropped) and not k.upper().endswith("_PROXY")
    }
    env.update(
        HOME=home.path,
        XDG_CONFIG_HOME=home.child("config").path,
        XDG_CACHE_HOME=home.child("cache").path,
        XDG_DATA_HOME=home.child("data").path,
        NO_PROXY="*",
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CONFIG="1",
        UV_CACHE_DIR=home.child("uv-cache").path,
        UV_PYTHON_DOWNLOADS="never",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def pip_argv(index_url: str, target: FilePath[str], *requirements: str) -> list[str]:
    """
    The command that runs this Python's pip to install ``requirements`` from
    ``index_url`` (and nothing else) into the directory ``target``, with no
    cache, no retries and no questions.
    """
    return [
        sys.executable, "-m", "pip", "install", "--isolated",
        "--no-cache-dir", "--disable-pip-version-check", "--no-input",
        "--progress-bar", "off", "--retries", "0", "--timeout", "30",
        "--index-url", index_url, "--target", target.path, *requirements,
    ]  # fmt: skip


def uv_argv(
    uv: str,
    index_url: str,
    target: FilePath[str],
    *requirements: str,
    options: Sequence[str] = (),
) -> list[str]:
    """
    The command that runs ``uv pip install`` for this Python to install
    ``requirements`` from ``index_url`` (and nothing else) into the
    directory ``target``, with no cache.

    :param uv: The uv executable.
    :param options: More options for ``uv pip install``.
    """
    return [
        uv, "pip", "install", "--no-cache", "--no-progress",
        "--color", "never", "--python", sys.executable, *options,
        "--index-url", index_url, "--target", target.path, *requirements,
    ]  # fmt: skip


def port_of(port: IListeningPort) -> int:
    """
    The TCP port number ``port`` listens on.
    """
    address = port.getHost()
    assert isinstance(address, IPv4Address)
    return address.port


class Collect(ProcessProtocol):
    """
    Collects a process's output and its exit code.
    """

    def __init__(self) -> None:
        self.out: list[bytes] = []
        self.err: list[bytes] = []
        self.ended: Deferred[int] = Deferred()

    def outReceived(self, data: bytes) -> None:
        """
        Keep standard output.
        """
        self.out.append(data)

    def errReceived(self, data: bytes) -> None:
        """
        Keep standard error.
        """
        self.err.append(data)

    def processEnded(self, reason: Failure) -> None:
        """
        Report the exit code (``-1`` when killed by a signal).
        """
        code = getattr(reason.value, "exitCode", None)
        self.ended.callback(code if code is not None else -1)


class Upstream:
    """
    A fake index listening on 127.0.0.1 that can be stopped completely:
    no more connections accepted, open ones closed.
    """

    def __init__(self, index: FakeIndex) -> None:
        """
        :param index: The fake index to serve.
        """
        self.index = index
        self.connections = WrappingFactory(Site(self.index))
        factory: Any = self.connections
        self.port: IListeningPort | None = reactor.listenTCP(
            0, factory, interface="127.0.0.1"
        )
        self.url = f"http://127.0.0.1:{port_of(self.port)}/simple/"

    async def stop(self) -> None:
        """
        Stop listening and close every open connection.
        """
        port, self.port = self.port, None
        if port is not None:
            await maybeDeferred(port.stopListening)
        for protocol in list(self.connections.protocols):
            protocol.transport.abortConnection()
        for _ in range(100):
            if not self.connections.protocols:
                return
            await deferLater(reactor, 0.01)
        raise AssertionError("upstream connections stayed open")

    def file_requests(self) -> Counter[tuple[str, str]]:
        """
        The upstream's file requests, counted by method and path.
        """
        return Counter(
            (method, path)
            for method, path in self.index.requests
            if path.startswith("/packages/")
        )


class RealInstallTestCase(TestCase):
    """
    Starts fake upstreams and proxies on 127.0.0.1 and runs installers in a
    clean environment (``self.env``, home ``self.home``); skips when uv is
    not installed (``self.uv`` is its path otherwise).
    """

    timeout = 120

    def setUp(self) -> None:
        self.uv = uv_binary()
        if self.uv is None:
            raise SkipTest("uv is not installed")
        self.home = self.scratch()
        self.home.makedirs()
        self.env = clean_env(self.home)

    def scratch(self) -> FilePath[str]:
        """
        A new temporary path, deleted with all it holds after the test (the
        installs and caches hold several megabytes each).
        """
        path = FilePath(self.mktemp())
        self.addCleanup(shutil.rmtree, path.path, ignore_errors=True)
        return path

    async def start_proxy(
        self, upstream: Upstream, dummies: tuple[DummySpec, ...] = ()
    ) -> str:
        """
        A proxy on 127.0.0.1 with a fresh cache in front of ``upstream``.

        :param upstream: The upstream index.
        :param dummies: The proxy's ``--dummy`` projects.
        :return: Its index URL.
        """
        return await self.start_proxy_with(
            [IndexConfig(index_name_for(upstream.url), upstream.url)], dummies=dummies
        )

    async def start_proxy_with(
        self,
        indexes: Sequence[IndexConfig],
        *,
        local: Sequence[LocalConfig] = (),
        routes: Mapping[str, str] | None = None,
        merge: Iterable[str] = (),
        dummies: tuple[DummySpec, ...] = (),
        upload_users: str | None = None,
        policy: Policy | None = None,
    ) -> str:
        """
        A proxy on 127.0.0.1 with a fresh cache in front of several indexes.

        :param indexes: The remote indexes, by priority.
        :param local: The ``--local`` directories.
        :param routes: The ``--route`` settings.
        :param merge: The ``--merge`` projects.
        :param dummies: The proxy's ``--dummy`` projects.
        :param upload_users: The ``--upload-users`` file, if any.
        :param policy: The supply-chain policy [default: none].
        :return: Its index URL.
        """
        config = ProxyConfig(
            listen=("tcp:0:interface=127.0.0.1",),
            indexes=tuple(indexes),
            cache_dir=self.scratch().path,
            dummies=dummies,
            locals=tuple(local),
            routes=dict(routes or {}),
            merge=frozenset(merge),
            upload_users=upload_users,
            policy=policy or Policy(),
        )
        service = make_service(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        return f"http://127.0.0.1:{port_of(service.ports[0])}/simple/"

    def start_upstream(self, index: FakeIndex) -> Upstream:
        """
        ``index`` listening on 127.0.0.1, stopped at cleanup.
        """
        upstream = Upstream(index)
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        return upstream

    async def run_process(
        self, argv: list[str], env: Mapping[str, str]
    ) -> tuple[int, str]:
        """
        Run a command without blocking the reactor; killed at cleanup if it
        still runs.

        :return: Its exit code and its output (stdout and stderr).
        """
        collect = Collect()
        process: IProcessTransport = reactor.spawnProcess(
            collect, argv[0], argv, env=dict(env), path=self.home.path
        )

        def kill() -> Deferred[int] | None:
            if collect.ended.called:
                return None
            process.signalProcess("KILL")
            return collect.ended

        self.addCleanup(kill)
        code = await collect.ended
        # Let the proxy see the connections the process closed by exiting, so
        # that none is left open when the test ends.
        await deferLater(reactor, 0.05)
        output = b"".join(collect.out + collect.err).decode("utf-8", "replace")
        return code, output
