"""
End-to-end: real ``pip`` and real ``uv`` through a running proxy with a
supply-chain policy, in front of a fake upstream whose ``demo`` was released
30 days, 3 days and 1 hour ago (by the wall clock, which the proxy's reactor
keeps).
"""

from __future__ import annotations

import time
from urllib.parse import quote

import treq
from twisted.python.filepath import FilePath

from tests.fakeindex import FakeIndex
from tests.policyfakes import DAY, RECENT, add_demo
from tests.realinstall import RealInstallTestCase, pip_argv, uv_argv
from twisted_pypi.core.config import IndexConfig, index_name_for
from twisted_pypi.core.moments import snapshot_text
from twisted_pypi.core.policy import Policy


class PolicyInstallTests(RealInstallTestCase):
    """
    Installers get the newest release the policy allows.
    """

    async def proxy(self, policy: Policy | None = None) -> tuple[str, str]:
        """
        A proxy with ``policy`` in front of a fresh fake upstream.

        :return: The proxy's index URL, and the proxy's URL of the
            3-day-old release's file.
        """
        upstream = self.start_upstream(add_demo(FakeIndex(mode="json"), time.time()))
        name = index_name_for(upstream.url)
        index_url = await self.start_proxy_with(
            [IndexConfig(name, upstream.url)], policy=policy
        )
        host = upstream.url.split("/")[2]
        file_url = (
            f"{index_url.removesuffix('simple/')}files/{quote(name, safe='')}"
            f"/http/{host}/packages/{RECENT.filename}"
        )
        return index_url, file_url

    def version(self, target: FilePath[str]) -> str:
        """The version of ``demo`` installed in ``target``."""
        found = [
            c.basename()
            for c in target.children()
            if c.basename().endswith(".dist-info")
        ]
        self.assertEqual(len(found), 1, found)
        return found[0].removesuffix(".dist-info").split("-")[1]

    async def install(
        self, tool: str, index_url: str, *requirements: str
    ) -> tuple[int, str, FilePath[str]]:
        """Run pip or uv; its exit code, output and target directory."""
        target = self.scratch()
        if tool == "pip":
            argv = pip_argv(index_url, target, *requirements)
        else:
            assert self.uv is not None
            argv = uv_argv(self.uv, index_url, target, *requirements)
        code, output = await self.run_process(argv, self.env)
        return code, output, target

    async def test_min_age(self) -> None:
        """
        With ``--min-age 7d`` pip and uv install the month-old release; a
        pinned install of the 3-day-old one fails, and its file URL is 403
        with the reason.
        """
        index_url, file_url = await self.proxy(Policy(min_age=7 * DAY))
        for tool in ("pip", "uv"):
            code, output, target = await self.install(tool, index_url, "demo")
            self.assertEqual(code, 0, output)
            self.assertEqual(self.version(target), "1.0", tool)
        code, output, _ = await self.install("pip", index_url, "demo==2.0")
        self.assertNotEqual(code, 0, output)
        self.assertIn("demo==2.0", output)
        response = await treq.get(file_url, persistent=False)
        self.assertEqual(response.code, 403)
        reason = await response.text()
        self.assertTrue(reason.startswith("held back: uploaded "), reason)
        self.assertIn("younger than --min-age 7d", reason)

    async def test_exempt(self) -> None:
        """
        ``--min-age-exempt demo`` gets the newest release.
        """
        index_url, _ = await self.proxy(
            Policy(min_age=7 * DAY, exempt=frozenset({"demo"}))
        )
        code, output, target = await self.install("uv", index_url, "demo")
        self.assertEqual(code, 0, output)
        self.assertEqual(self.version(target), "3.0")

    async def test_snapshot(self) -> None:
        """
        pip installs through a snapshot URL between the month-old release
        and the 3-day-old one: it gets the month-old one.
        """
        index_url, _ = await self.proxy()
        root = index_url.removesuffix("simple/")
        between = snapshot_text(int(time.time() - 10 * DAY))
        code, output, target = await self.install(
            "pip", f"{root}snapshot/{between}/simple/", "demo"
        )
        self.assertEqual(code, 0, output)
        self.assertEqual(self.version(target), "1.0")
