"""
End-to-end: ``pypiproxy warm`` fills a cache from a fake upstream on
127.0.0.1, the upstream is stopped, and real pip and real uv install the set
through a proxy started with ``--offline`` on that cache, and from the tree
``pypiproxy export`` writes, served by ``python -m http.server`` and as a
``file://`` index.

The set has a dependency reached only through an environment marker, and a
project that has only an sdist: the installers build it offline, which
works because its ``pyproject.toml`` names an in-tree build backend
(``backend-path = ["."]``) and no build requirements, so build isolation
needs nothing from the index.
"""

from __future__ import annotations

import io
import re
import sys

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath

from tests import REPOSITORY
from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, Upstream, pip_argv, port_of, uv_argv
from tests.wheels import build_sdist, build_wheel
from twisted_pypi.app.exportcli import ExportOptions, run_export
from twisted_pypi.app.service import make_service
from twisted_pypi.app.warmcli import WarmOptions, run_warm
from twisted_pypi.core.config import IndexConfig, ProxyConfig, index_name_for

#: The app: one dependency per platform (by marker) and an sdist-only one.
APP = build_wheel(
    "tpoapp",
    "1.0",
    requires=[
        "tpo-linux; sys_platform == 'linux'",
        "tpo-win; sys_platform == 'win32'",
        "tpobuild>=1",
    ],
)
APP_OLD = build_wheel("tpoapp", "0.9")
LINUX_DEP = build_wheel("tpo-linux", "1.0")
WIN_DEP = build_wheel("tpo-win", "1.0")
#: Only an sdist, which installers build with its in-tree backend.
BUILT = build_sdist("tpobuild", "1.0", metadata_version="2.2", buildable=True)

#: What an install on Linux leaves in the target directory.
INSTALLED = {
    "tpoapp-1.0.dist-info",
    "tpo_linux-1.0.dist-info",
    "tpobuild-1.0.dist-info",
}

#: The platforms warmed for: this machine's install needs the first.
PLATFORMS = ("manylinux_2_17_x86_64", "win_amd64")

#: The repository, for running ``python -m twisted_pypi``.


def make_index() -> FakeIndex:
    """
    The fake upstream.
    """
    index = FakeIndex(mode="json")
    index.add("tpoapp", FakeFile(APP_OLD), FakeFile(APP))
    index.add("tpo-linux", FakeFile(LINUX_DEP))
    index.add("tpo-win", FakeFile(WIN_DEP))
    index.add("tpobuild", FakeFile(BUILT))
    return index


class _Serving(ProcessProtocol):
    """
    Watches ``python -m http.server`` for the port it says it serves on.
    """

    def __init__(self) -> None:
        """
        Nothing seen yet.
        """
        self.port: Deferred[int] = Deferred()
        self.ended: Deferred[None] = Deferred()
        self._out = b""

    def outReceived(self, data: bytes) -> None:
        """
        Look for ``port N`` in what the server prints.
        """
        self._out += data
        match = re.search(rb"port (\d+)", self._out)
        if match and not self.port.called:
            self.port.callback(int(match.group(1)))

    def processEnded(self, reason: Failure) -> None:
        """
        Report the end, and that no port came if none did.
        """
        if not self.port.called:
            self.port.errback(AssertionError(f"http.server ended: {self._out!r}"))
        self.ended.callback(None)


class OfflineMirrorTests(RealInstallTestCase):
    """
    warm, then install with the upstream gone: through ``--offline`` and
    from an export.
    """

    def write_requirements(self) -> str:
        """
        A requirements file with a comment, an include with an index option
        (ignored), and a continued line.

        :return: Its path.
        """
        folder = self.scratch()
        folder.makedirs()
        folder.child("base.txt").setContent(
            b"--index-url https://pypi.org/simple/\ntpobuild  # sdist only\n"
        )
        folder.child("requirements.txt").setContent(
            b"# the app\n-r base.txt\ntpoapp \\\n    >=1.0\n"
        )
        return folder.child("requirements.txt").path

    async def warm(self, upstream: Upstream, cache: FilePath[str]) -> str:
        """
        Warm ``cache`` from ``upstream`` for Linux and Windows; fails the
        test if the command fails.

        :return: What it printed.
        """
        options = WarmOptions()
        options.parseOptions(
            [
                "--index", upstream.url, "--cache-dir", cache.path,
                "-r", self.write_requirements(),
                *(arg for p in PLATFORMS for arg in ("--platform", p)),
            ]
        )  # fmt: skip
        err = io.StringIO()
        code = await run_warm(reactor, options, err)
        self.assertEqual(code, 0, err.getvalue())
        return err.getvalue()

    async def offline_proxy(self, upstream: Upstream, cache: FilePath[str]) -> str:
        """
        A proxy with ``--offline`` on ``cache``, on 127.0.0.1.

        :return: Its index URL.
        """
        config = ProxyConfig(
            listen=("tcp:0:interface=127.0.0.1",),
            indexes=(IndexConfig(index_name_for(upstream.url), upstream.url),),
            cache_dir=cache.path,
            offline=True,
        )
        service = make_service(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        return f"http://127.0.0.1:{port_of(service.ports[0])}/simple/"

    async def install(self, argv: list[str], target: FilePath[str], who: str) -> None:
        """
        Run an installer; it succeeds and installs the Linux set, with the
        sdist built.
        """
        code, output = await self.run_process(argv, self.env)
        self.assertEqual(code, 0, f"{who}: {output}")
        dist_infos = {
            c.basename()
            for c in target.children()
            if c.basename().endswith(".dist-info")
        }
        self.assertEqual(dist_infos, INSTALLED, who)
        self.assertEqual(
            target.child("tpobuild.py").getContent(), b"VERSION = '1.0'\n", who
        )

    async def warmed_and_stopped(self) -> tuple[Upstream, FilePath[str]]:
        """
        Warm a new cache from a new upstream, warm again (which fetches
        nothing), then stop the upstream.

        :return: The stopped upstream and the cache directory.
        """
        upstream = self.start_upstream(make_index())
        cache = self.scratch()
        out = await self.warm(upstream, cache)
        self.assertIn("warning: ", out)
        self.assertIn("ignored --index-url", out)
        fetched = upstream.file_requests()
        self.assertEqual(fetched[("GET", f"/packages/{WIN_DEP.filename}")], 1)
        self.assertEqual(fetched[("GET", f"/packages/{APP_OLD.filename}")], 0)
        again = await self.warm(upstream, cache)
        self.assertEqual(upstream.file_requests(), fetched)
        self.assertIn("0 files fetched (0 B)", again)
        await upstream.stop()
        return upstream, cache

    async def test_offline_proxy(self) -> None:
        """
        With the upstream stopped, pip and uv install the set (building the
        sdist) through an ``--offline`` proxy on the warmed cache.
        """
        upstream, cache = await self.warmed_and_stopped()
        proxy = await self.offline_proxy(upstream, cache)
        target = self.scratch()
        await self.install(pip_argv(proxy, target, "tpoapp"), target, "pip")
        assert self.uv is not None
        target = self.scratch()
        await self.install(uv_argv(self.uv, proxy, target, "tpoapp"), target, "uv")

    async def test_export(self) -> None:
        """
        With the upstream stopped, the exported tree installs with pip both
        over ``python -m http.server`` and as a ``file://`` index.
        """
        upstream, cache = await self.warmed_and_stopped()
        tree = self.scratch()
        options = ExportOptions()
        options.parseOptions(
            ["--index", upstream.url, "--cache-dir", cache.path, tree.path]
        )
        err = io.StringIO()
        self.assertEqual(await run_export(reactor, options, err), 0, err.getvalue())
        self.assertIn("exported 4 projects", err.getvalue())
        url = await self.http_server(tree)
        target = self.scratch()
        await self.install(pip_argv(url, target, "tpoapp"), target, "pip over http")
        target = self.scratch()
        index = tree.child("simple").asTextMode().path
        argv = pip_argv(f"file://{index}/", target, "tpoapp")
        await self.install(argv, target, "pip from file://")

    async def http_server(self, directory: FilePath[str]) -> str:
        """
        ``python -m http.server`` serving ``directory`` on 127.0.0.1, on a
        port of its choosing; stopped at cleanup.

        :return: The index URL.
        """
        serving = _Serving()
        argv = [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1"]
        argv += ["--directory", directory.path, "0"]
        process: IProcessTransport = reactor.spawnProcess(
            serving, argv[0], argv, env=self.env, path=self.home.path
        )

        def stop() -> Deferred[None]:
            """Kill the server if it runs, and wait for its end."""
            if not serving.ended.called:
                process.signalProcess("KILL")
            return serving.ended

        self.addCleanup(stop)
        port = await serving.port
        return f"http://127.0.0.1:{port}/simple/"

    async def test_unresolvable(self) -> None:
        """
        ``pypiproxy warm`` with a requirement the index cannot satisfy says
        what is missing and exits with 1.
        """
        upstream = self.start_upstream(make_index())
        env = dict(self.env, PYTHONPATH=REPOSITORY)
        argv = [
            sys.executable, "-m", "twisted_pypi", "warm", "--index", upstream.url,
            "--cache-dir", self.scratch().path, "tpoapp", "tpo-nowhere>=1",
        ]  # fmt: skip
        code, output = await self.run_process(argv, env)
        self.assertEqual(code, 1, output)
        self.assertIn("pypiproxy warm: could not warm everything:", output)
        self.assertIn("tpo-nowhere is not on the index", output)
