"""
End-to-end: an upstream that speaks only PEP 503 HTML (no JSON at all), in
front of which the real ``twistd -n pypiproxy`` process serves real pip and
real uv.
"""

from __future__ import annotations

from twisted.python.filepath import FilePath

from tests.e2e.proxyprocess import ProxyProcess, start_twistd_proxy
from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, pip_argv, uv_argv
from tests.wheels import build_wheel

#: The app, which needs the lib.
APP = build_wheel("tpapp", "1.0", requires=["tplib>=1.0"])
LIB_OLD = build_wheel("tplib", "1.0")
LIB = build_wheel("tplib", "2.0")
#: A later lib only for Python 4, which the installers must pass over.
LIB_FUTURE = build_wheel("tplib", "3.0", requires_python=">=4")


class HtmlUpstreamTests(RealInstallTestCase):
    """
    pip and uv through the proxy in front of an HTML-only index.
    """

    async def start(self) -> tuple[FakeIndex, ProxyProcess]:
        """
        An HTML-only fake index, and the proxy process in front of it.
        """
        index = FakeIndex(mode="html")
        index.add("tpapp", FakeFile(APP))
        index.add(
            "tplib",
            FakeFile(LIB_OLD),
            FakeFile(LIB),
            FakeFile(LIB_FUTURE, requires_python=">=4"),
        )
        upstream = self.start_upstream(index)
        proxy = await start_twistd_proxy(
            self,
            self.home,
            ["--index", upstream.url, "--cache-dir", self.scratch().path],
        )
        return index, proxy

    def assert_installed(self, code: int, output: str, target: FilePath[str]) -> None:
        """
        The install succeeded and chose the lib 2.0 (not the Python 4 one).
        """
        self.assertEqual(code, 0, output)
        lib = target.child("tplib.py").getContent()
        self.assertEqual(lib, b"VERSION = '2.0'\n", output)

    async def test_pip(self) -> None:
        """
        pip installs a project and its dependency from an HTML-only upstream
        through the proxy, honouring the ``data-requires-python`` the pages
        carry.
        """
        index, proxy = await self.start()
        target = self.scratch()
        code, output = await self.run_process(
            pip_argv(proxy.url, target, "tpapp"), self.env
        )
        self.assert_installed(code, output, target)
        self.assertEqual(index.count(f"/packages/{LIB_FUTURE.filename}"), 0)

    async def test_uv(self) -> None:
        """
        uv does the same from the HTML-only upstream through the proxy.
        """
        assert self.uv is not None
        index, proxy = await self.start()
        target = self.scratch()
        code, output = await self.run_process(
            uv_argv(self.uv, proxy.url, target, "tpapp"), self.env
        )
        self.assert_installed(code, output, target)
        self.assertEqual(index.count(f"/packages/{LIB_FUTURE.filename}"), 0)
