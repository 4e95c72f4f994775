"""
Tests for :mod:`twisted_pypi.app.logs`: ``--log-level`` and the filtered
log, and the log of a page fetched through a running proxy.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import urllib.request
from typing import Any

from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.internet.threads import deferToThread
from twisted.logger import (
    ILogObserver,
    LogLevel,
    eventAsText,
    formatEvent,
    formatEventAsClassicLogText,
    globalLogPublisher,
)
from twisted.scripts.twistd import ServerOptions
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.app.cachefill import fill_cache
from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import Upstream, port_of
from tests.wheels import build_wheel
from twisted_pypi.app.cli import Options as CommandOptions
from twisted_pypi.app.logs import (
    FLUSH_DELAY,
    command_observer,
    filtered,
    parse_log_level,
    serve_observer,
    twistd_observer,
)
from twisted_pypi.app.service import make_service
from twisted_pypi.app.tap import Options
from twisted_pypi.core.config import IndexConfig, ProxyConfig


def event(level: LogLevel, text: str) -> dict[str, Any]:
    """
    A log event at ``level`` saying ``text``.
    """
    return {"log_level": level, "log_format": text, "log_namespace": "test"}


class LevelTests(SynchronousTestCase):
    """
    :func:`parse_log_level` and the ``--log-level`` option.
    """

    def test_levels(self) -> None:
        """
        The four levels are read by name, in any case.
        """
        self.assertEqual(parse_log_level("debug"), LogLevel.debug)
        self.assertEqual(parse_log_level("INFO"), LogLevel.info)
        self.assertEqual(parse_log_level("warn"), LogLevel.warn)
        self.assertEqual(parse_log_level("error"), LogLevel.error)

    def test_bad_level(self) -> None:
        """
        Another word is an error naming the option, the value and the
        levels.
        """
        e = self.assertRaises(ValueError, parse_log_level, "loud")
        self.assertEqual(
            str(e), "--log-level 'loud': use one of debug, info, warn, error"
        )

    def test_option_default_info(self) -> None:
        """
        ``serve`` logs at info unless told otherwise, and takes
        ``--log-level``.
        """
        cache = self.mktemp()
        options = Options()
        options.environ = {}
        options.parseOptions(["--cache-dir", cache])
        self.assertEqual(options["log-level"], LogLevel.info)
        options = Options()
        options.environ = {}
        options.parseOptions(["--cache-dir", cache, "--log-level", "debug"])
        self.assertEqual(options["log-level"], LogLevel.debug)

    def test_config_file_level(self) -> None:
        """
        ``log-level`` in the ``--config`` file sets the level.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(f'log-level = "warn"\ncache-dir = "{self.mktemp()}"\n')
        options = Options()
        options.environ = {}
        options.parseOptions(["--config", path])
        self.assertEqual(options["log-level"], LogLevel.warn)


class FilterTests(SynchronousTestCase):
    """
    :func:`filtered`.
    """

    def test_below_level_dropped(self) -> None:
        """
        Events below the level do not reach the observer; the others do.
        """
        seen: list[dict[str, Any]] = []
        observer = filtered(seen.append, LogLevel.info)
        for level in (LogLevel.debug, LogLevel.info, LogLevel.warn):
            observer(event(level, level.name))
        self.assertEqual([e["log_format"] for e in seen], ["info", "warn"])

    def test_debug_lets_all_through(self) -> None:
        """
        At debug, debug events get through.
        """
        seen: list[dict[str, Any]] = []
        filtered(seen.append, LogLevel.debug)(event(LogLevel.debug, "detail"))
        self.assertEqual(len(seen), 1)

    def test_twistd_observer(self) -> None:
        """
        The observer twistd would log to for ``--logfile FILE`` writes to
        that file.
        """
        path = self.mktemp()
        options = ServerOptions()
        options.parseOptions(["--nodaemon", "--logfile", path, "pypiproxy"])
        observer = twistd_observer(options)
        self.assertTrue(ILogObserver.providedBy(observer))
        observer(event(LogLevel.info, "hello twistd"))
        with open(path) as f:
            self.assertIn("hello twistd", f.read())


class _Flushes(io.StringIO):
    """A text stream that counts its flushes."""

    flushes = 0

    def flush(self) -> None:
        """Count the flush."""
        self.flushes += 1
        super().flush()


class ServeLogTests(SynchronousTestCase):
    """
    :func:`serve_observer` writes Twisted's classic lines, flushed
    :data:`FLUSH_DELAY` after the first one that waits.
    """

    def test_lines_as_twisted(self) -> None:
        """
        Each event is the line Twisted's text observer would write (time
        stamp, system, text; a later second gets its own stamp), and the
        lines written within :data:`FLUSH_DELAY` are flushed once, when it
        has passed since the first.
        """
        out, clock = _Flushes(), Clock()
        observe = serve_observer(out, clock)
        events = []
        for when in (1_000_000_000.2, 1_000_000_000.7, 1_000_000_001.1):
            info = event(LogLevel.info, f"at {when}")
            info["log_time"] = when
            events.append(info)
            observe(info)
        expected = "".join(str(formatEventAsClassicLogText(e)) for e in events)
        self.assertEqual(out.getvalue(), expected)
        self.assertEqual(out.getvalue().count("2001-09-09T"), 3)
        self.assertEqual(out.flushes, 0)
        clock.advance(FLUSH_DELAY / 2)
        observe(event(LogLevel.info, "same batch"))
        self.assertEqual(out.flushes, 0)
        clock.advance(FLUSH_DELAY / 2)
        self.assertEqual(out.flushes, 1)
        clock.advance(FLUSH_DELAY)
        self.assertEqual(out.flushes, 1)
        observe(event(LogLevel.info, "next batch"))
        clock.advance(FLUSH_DELAY)
        self.assertEqual(out.flushes, 2)

    def test_warning_flushed_at_once(self) -> None:
        """
        A warning is flushed as it is written, with what came before it.
        """
        out, clock = _Flushes(), Clock()
        observe = serve_observer(out, clock)
        observe(event(LogLevel.info, "request"))
        observe(event(LogLevel.warn, "disk full"))
        self.assertEqual(out.flushes, 1)
        self.assertIn("disk full", out.getvalue())


class CommandLogTests(SynchronousTestCase):
    """
    The log of ``warm``, ``export`` and ``analyze``:
    :func:`command_observer` and their ``--log-level``.
    """

    def test_observer_lines(self) -> None:
        """
        Each event at the level or above is one plain line, prefixed by
        what it is; events below are dropped.
        """
        out = io.StringIO()
        observer = command_observer(out, LogLevel.info)
        observer(event(LogLevel.debug, "detail"))
        observer(event(LogLevel.info, "fetched"))
        observer(event(LogLevel.warn, "disk full"))
        observer(event(LogLevel.error, "broken"))
        self.assertEqual(out.getvalue(), "fetched\nwarning: disk full\nerror: broken\n")

    def test_default_warn(self) -> None:
        """
        The commands log at warn unless told otherwise (their progress
        lines say the rest), and take ``--log-level``.
        """
        cache = self.mktemp()
        fill_cache(cache)
        for argv in (["warm", "attrs"], ["export", "out"], ["analyze", "attrs"]):
            options = CommandOptions()
            options.parseOptions([*argv, "--cache-dir", cache])
            self.assertEqual(options.subOptions["log-level"], LogLevel.warn, argv)
            options = CommandOptions()
            options.parseOptions([*argv, "--cache-dir", cache, "--log-level=debug"])
            self.assertEqual(options.subOptions["log-level"], LogLevel.debug, argv)

    def run_export(self, *args: str) -> str:
        """
        Run ``pypiproxy export`` on a cache holding a page with a link that
        is dropped, in a real process: what it wrote to standard error.
        """
        cache = self.mktemp()
        body = (
            b'<a href="ftp://x.example/demo-1.0.tar.gz">demo-1.0.tar.gz</a>'
            b'<a href="https://x.example/demo-1.1.tar.gz">demo-1.1.tar.gz</a>'
        )
        fill_cache(cache, "https://x.example/simple/", body=body)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYPIPROXY_")}
        done = subprocess.run(
            [sys.executable, "-m", "twisted_pypi", "export", self.mktemp()]
            + ["--cache-dir", cache, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stderr

    def test_export_levels(self) -> None:
        """
        ``export`` logs the dropped link: as a warning by default, not at
        all with ``--log-level error``, and each link with its reason with
        ``--log-level debug``.
        """
        warning = "warning: Dropped 1 of 2 links from https://x.example/simple/demo/"
        detail = "debug: Dropped 'ftp://x.example/demo-1.0.tar.gz'"
        default = self.run_export()
        self.assertIn(warning, default)
        self.assertNotIn(detail, default)
        self.assertNotIn("Dropped", self.run_export("--log-level", "error"))
        debug = self.run_export("--log-level", "debug")
        self.assertIn(warning, debug)
        self.assertIn(detail, debug)


class ProxyLogTests(TestCase):
    """
    What a running proxy logs at the default level.
    """

    async def test_page_fetch_log(self) -> None:
        """
        Fetching a page through the proxy (from its upstream) logs no debug
        event at the default level and no "Starting factory" or "Stopping
        factory" line, from the start of the proxy to its stop.
        """
        index = FakeIndex()
        index.add("demo", FakeFile(build_wheel("demo", "1.0")))
        upstream = Upstream(index)
        self.addCleanup(upstream.stop)
        everything: list[dict[str, Any]] = []
        shown: list[dict[str, Any]] = []
        observers: list[Any] = [
            everything.append,
            filtered(shown.append, LogLevel.info),
        ]
        for observer in observers:
            globalLogPublisher.addObserver(observer)
            self.addCleanup(globalLogPublisher.removeObserver, observer)
        config = ProxyConfig(
            listen=("tcp:0:interface=127.0.0.1",),
            indexes=(IndexConfig("up", upstream.url),),
            cache_dir=self.mktemp(),
        )
        service = make_service(config, reactor)
        service.startService()
        url = f"http://127.0.0.1:{port_of(service.ports[0])}/simple/demo/"
        body = await deferToThread(lambda: urllib.request.urlopen(url).read())
        self.assertIn(b"demo-1.0-py3-none-any.whl", body)
        await service.stopService()
        texts = [eventAsText(e, includeTimestamp=False) for e in everything]
        self.assertFalse(
            [t for t in texts if "Starting factory" in t or "Stopping factory" in t]
        )
        self.assertEqual(
            [formatEvent(e) for e in shown if e["log_level"] < LogLevel.info], []
        )
        self.assertIn("Listening on", " ".join(formatEvent(e) for e in shown))
