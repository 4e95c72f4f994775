"""
End-to-end: real ``pip`` and real ``uv`` install through a running proxy
from a fake upstream index, both on 127.0.0.1, cold and then warm with the
upstream stopped.

The installers run as subprocesses without blocking the reactor, with an
environment of their own: no ``PIP_*``/``UV_*`` variables or configuration
files of this machine, no HTTP proxy, a temporary home and cache.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any, cast

from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IListeningPort, IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.internet.task import deferLater
from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.protocols.policies import WrappingFactory
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, TestCase
from twisted.web.server import Site

from twisted_pypi.config import IndexConfig, ProxyConfig, index_name_for
from twisted_pypi.service import make_service

from .fakeindex import FakeFile, FakeIndex
from .wheels import build_wheel

#: The app, which needs the lib.
APP = build_wheel("tpapp", "1.0", requires=["tplib>=1.0"])
LIB_OLD = build_wheel("tplib", "1.0")
#: The version the installers must choose: a multi-MB wheel.
LIB_CHOSEN = build_wheel("tplib", "2.0", padding=4 << 20)
LIB_YANKED = build_wheel("tplib", "2.5")
LIB_FUTURE = build_wheel("tplib", "3.0", requires_python=">=4")

#: What a successful install leaves in the target directory.
INSTALLED = {"tpapp-1.0.dist-info", "tplib-2.0.dist-info"}


def make_index() -> FakeIndex:
    """
    The fake upstream: the app, and the lib in four versions (one yanked,
    one needing Python 4).
    """
    index = FakeIndex(mode="json")
    index.add("tpapp", FakeFile(APP))
    index.add(
        "tplib",
        FakeFile(LIB_OLD),
        FakeFile(LIB_CHOSEN),
        FakeFile(LIB_YANKED, yanked="broken"),
        FakeFile(LIB_FUTURE, requires_python=">=4"),
    )
    return index


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

    def __init__(self) -> None:
        self.index = make_index()
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


class InstallTests(TestCase):
    """
    pip and uv, each through its own proxy with a cold cache and then warm
    with its upstream stopped.
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

    async def start_proxy(self, upstream: Upstream) -> str:
        """
        A proxy on 127.0.0.1 with a fresh cache in front of ``upstream``.

        :return: Its index URL.
        """
        config = ProxyConfig(
            listen=("tcp:0:interface=127.0.0.1",),
            indexes=(IndexConfig(index_name_for(upstream.url), upstream.url),),
            cache_dir=self.scratch().path,
        )
        service = make_service(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        return f"http://127.0.0.1:{port_of(service.ports[0])}/simple/"

    def start_upstream(self) -> Upstream:
        """
        A fake index on 127.0.0.1, stopped at cleanup.
        """
        upstream = Upstream()
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

    async def pip(self, index_url: str) -> FilePath[str]:
        """
        ``pip install tpapp`` into a new target directory; fails the test if
        pip fails.
        """
        target = self.scratch()
        code, output = await self.run_process(
            [
                sys.executable, "-m", "pip", "install", "--isolated",
                "--no-cache-dir", "--disable-pip-version-check", "--no-input",
                "--progress-bar", "off", "--retries", "0", "--timeout", "30",
                "--index-url", index_url, "--target", target.path, "tpapp",
            ],
            self.env,
        )  # fmt: skip
        self.assertEqual(code, 0, output)
        return target

    async def run_uv(
        self, index_url: str, target: FilePath[str], exclude_newer: str
    ) -> tuple[int, str]:
        """
        Run ``uv pip install tpapp`` into ``target``, considering only files
        uploaded before ``exclude_newer`` (which needs the upload times the
        index gives).

        :return: uv's exit code and output.
        """
        assert self.uv is not None
        return await self.run_process(
            [
                self.uv, "pip", "install", "--no-cache", "--no-progress",
                "--color", "never", "--python", sys.executable,
                "--exclude-newer", exclude_newer,
                "--index-url", index_url, "--target", target.path, "tpapp",
            ],
            self.env,
        )  # fmt: skip

    async def uv_install(self, index_url: str) -> FilePath[str]:
        """
        ``uv pip install tpapp`` into a new target directory, excluding files
        newer than 2025 (the fake index's files are from 2024: uv finds them
        only if the proxy passed their upload times on); fails the test if uv
        fails.
        """
        target = self.scratch()
        code, output = await self.run_uv(index_url, target, "2025-01-01T00:00:00Z")
        self.assertEqual(code, 0, output)
        return target

    def assert_installed(self, target: FilePath[str], who: str) -> None:
        """
        The target holds exactly the app 1.0 and the lib 2.0 (the multi-MB
        wheel), not the yanked or the Python 4 versions.
        """
        dist_infos = {c.basename() for c in target.children()
                      if c.basename().endswith(".dist-info")}  # fmt: skip
        self.assertEqual(dist_infos, INSTALLED, who)
        self.assertEqual(
            target.child("tplib.py").getContent(), b"VERSION = '2.0'\n", who
        )
        self.assertEqual(target.child("tplib_data.bin").getsize(), 4 << 20, who)

    def assert_each_file_once(self, upstream: Upstream, who: str) -> None:
        """
        The upstream sent each file it was asked for exactly once, including
        both chosen wheels; the yanked and the excluded wheels never.
        """
        requests = upstream.file_requests()
        self.assertTrue(requests, who)
        self.assertEqual({n for n in requests.values()}, {1}, (who, requests))
        for wheel in (APP, LIB_CHOSEN):
            self.assertEqual(requests[("GET", f"/packages/{wheel.filename}")], 1, who)
        for wheel in (LIB_YANKED, LIB_FUTURE, LIB_OLD):
            self.assertEqual(requests[("GET", f"/packages/{wheel.filename}")], 0, who)
        pages = Counter(
            p for _, p in upstream.index.requests if p.startswith("/simple/")
        )
        self.assertEqual(pages, {"/simple/tpapp/": 1, "/simple/tplib/": 1}, who)

    async def cold_then_warm(self, install: str) -> str:
        """
        Install with ``install`` (``"pip"`` or ``"uv"``) through a new proxy
        with a cold cache; stop the upstream and install again: every request
        of the warm run is a 200 answered from the proxy's cache.

        :return: The proxy's index URL.
        """
        run = self.pip if install == "pip" else self.uv_install
        upstream = self.start_upstream()
        proxy = await self.start_proxy(upstream)
        self.assert_installed(await run(proxy), f"{install} cold")
        self.assert_each_file_once(upstream, f"{install} cold")
        await upstream.stop()
        served: list[LogEvent] = []
        observer = cast(ILogObserver, served.append)
        globalLogPublisher.addObserver(observer)
        try:
            self.assert_installed(await run(proxy), f"{install} warm")
        finally:
            globalLogPublisher.removeObserver(observer)
        answers = [(e["method"], e["path"], e["code"], e["cache"]) for e in served
                   if e.get("log_namespace") == "twisted_pypi.site"]  # fmt: skip
        wheels = [p.rsplit("/", 1)[-1] for m, p, _, _ in answers if m == "GET"]
        self.assertIn(LIB_CHOSEN.filename, wheels, answers)
        self.assertIn(APP.filename, wheels, answers)
        for method, path, code, cache in answers:
            self.assertEqual((code, cache), (200, "HIT"), (install, method, path))
        return proxy

    async def test_pip(self) -> None:
        """
        pip installs the app and the right lib version through a cold proxy,
        which fetches each file from the upstream once; then, with the
        upstream stopped, installs the same again from the proxy's cache.
        """
        await self.cold_then_warm("pip")

    async def test_uv(self) -> None:
        """
        uv does the same: cold through a fresh proxy, then warm with the
        upstream stopped. The upload times reach uv: it finds nothing when
        excluding files uploaded after 2023.
        """
        proxy = await self.cold_then_warm("uv")
        code, output = await self.run_uv(proxy, self.scratch(), "2023-01-01T00:00:00Z")
        self.assertNotEqual(code, 0, output)
        self.assertIn("exclude-newer", output)
