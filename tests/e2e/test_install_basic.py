"""
End-to-end: real ``pip`` and real ``uv`` install through a running proxy
from a fake upstream index, both on 127.0.0.1, cold and then warm with the
upstream stopped.

The installers run as subprocesses without blocking the reactor, with an
environment of their own: no ``PIP_*``/``UV_*`` variables or configuration
files of this machine, no HTTP proxy, a temporary home and cache.
"""

from __future__ import annotations

from collections import Counter
from typing import cast

from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.python.filepath import FilePath

from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, Upstream, pip_argv, uv_argv
from tests.wheels import build_wheel

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


class InstallTests(RealInstallTestCase):
    """
    pip and uv, each through its own proxy with a cold cache and then warm
    with its upstream stopped.
    """

    async def pip(self, index_url: str) -> FilePath[str]:
        """
        ``pip install tpapp`` into a new target directory; fails the test if
        pip fails.
        """
        target = self.scratch()
        code, output = await self.run_process(
            pip_argv(index_url, target, "tpapp"), self.env
        )
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
        argv = uv_argv(
            self.uv, index_url, target, "tpapp",
            options=("--exclude-newer", exclude_newer),
        )  # fmt: skip
        return await self.run_process(argv, self.env)

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
        upstream = self.start_upstream(make_index())
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
                   if e.get("log_namespace") == "twisted_pypi.web.site"]  # fmt: skip
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
