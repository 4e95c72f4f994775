"""
Tests for :mod:`twisted_pypi.core.links`.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.links import (
    RELATIVE,
    LinkPrefixes,
    link_segments,
    local_path,
    local_segments,
    redact,
    split_credentials,
    split_listed,
    upstream_url,
    with_credentials,
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
        URLs with dot segments, encoded slashes, NUL, other schemes, an empty
        last segment or one ending in ``.metadata`` cannot be mapped.
        """
        for url in (
            "https://h/a/../x-1.0.tar.gz",
            "https://h/a/%2e%2e/x-1.0.tar.gz",
            "https://h/a%2Fb/x-1.0.tar.gz",
            "https://h/a%00/x-1.0.tar.gz",
            "ftp://h/x-1.0.tar.gz",
            "file:///etc/x-1.0.tar.gz",
            "https://h/a/",
            "https://h/x-1.0.tar.gz.metadata",
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


#: Filenames an index lists that packaging's strict filename rules refuse.
LEGACY = (
    "python-dateutil-2.4.1.tar.bz2",
    "Pillow-3.1.0-rc1.tar.gz",
    "kubernetes-1.0.0-alpha.2.tar.gz",
    "joblib-0.8.3-r1.tar.gz",
    "pydantic-0.18-py36+-none-any.whl",
    "numpy-1.0-py2.7-win32.egg",
    "pyOpenSSL-0.13.winxp32-py2.7.msi",
    "numpy-1.9.0.win32-py2.7.exe",
    "foo-1.0-1.noarch.rpm",
    "passwd",
)


class ListedByTests(SynchronousTestCase):
    """
    The link to a file names the page that lists it when the filename does
    not.
    """

    def test_legacy_names_map(self) -> None:
        """
        Any safe filename maps to a place in the cache.
        """
        for name in LEGACY:
            self.assertEqual(
                local_segments("pypi", f"https://h/p/{name}"),
                ("pypi", "https", "h", "p", name),
            )

    def test_own_file_link_is_its_place(self) -> None:
        """
        A file whose name names the listing project is linked at its place.
        """
        url = "https://h/p/Foo_Bar-1.0.tar.gz"
        self.assertEqual(
            link_segments("pypi", "foo.bar", url), local_segments("pypi", url)
        )

    def test_other_names_name_the_page(self) -> None:
        """
        A legacy filename, or another project's, is linked with ``~<project>``
        after the index name, and the link reads back as its place and that
        project (its ``.metadata`` too).
        """
        for name in (*LEGACY, "other-1.0-py3-none-any.whl"):
            url = f"https://h/p/{name}"
            segments = link_segments("pypi", "Python_Dateutil", url)
            assert segments is not None
            self.assertEqual(segments[:2], ("pypi", "~python-dateutil"))
            place = local_segments("pypi", url)
            self.assertEqual(split_listed(segments), (place, "python-dateutil"))
            metadata = (*segments[:-1], segments[-1] + ".metadata")
            assert place is not None
            self.assertEqual(
                split_listed(metadata)[0], (*place[:-1], place[-1] + ".metadata")
            )

    def test_split_plain(self) -> None:
        """
        A link without ``~`` names the project its filename names, if any.
        """
        place = ("pypi", "https", "h", "attrs-1.0.tar.gz.metadata")
        self.assertEqual(split_listed(place), (place, "attrs"))
        self.assertEqual(split_listed(("pypi", "https", "h", "x.exe"))[1], None)
        self.assertEqual(split_listed(("pypi", "~", "https", "h", "x.exe"))[1], None)


class CredentialTests(SynchronousTestCase):
    """
    Credentials in an upstream link are kept apart and never shown.
    """

    def test_split_and_restore(self) -> None:
        """
        Credentials come out of the URL decoded, and go back in encoded.
        """
        url = "https://us%40er:p%2Fss@h.example:8443/p/x-1.0.tar.gz?a=b"
        clean, credentials = split_credentials(url)
        self.assertEqual(clean, "https://h.example:8443/p/x-1.0.tar.gz?a=b")
        self.assertEqual(credentials, ("us@er", "p/ss"))
        self.assertEqual(with_credentials(clean, credentials), url)
        self.assertEqual(split_credentials(clean), (clean, None))
        self.assertEqual(with_credentials(clean, None), clean)

    def test_redact(self) -> None:
        """
        Credentials of every URL in a message are replaced, even with an
        unescaped ``@`` in the password; the rest stays.
        """
        self.assertEqual(
            redact("get https://u:s3cret@h/a@b and //u:p@x@h/y, http://h/z"),
            "get https://***@h/a@b and //***@h/y, http://h/z",
        )
