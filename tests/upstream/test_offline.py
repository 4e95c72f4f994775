"""
Tests for :mod:`twisted_pypi.upstream.offline`: the upstream clients of a
proxy with no network.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.upstream.client import UpstreamError
from twisted_pypi.upstream.offline import OfflineClient, offline_fetch


class OfflineClientTests(SynchronousTestCase):
    """
    Every request fails at once, saying the proxy is offline.
    """

    def test_page(self) -> None:
        """
        A page request fails at once with an upstream error naming the URL.
        """
        url = "http://upstream.test/simple/app/"
        page = OfflineClient().get(
            url, headers={}, unbuffered=False, timeout=1.0, reactor=None
        )
        failure = self.failureResultOf(page, UpstreamError)
        self.assertEqual(
            str(failure.value), f"the proxy is offline: {url} is not fetched"
        )

    def test_file(self) -> None:
        """
        A file request fails at once with an upstream error naming the URL.
        """
        url = "http://upstream.test/packages/app-1.0.tar.gz"
        failure = self.failureResultOf(offline_fetch(url, b"HEAD"), UpstreamError)
        self.assertEqual(
            str(failure.value), f"the proxy is offline: {url} is not fetched"
        )
