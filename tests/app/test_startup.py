"""
Tests for :mod:`twisted_pypi.app.startup`: the open-files limit, the
service under twistd, and start-up failures of the real ``pypiproxy serve``
and ``twistd -n pypiproxy`` processes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any

from twisted.application.service import Application
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver, LogLevel, capturedLogs, formatEvent
from twisted.scripts.twistd import ServerOptions
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.service import make_service
from twisted_pypi.app.startup import TwistdService, raise_open_files_limit
from twisted_pypi.core.config import IndexConfig, ProxyConfig

UPSTREAM = IndexConfig("up", "http://upstream.test/simple/")


class FakeResource:
    """
    The parts of :mod:`resource` that set the open-files limit.
    """

    RLIMIT_NOFILE = 7

    def __init__(self, soft: int, hard: int, refuse: bool = False) -> None:
        self.limits = (soft, hard)
        self.refuse = refuse
        self.set: list[tuple[int, tuple[int, int]]] = []

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == self.RLIMIT_NOFILE
        return self.limits

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        if self.refuse:
            raise ValueError("not allowed")
        self.set.append((which, limits))
        self.limits = limits


class OpenFilesTests(SynchronousTestCase):
    """
    :func:`raise_open_files_limit`.
    """

    def test_raised_to_hard(self) -> None:
        """
        The soft limit is raised to the hard one, and the new limit logged
        once at info.
        """
        resource = FakeResource(1024, 524288)
        with capturedLogs() as events:
            self.assertEqual(raise_open_files_limit(resource), 524288)
        self.assertEqual(resource.set, [(7, (524288, 524288))])
        self.assertEqual(
            [(e["log_level"], formatEvent(e)) for e in events],
            [(LogLevel.info, "Open files limit: 524288 (raised from 1024)")],
        )

    def test_already_at_hard(self) -> None:
        """
        A soft limit already at the hard one is left alone and logged.
        """
        resource = FakeResource(4096, 4096)
        with capturedLogs() as events:
            self.assertEqual(raise_open_files_limit(resource), 4096)
        self.assertEqual(resource.set, [])
        self.assertEqual([formatEvent(e) for e in events], ["Open files limit: 4096"])

    def test_refused(self) -> None:
        """
        A limit the system refuses to raise is kept, with a warning.
        """
        resource = FakeResource(256, 2**63 - 1, refuse=True)
        with capturedLogs() as events:
            self.assertEqual(raise_open_files_limit(resource), 256)
        (warning,) = events
        self.assertEqual(warning["log_level"], LogLevel.warn)
        self.assertIn("cannot raise it", formatEvent(warning))


class TwistdServiceTests(SynchronousTestCase):
    """
    :class:`TwistdService`.
    """

    def make(self, cache_dir: str, listen: str = "tcp:8123") -> Any:
        config = ProxyConfig(listen=(listen,), indexes=(UPSTREAM,), cache_dir=cache_dir)
        return make_service(config, MemoryReactorClock())

    def test_start_failure_exits(self) -> None:
        """
        A proxy that cannot start ends twistd with status 1 after one
        critical line naming the cause.
        """
        blocker = self.mktemp()
        with open(blocker, "w"):
            pass
        service = TwistdService(
            self.make(os.path.join(blocker, "cache")),
            LogLevel.info,
            None,
            FakeResource(9, 9),
        )
        with capturedLogs() as events:
            e = self.assertRaises(SystemExit, service.startService)
        self.assertEqual(e.code, 1)
        (critical,) = [x for x in events if x["log_level"] == LogLevel.critical]
        self.assertIn("cannot use the cache directory", formatEvent(critical))

    def test_starts_and_raises_limit(self) -> None:
        """
        Starting raises the open-files limit and starts the proxy.
        """
        resource = FakeResource(10, 20)
        proxy = self.make(self.mktemp())
        service = TwistdService(proxy, LogLevel.info, None, resource)
        service.startService()
        self.assertTrue(proxy.running)
        self.assertEqual(resource.limits, (20, 20))

    def test_log_observer_component(self) -> None:
        """
        Under twistd, the application gets twistd's own observer behind the
        level filter; with ``--logger`` it gets none.
        """
        path = self.mktemp()
        options = ServerOptions()
        options.parseOptions(["--nodaemon", "--logfile", path, "pypiproxy"])
        application = Application("pypiproxy")
        TwistdService(
            self.make(self.mktemp()), LogLevel.warn, options
        ).setServiceParent(application)
        observer = application.getComponent(ILogObserver)
        self.assertIsNotNone(observer)
        base = {"log_namespace": "t", "log_time": 0.0}
        observer({**base, "log_level": LogLevel.info, "log_format": "quiet"})
        observer({**base, "log_level": LogLevel.warn, "log_format": "loud"})
        with open(path) as f:
            text = f.read()
        self.assertIn("loud", text)
        self.assertNotIn("quiet", text)


_TWISTD = (
    "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
)


class StartFailureTests(SynchronousTestCase):
    """
    The real ``pypiproxy serve`` and ``twistd -n pypiproxy`` processes that
    cannot start exit with a non-zero status and one line naming the cause,
    without a traceback.
    """

    def run_both(self, *args: str) -> list[tuple[str, int, str]]:
        """
        Run both commands with ``args``; their names, exit codes and output.
        """
        home = self.mktemp()
        os.makedirs(home)
        commands = {
            "serve": [sys.executable, "-m", "twisted_pypi", "serve", *args],
            "twistd": [
                sys.executable,
                "-c",
                _TWISTD,
                "-n",
                "--pidfile=",
                "pypiproxy",
                *args,
            ],
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYPIPROXY_")}
        results = []
        for name, argv in commands.items():
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=60,
                cwd=home,
                env=env,
                stdin=subprocess.DEVNULL,
            )
            results.append((name, done.returncode, done.stdout + done.stderr))
        return results

    def check(self, results: list[tuple[str, int, str]], cause: str) -> None:
        for name, code, output in results:
            self.assertNotEqual(code, 0, f"{name}: {output}")
            self.assertNotIn("Traceback", output, name)
            self.assertIn(cause, output, name)

    def test_port_in_use(self) -> None:
        """
        A port that another socket holds: the endpoint and "in use" are
        named.
        """
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        results = self.run_both(
            "--listen", f"tcp:{busy}:interface=127.0.0.1", "--cache-dir", self.mktemp()
        )
        self.check(results, f"cannot listen on tcp:{busy}:interface=127.0.0.1")
        self.check(results, "Address already in use")

    def test_port_out_of_range(self) -> None:
        """
        Port 99999: the port and the range are named.
        """
        results = self.run_both("--listen", "tcp:99999", "--cache-dir", self.mktemp())
        self.check(results, "port 99999 is not between 0 and 65535")

    def test_cache_dir_cannot_be_made(self) -> None:
        """
        A cache directory that cannot be created: the directory is named.
        """
        if os.path.isdir("/proc/self"):
            # No directory can be made in /proc, even by root.
            parent = "/proc/no-such-twisted-pypi"
        else:
            parent = self.mktemp()
            os.makedirs(parent)
            os.chmod(parent, 0o500)
            self.addCleanup(os.chmod, parent, 0o700)
        cache = os.path.join(parent, "cache")
        results = self.run_both(
            "--listen", "tcp:0:interface=127.0.0.1", "--cache-dir", cache
        )
        self.check(results, parent)
