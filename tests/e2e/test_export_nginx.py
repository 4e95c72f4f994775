"""
The nginx configuration that ``docs/offline.md`` gives for an exported tree,
run for real on 127.0.0.1 (skipped where nginx is not installed): it offers
both PEP 691 formats by the ``Accept`` header, and pip installs from it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket

from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectError
from twisted.internet.interfaces import IProcessTransport
from twisted.internet.task import deferLater
from twisted.trial.unittest import SkipTest
from twisted.web.client import Agent, HTTPConnectionPool

from tests import REPOSITORY
from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy
from tests.realinstall import Collect, RealInstallTestCase, pip_argv
from tests.wheels import build_wheel
from twisted_pypi.app.compose import make_page_caches
from twisted_pypi.mirror.export import export_tree
from twisted_pypi.upstream.offline import OfflineClient

APP = build_wheel("tpnapp", "1.0", requires=["tpnlib"])
LIB = build_wheel("tpnlib", "2.0")

DOC = os.path.join(REPOSITORY, "docs", "offline.md")

JSON = "application/vnd.pypi.simple.v1+json"


def documented_config() -> str:
    """
    The ``nginx`` block of ``docs/offline.md``.
    """
    with open(DOC, encoding="utf-8") as f:
        match = re.search(r"```nginx\n(.*?)```", f.read(), re.DOTALL)
    assert match is not None, "docs/offline.md has no nginx block"
    return match.group(1)


def free_port() -> int:
    """
    A TCP port on 127.0.0.1 that nothing listens on just now.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class NginxTests(RealInstallTestCase):
    """
    An export served by nginx with the documented configuration.
    """

    def setUp(self) -> None:
        """
        Export a cache filled through an online proxy.
        """
        super().setUp()
        self.nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
        )
        if self.nginx is None:
            raise SkipTest("nginx is not installed")
        index = FakeIndex(mode="json")
        index.add("tpnapp", FakeFile(APP))
        index.add("tpnlib", FakeFile(LIB))
        online = MemoryProxy(index, self.scratch())
        for path in ("/simple/tpnapp/", "/simple/tpnlib/"):
            online.get(path)
        for wheel in (APP, LIB):
            online.get(online.file_path(wheel.filename))
            online.get(online.file_path(wheel.filename + ".metadata"))
        self.tree = self.scratch()
        pages = make_page_caches(
            online.config, OfflineClient(), online.clock, online.cache
        )
        work = export_tree(self.tree, pages, online.cache, [], online.config)
        self.successResultOf(Deferred.fromCoroutine(work))
        pool = HTTPConnectionPool(reactor, persistent=False)
        self.client = HTTPClient(Agent(reactor, pool=pool))

    async def serve(self) -> str:
        """
        nginx with the documented server block (its root and port changed)
        on 127.0.0.1; stopped at cleanup.

        :return: The index URL.
        """
        port = free_port()
        prefix = self.scratch()
        prefix.makedirs()
        server = documented_config()
        server = server.replace("listen 8080;", f"listen 127.0.0.1:{port};")
        server = server.replace("root /srv/pypi-mirror;", f"root {self.tree.path};")
        prefix.child("nginx.conf").setContent(
            (
                "daemon off;\nmaster_process off;\n"
                f"pid {prefix.path}/nginx.pid;\nerror_log {prefix.path}/error.log;\n"
                "events {}\nhttp {\n"
                f"access_log {prefix.path}/access.log;\n{server}}}\n"
            ).encode()
        )
        collect = Collect()
        argv = [self.nginx or "nginx", "-p", prefix.path, "-e", "stderr"]
        argv += ["-c", prefix.child("nginx.conf").path]
        process: IProcessTransport = reactor.spawnProcess(
            collect, argv[0], argv, env=self.env, path=prefix.path
        )

        def stop() -> Deferred[int] | None:
            """Stop nginx if it runs, and wait for its end."""
            if collect.ended.called:
                return None
            process.signalProcess("TERM")
            return collect.ended

        self.addCleanup(stop)
        url = f"http://127.0.0.1:{port}/simple/"
        for _ in range(200):
            if collect.ended.called:
                break
            try:
                response = await self.client.get(url)
                await response.content()
                return url
            except ConnectError:
                await deferLater(reactor, 0.025)
        output = b"".join(collect.out + collect.err).decode("utf-8", "replace")
        raise AssertionError(f"nginx did not start: {output}")

    async def get(self, url: str, accept: str) -> tuple[str, str, bytes]:
        """
        The content type, ``Vary`` and body of ``url`` asked with ``accept``.
        """
        asked: dict[bytes | str, bytes | str] = {"accept": accept}
        response = await self.client.get(url, headers=asked)
        body: bytes = await response.content()
        self.assertEqual(response.code, 200, url)
        headers = response.headers
        return (
            (headers.getRawHeaders("content-type") or [""])[0],
            ",".join(headers.getRawHeaders("vary") or []),
            body,
        )

    async def test_negotiation(self) -> None:
        """
        JSON is served to clients that ask for it (as pip and uv do, with
        HTML as a fallback) and HTML to the others, for the project list and
        the project pages, always with ``Vary: Accept``.
        """
        url = await self.serve()
        pip_accept = f"{JSON}, application/vnd.pypi.simple.v1+html; q=0.1"
        for page in (url, url + "tpnapp/"):
            ctype, vary, body = await self.get(page, pip_accept)
            self.assertEqual(ctype, JSON)
            self.assertIn("Accept", vary)
            json.loads(body)
            ctype, vary, body = await self.get(page, "text/html")
            self.assertEqual(ctype, "text/html; charset=utf-8")
            self.assertIn(b"<!DOCTYPE html>", body)
        ctype, _, _ = await self.get(url + "tpnapp/", "*/*")
        self.assertTrue(ctype.startswith("text/html"))

    async def test_pip_installs(self) -> None:
        """
        pip installs the app and its dependency from the nginx mirror.
        """
        url = await self.serve()
        target = self.scratch()
        code, output = await self.run_process(pip_argv(url, target, "tpnapp"), self.env)
        self.assertEqual(code, 0, output)
        self.assertTrue(target.child("tpnlib.py").exists(), output)
