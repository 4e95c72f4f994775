"""
Tests for :mod:`twisted_pypi.core.links`.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.links import (
    RELATIVE,
    LinkPrefixes,
    local_path,
    local_segments,
    upstream_url,
)

WHEEL = "https://files.pythonhosted.org/packages/ab/cd/ef/attrs-23.1.0-py3-none-any.whl"


class LinkTests(SynchronousTestCase):
    """
    Mapping upstream file URLs to proxy paths and back.
    """

    def test_round_trip(self) -> None:
        """
        An upstream URL maps to segments under the index's name, and the
        segments map back to the same URL.
        """
        segments = local_segments("pypi", WHEEL)
        self.assertEqual(
            segments,
            (
                "pypi",
                "https",
                "files.pythonhosted.org",
                "packages",
                "ab",
                "cd",
                "ef",
                "attrs-23.1.0-py3-none-any.whl",
            ),
        )
        assert segments is not None
        self.assertEqual(upstream_url(segments), WHEEL)

    def test_prefix_reversible(self) -> None:
        """
        The proxy path is the upstream path under a per-upstream prefix.
        """
        segments = local_segments("pypi", WHEEL)
        assert segments is not None
        self.assertEqual(
            local_path(segments),
            "files/pypi/https/files.pythonhosted.org"
            "/packages/ab/cd/ef/attrs-23.1.0-py3-none-any.whl",
        )

    def test_port_and_escapes(self) -> None:
        """
        A port stays in the host segment, percent-escapes are decoded into
        segments and encoded again in the proxy path, and userinfo is dropped.
        """
        url = "http://user:pw@127.0.0.1:8080/p/a%20b/x-1.0.tar.gz"
        segments = local_segments("local", url)
        self.assertEqual(
            segments, ("local", "http", "127.0.0.1:8080", "p", "a b", "x-1.0.tar.gz")
        )
        assert segments is not None
        self.assertEqual(
            local_path(segments),
            "files/local/http/127.0.0.1%3A8080/p/a%20b/x-1.0.tar.gz",
        )
        self.assertEqual(
            upstream_url(segments), "http://127.0.0.1:8080/p/a%20b/x-1.0.tar.gz"
        )

    def test_unsafe_refused(self) -> None:
        """
        URLs with dot segments, encoded slashes, NUL, other schemes or a last
        segment that is not a distribution filename cannot be mapped.
        """
        for url in (
            "https://h/a/../x-1.0.tar.gz",
            "https://h/a/%2e%2e/x-1.0.tar.gz",
            "https://h/a%2Fb/x-1.0.tar.gz",
            "https://h/a%00/x-1.0.tar.gz",
            "ftp://h/x-1.0.tar.gz",
            "file:///etc/x-1.0.tar.gz",
            "https://h/etc/passwd",
            "https://h//x-1.0.tar.gz",
            "https:///x-1.0.tar.gz",
        ):
            self.assertIsNone(local_segments("pypi", url), url)

    def test_upstream_url_checks_form(self) -> None:
        """
        Segments that are too few or name an unknown scheme give no URL.
        """
        self.assertIsNone(upstream_url(("pypi", "https", "h")))
        self.assertIsNone(upstream_url(("pypi", "gopher", "h", "x-1.0.tar.gz")))


class LinkPrefixesTests(SynchronousTestCase):
    """
    The prefixes of the links on served pages, in one place.
    """

    def test_relative(self) -> None:
        """
        Without a base URL, a project page links files up to the proxy's
        root and the project list links pages beside it, by normalized name.
        """
        links = LinkPrefixes.for_base_url(None)
        self.assertEqual(links, RELATIVE)
        self.assertEqual(links.file("files/x/a.whl"), "../../files/x/a.whl")
        self.assertEqual(links.project("Foo.Bar"), "foo-bar/")

    def test_base_url(self) -> None:
        """
        With a base URL, every link is absolute under it.
        """
        links = LinkPrefixes.for_base_url("https://proxy.example/pypi/")
        self.assertEqual(
            links.file("local/team/a.whl"),
            "https://proxy.example/pypi/local/team/a.whl",
        )
        self.assertEqual(
            links.project("Foo_Bar"), "https://proxy.example/pypi/simple/foo-bar/"
        )

    def test_from_config(self) -> None:
        """
        The configuration builds its prefixes once, from its base URL.
        """
        config = ProxyConfig(base_url="https://proxy.example/")
        self.assertIs(config.links, config.links)
        self.assertEqual(config.links.files, "https://proxy.example/")
        self.assertEqual(ProxyConfig().links, RELATIVE)
