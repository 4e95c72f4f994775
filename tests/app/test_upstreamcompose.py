"""
Tests for :mod:`twisted_pypi.app.upstreamcompose`: the page client and the
file fetcher, online and offline.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.app.cachefill import fill_cache
from tests.sources.test_offline import URL, Reactor
from twisted_pypi.app.tap import Options
from twisted_pypi.app.upstreamcompose import upstream_clients
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.upstream.client import UpstreamError
from twisted_pypi.upstream.offline import OfflineClient, offline_fetch


class UpstreamClientsTests(SynchronousTestCase):
    """
    :func:`upstream_clients` with ``offline`` and the ``--offline`` option.
    """

    def test_option(self) -> None:
        """
        ``--offline`` sets the configuration's ``offline``; it is off by
        default.
        """
        cache = self.mktemp()
        fill_cache(cache)
        options = Options()
        options.parseOptions(["--cache-dir", cache, "--offline"])
        self.assertTrue(options["config"].offline)
        options = Options()
        options.parseOptions(["--cache-dir", self.mktemp()])
        self.assertFalse(options["config"].offline)

    def test_no_pool_and_immediate_failures(self) -> None:
        """
        Offline there is no connection pool, and the page client and the
        file fetcher fail every request at once with an upstream error.
        """
        reactor = Reactor()
        clients = upstream_clients(ProxyConfig(offline=True), reactor)
        self.assertIsNone(clients.pool)
        self.assertIsInstance(clients.pages, OfflineClient)
        self.assertIs(clients.fetch, offline_fetch)
        page = clients.pages.get(
            URL, headers={}, unbuffered=False, timeout=1.0, reactor=reactor
        )
        self.failureResultOf(page, UpstreamError)
        self.failureResultOf(clients.fetch(URL + "x-1.0.tar.gz"), UpstreamError)
        self.assertEqual(reactor.tcpClients, [])
        online = upstream_clients(ProxyConfig(), reactor)
        self.assertIsNotNone(online.pool)
