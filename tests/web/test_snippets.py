"""
Tests for :mod:`twisted_pypi.web.snippets`: the proxy's own URL and the
installer snippets. The status page showing them is tested in
``tests/web/test_status.py``.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Request
from twisted.web.test.requesthelper import DummyChannel

from twisted_pypi.web.snippets import server_url, snippets


class ServerUrlTests(SynchronousTestCase):
    """
    :func:`server_url`.
    """

    def test_base_url_wins(self) -> None:
        """
        A configured base URL is the proxy's URL whatever the ``Host``.
        """
        req = Request(DummyChannel(), False)
        req.requestHeaders.setRawHeaders(b"host", [b"internal:8080"])
        self.assertEqual(
            server_url(req, "https://p.example/m/"), "https://p.example/m/"
        )

    def test_host_header(self) -> None:
        """
        Without a base URL, the request's scheme and ``Host`` make the URL.
        """
        req = Request(DummyChannel(), False)
        req.requestHeaders.setRawHeaders(b"host", [b"proxy.lan:3141"])
        self.assertEqual(server_url(req, None), "http://proxy.lan:3141/")


class SnippetsTests(SynchronousTestCase):
    """
    :func:`snippets`.
    """

    def test_tools(self) -> None:
        """
        There is a snippet for pip, uv, poetry and pdm, each naming the
        proxy's ``simple/`` index.
        """
        found = snippets("https://p.example/")
        self.assertEqual([tool for tool, _ in found], ["pip", "uv", "poetry", "pdm"])
        for _, text in found:
            self.assertIn("https://p.example/simple/", text)
        self.assertNotIn("trusted-host", "".join(text for _, text in found))

    def test_plain_http_trusted_host(self) -> None:
        """
        Plain HTTP to another host needs pip's ``--trusted-host``; to the
        loopback it does not.
        """
        pip = dict(snippets("http://proxy.lan:8080/"))["pip"]
        self.assertIn("--trusted-host proxy.lan ", pip)
        self.assertIn("pip config set global.trusted-host proxy.lan", pip)
        self.assertNotIn("trusted-host", dict(snippets("http://127.0.0.1:1/"))["pip"])

    def test_malformed_host(self) -> None:
        """
        A malformed URL (from a hostile ``Host``) still gives snippets,
        without ``--trusted-host``.
        """
        pip = dict(snippets("http://[bad/"))["pip"]
        self.assertIn("http://[bad/simple/", pip)
        self.assertNotIn("trusted-host", pip)
