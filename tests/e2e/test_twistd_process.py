"""
End-to-end: the real ``twistd -n pypiproxy`` process, started the way a user
starts it, in front of a fake upstream index on 127.0.0.1, with real pip
installing through it.
"""

from __future__ import annotations

import signal

from tests.e2e.proxyprocess import start_twistd_proxy, twistd_argv
from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, pip_argv
from tests.wheels import build_wheel

#: The app, which needs the lib.
APP = build_wheel("tpapp", "1.0", requires=["tplib>=1.0"])
LIB = build_wheel("tplib", "2.0")


class TwistdProcessTests(RealInstallTestCase):
    """
    ``twistd -n pypiproxy`` as a process of its own.
    """

    async def test_pip_through_twistd(self) -> None:
        """
        pip installs a project and its dependency through the twistd
        process, which fetches each file from the upstream once, keeps it in
        its cache directory, logs no error, and ends cleanly on SIGTERM.
        """
        index = FakeIndex(mode="json")
        index.add("tpapp", FakeFile(APP))
        index.add("tplib", FakeFile(LIB))
        upstream = self.start_upstream(index)
        cache = self.scratch()
        proxy = await start_twistd_proxy(
            self, self.home, ["--index", upstream.url, "--cache-dir", cache.path]
        )
        target = self.scratch()
        code, output = await self.run_process(
            pip_argv(proxy.url, target, "tpapp"), self.env
        )
        self.assertEqual(code, 0, output)
        self.assertEqual(target.child("tplib.py").getContent(), b"VERSION = '2.0'\n")
        self.assertTrue(target.child("tpapp-1.0.dist-info").isdir())
        requests = upstream.file_requests()
        self.assertEqual(set(requests.values()), {1}, requests)
        for wheel in (APP, LIB):
            self.assertEqual(requests[("GET", f"/packages/{wheel.filename}")], 1)
        cached = {p.basename(): p.getContent() for p in cache.walk() if p.isfile()}
        self.assertEqual(cached.get(APP.filename), APP.content)
        self.assertEqual(cached.get(LIB.filename), LIB.content)
        await proxy.stop()
        log = proxy.log.decode("utf-8", "replace")
        self.assertEqual((proxy.signal, await proxy.ended), (signal.SIGTERM, -1), log)
        self.assertIn("Server Shut Down.", log)
        self.assertNotIn("Traceback", log)

    async def test_bad_option_one_line(self) -> None:
        """
        A bad option, or a bad value, makes ``twistd pypiproxy`` say what was
        wrong in one line and exit with status 1, starting nothing (twistd
        alone would print its whole usage first).
        """
        for options, wrong in (
            (["--bogus"], "option --bogus not recognized"),
            (["--index-ttl", "soon"], "--index-ttl"),
        ):
            code, output = await self.run_process(twistd_argv(options), self.env)
            lines = [line for line in output.splitlines() if line.strip()]
            self.assertEqual(code, 1, output)
            self.assertEqual(len(lines), 1, output)
            self.assertTrue(lines[0].startswith("twistd pypiproxy: error: "), output)
            self.assertIn(wrong, lines[0])
            self.assertTrue(lines[0].endswith("(see 'twistd pypiproxy --help')"))
