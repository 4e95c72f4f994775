"""
Tests for :mod:`twisted_pypi.app.service`: the service that listens (the
``pypiproxy`` command is tested in ``tests/app/test_cli.py``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any
from unittest import mock

from attrs import evolve
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import LogLevel, capturedLogs, formatEvent
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface import implementer

from twisted_pypi.app import service as service_module
from twisted_pypi.app.service import ProxyService, StartupError, make_service
from twisted_pypi.app.tap import Options
from twisted_pypi.core.config import IndexConfig, ProxyConfig, parse_store
from twisted_pypi.objectstore.renewal import CredentialRenewal
from twisted_pypi.storage.indexmeta import read_index_urls

UPSTREAM = IndexConfig("up", "http://upstream.test/simple/", ttl=300)


@implementer(IListeningPort)
class RecordingPort:
    """
    A listening port that remembers whether it was stopped.
    """

    def __init__(self, address: IPv4Address) -> None:
        """
        :param address: Where it pretends to listen.
        """
        self.address = address
        self.listening = True

    def startListening(self) -> None:
        """
        Already listening.
        """

    def stopListening(self) -> None:
        """
        Stop listening.
        """
        self.listening = False

    def getHost(self) -> IPv4Address:
        """
        Where it listens.
        """
        return self.address


class ListeningReactor(MemoryReactorClock):
    """
    A memory reactor whose TCP ports record ``stopListening``; listening on
    a port in ``busy`` fails as a port in use does.
    """

    def __init__(self, busy: Sequence[int] = ()) -> None:
        """
        :param busy: Ports already in use.
        """
        super().__init__()
        self.ports: list[RecordingPort] = []
        self.busy = set(busy)

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> RecordingPort:
        """
        Record the call and return a :class:`RecordingPort`.
        """
        if port in self.busy:
            in_use = OSError(98, "Address already in use")
            raise CannotListenError(interface, port, in_use)
        super().listenTCP(port, factory, backlog, interface)
        listening = RecordingPort(IPv4Address("TCP", interface or "0.0.0.0", port))
        self.ports.append(listening)
        return listening


def messages(events: Sequence[dict[str, Any]], namespace: str) -> list[str]:
    """
    The formatted messages logged in ``namespace``.
    """
    return [formatEvent(e) for e in events if e.get("log_namespace") == namespace]


class ServiceTests(SynchronousTestCase):
    """
    :class:`ProxyService` built by :func:`make_service` on a memory reactor.
    """

    def setUp(self) -> None:
        self.cache_dir = FilePath(self.mktemp())

    def make(self, reactor: ListeningReactor, *listen: str) -> ProxyService:
        """
        A service listening on ``listen``, caching in ``self.cache_dir``.
        """
        config = ProxyConfig(
            listen=listen, indexes=(UPSTREAM,), cache_dir=self.cache_dir.path
        )
        return make_service(config, reactor)

    def test_listens_on_start(self) -> None:
        """
        The service listens on each endpoint only once started, serving its
        site, and keeps the ports.
        """
        memory = ListeningReactor()
        service = self.make(memory, "tcp:8123:interface=127.0.0.1", "tcp:8124")
        self.assertEqual(memory.tcpServers, [])
        service.startService()
        self.assertEqual(
            [(port, interface) for port, _, _, interface in memory.tcpServers],
            [(8123, "127.0.0.1"), (8124, "")],
        )
        for _, factory, _, _ in memory.tcpServers:
            self.assertIs(factory, service.site)
        self.assertEqual(service.ports, memory.ports)
        self.assertTrue(self.cache_dir.child("files").isdir())

    def test_indexes_recorded(self) -> None:
        """
        Building the proxy records its indexes in the cache directory, for
        ``export`` and ``serve --offline``; an offline proxy records none.
        """
        make_service(
            ProxyConfig(
                indexes=(UPSTREAM,), offline=True, cache_dir=self.cache_dir.path
            ),
            ListeningReactor(),
        )
        self.assertEqual(read_index_urls(self.cache_dir), {})
        self.make(ListeningReactor(), "tcp:8123")
        self.assertEqual(read_index_urls(self.cache_dir), {UPSTREAM.name: UPSTREAM.url})

    def test_header_timeout(self) -> None:
        """
        ``--header-timeout`` is the deadline of the site's connections for
        a request's headers (20 s by default, none for 0), with or without
        an access log.
        """
        cases = [
            ([], 20.0),
            (["--header-timeout", "5"], 5.0),
            (["--header-timeout", "0"], None),
        ]
        for args, expected in cases:
            for log in ([], ["--access-log", os.path.join(self.mktemp() + ".log")]):
                options = Options()
                options.parseOptions(["--cache-dir", self.cache_dir.path, *args, *log])
                service = make_service(options["config"], ListeningReactor())
                channel = service.site.buildProtocol(None)
                self.assertEqual(channel.headerTimeout, expected, (args, log))

    def test_logs_start(self) -> None:
        """
        Starting logs where the proxy listens (with the URL to use), the
        upstream index and the cache directory.
        """
        service = self.make(ListeningReactor(), "tcp:8123:interface=127.0.0.1")
        with capturedLogs() as events:
            service.startService()
        lines = messages(events, "twisted_pypi.app.service")
        self.assertIn(
            "Listening on tcp:8123:interface=127.0.0.1: http://127.0.0.1:8123/simple/",
            lines,
        )
        self.assertIn(
            "Upstream index up: http://upstream.test/simple/ (pages fresh for 300 s)",
            lines,
        )
        self.assertIn(f"Cache: {self.cache_dir.path} (0 B in files, limit none)", lines)

    def test_stop(self) -> None:
        """
        Stopping stops listening on every port and finishes.
        """
        memory = ListeningReactor()
        service = self.make(memory, "tcp:8123", "tcp:8124")
        service.startService()
        self.assertTrue(all(port.listening for port in memory.ports))
        self.successResultOf(service.stopService())
        self.assertEqual(len(memory.ports), 2)
        self.assertFalse(any(port.listening for port in memory.ports))
        self.assertEqual(service.ports, [])
        self.assertFalse(service.running)

    def test_port_in_use(self) -> None:
        """
        A port in use stops the start with an error naming the port; ports
        already open are closed by stopping the service.
        """
        memory = ListeningReactor(busy=[8124])
        service = self.make(memory, "tcp:8123", "tcp:8124")
        error = self.assertRaises(StartupError, service.startService)
        self.assertIn("8124", str(error))
        self.assertIn("in use", str(error))
        self.successResultOf(service.stopService())
        self.assertEqual([port.listening for port in memory.ports], [False])

    def test_default_backlog(self) -> None:
        """
        An endpoint that names no backlog listens with a backlog of 1024; one
        that names it keeps it.
        """
        memory = ListeningReactor()
        service = self.make(memory, "tcp:8123", "tcp:8124:backlog=7")
        service.startService()
        self.assertEqual(
            [(port, backlog) for port, _, backlog, _ in memory.tcpServers],
            [(8123, 1024), (8124, 7)],
        )

    def test_cache_dir_unusable(self) -> None:
        """
        A cache directory that cannot be made stops the start with a
        ``StartupError`` naming the directory and the reason.
        """
        blocker = FilePath(self.mktemp())
        blocker.setContent(b"")
        self.cache_dir = blocker.child("cache")
        service = self.make(ListeningReactor(), "tcp:8123")
        error = self.assertRaises(StartupError, service.startService)
        self.assertIn(repr(self.cache_dir.path), str(error))
        self.assertIn("Not a directory", str(error))

    def test_listen_fails_later(self) -> None:
        """
        An endpoint that fails to listen after the start is logged in one
        critical line, kept as the service's failure, and stops the reactor.
        """
        pending: Deferred[Any] = Deferred()

        class Later:
            """An endpoint that answers later."""

            def listen(self, factory: object) -> Deferred[Any]:
                return pending

        self.patch(service_module, "serverFromString", lambda reactor, d: Later())
        memory = ListeningReactor()
        memory.running = True
        service = self.make(memory, "later:1")
        service.startService()
        self.assertIsNone(service.failure)
        with capturedLogs() as events:
            pending.errback(ValueError("no such place"))
        self.assertEqual(
            str(service.failure), "cannot listen on later:1: no such place"
        )
        (critical,) = [e for e in events if e["log_level"] == LogLevel.critical]
        self.assertEqual(formatEvent(critical), str(service.failure))
        self.assertTrue(memory.hasStopped)


class RealPortTests(TestCase):
    """
    Listening on a real port that another socket holds.
    """

    def test_port_in_use(self) -> None:
        """
        Starting on a port in use raises ``StartupError`` whose message
        names the endpoint and the address and says it is in use.
        """
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        config = ProxyConfig(
            listen=(f"tcp:{busy}:interface=127.0.0.1",),
            indexes=(UPSTREAM,),
            cache_dir=self.mktemp(),
        )
        service = make_service(config, reactor)
        self.addCleanup(service.stopService)
        error = self.assertRaises(StartupError, service.startService)
        self.assertIn(f"tcp:{busy}:interface=127.0.0.1", str(error))
        self.assertIn(f"127.0.0.1:{busy}", str(error))
        self.assertIn("in use", str(error))
        self.assertEqual(service.ports, [])


class StoreRenewalTests(SynchronousTestCase):
    """
    The credentials of a shared store are kept fresh.
    """

    def test_renewal_child(self) -> None:
        """
        With ``--store`` the service runs a :class:`CredentialRenewal` for
        the store's signer; without, none.
        """
        env = {"AWS_ACCESS_KEY_ID": "AKTEST", "AWS_SECRET_ACCESS_KEY": "sk"}
        patcher = mock.patch.dict(os.environ, env)
        patcher.start()
        self.addCleanup(patcher.stop)
        base = ProxyConfig(indexes=(UPSTREAM,), cache_dir=self.mktemp(), offline=True)
        store = parse_store("s3://bucket/team", "http://127.0.0.1:9", None)
        shared = make_service(evolve(base, store=store), MemoryReactorClock())
        renewals = [s for s in shared if isinstance(s, CredentialRenewal)]
        self.assertEqual(len(renewals), 1)
        local = make_service(base, MemoryReactorClock())
        self.assertFalse([s for s in local if isinstance(s, CredentialRenewal)])
