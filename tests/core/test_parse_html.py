"""
Tests for :mod:`twisted_pypi.core.parse_html`: PEP 503 HTML project pages.
"""

from __future__ import annotations

from twisted.logger import capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from tests.simplepages import (
    NEXUS_HTML,
    PROVENANCE,
    SDIST,
    SHA_META,
    SHA_SDIST,
    SHA_WHEEL,
    WHEEL,
    html_page,
    parse_html,
    parse_one_html,
)
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.parse import PageParseError


class HTMLPageTests(SynchronousTestCase):
    """
    Reading PEP 503 HTML project pages.
    """

    def test_nexus_page(self) -> None:
        """
        Relative and absolute links, hash fragments, escaped attributes and
        ``data-dist-info-metadata`` alone are all read.
        """
        page = parse_html(NEXUS_HTML)
        wheel, sdist = page.files
        self.assertEqual(
            wheel,
            DistFile(
                filename=WHEEL,
                url=f"https://pypi.org/packages/sampleproject/3.0.0/{WHEEL}",
                hashes={"sha256": SHA_WHEEL},
                requires_python=">=3.8,<4",
                core_metadata={"sha256": SHA_META},
            ),
        )
        self.assertEqual(
            sdist,
            DistFile(
                filename=SDIST,
                url=f"https://mirror.example.org/files/{SDIST}",
                hashes={"sha256": SHA_SDIST},
                yanked='Use "4.0" instead',
            ),
        )
        self.assertEqual((page.name, page.api_version), ("sampleproject", (1, 0)))
        self.assertIsNone(page.versions)

    def test_base_href(self) -> None:
        """
        Relative links resolve against ``<base href>`` when the page has one.
        """
        body = html_page(
            f'<a href="x/{WHEEL}">w</a>', head='<base href="https://cdn.example/a/">'
        )
        [f] = parse_html(body).files
        self.assertEqual(f.url, f"https://cdn.example/a/x/{WHEEL}")

    def test_relative_base_href(self) -> None:
        """
        A relative ``<base href>`` is itself resolved against the page URL.
        """
        body = html_page(f'<a href="{WHEEL}">w</a>', head='<base href="/b/">')
        [f] = parse_html(body).files
        self.assertEqual(f.url, f"https://pypi.org/b/{WHEEL}")

    def test_filename_from_url(self) -> None:
        """
        The filename is the percent-decoded last path segment of the URL, not
        the anchor text.
        """
        f = parse_one_html('<a href="/p/sampleproject-1.0%2Blocal.tar.gz">text</a>')
        self.assertEqual(f.filename, "sampleproject-1.0+local.tar.gz")

    def test_yanked(self) -> None:
        """
        A valueless or empty ``data-yanked`` means yanked without reason;
        with text it is the reason.
        """
        self.assertIs(
            parse_one_html(f'<a href="{WHEEL}" data-yanked>x</a>').yanked, True
        )
        self.assertIs(
            parse_one_html(f'<a href="{WHEEL}" data-yanked="">x</a>').yanked, True
        )
        self.assertEqual(
            parse_one_html(
                f'<a href="{WHEEL}" data-yanked="bad &amp; old">x</a>'
            ).yanked,
            "bad & old",
        )
        self.assertIs(parse_one_html(f'<a href="{WHEEL}">x</a>').yanked, False)

    def test_core_metadata_values(self) -> None:
        """
        ``data-core-metadata`` is ``true``, ``false``, a hash, or valueless.
        """
        cases = [
            ('data-core-metadata="true"', True),
            ('data-core-metadata="TRUE"', True),
            ("data-core-metadata", True),
            ('data-core-metadata="false"', False),
            (f'data-core-metadata="sha256={SHA_META}"', {"sha256": SHA_META}),
            ('data-core-metadata="sha256=zz"', True),
            ("", None),
        ]
        for attribute, expected in cases:
            f = parse_one_html(f'<a href="{WHEEL}" {attribute}>x</a>')
            self.assertEqual(f.core_metadata, expected, attribute)

    def test_core_metadata_read_first(self) -> None:
        """
        ``data-core-metadata`` wins over ``data-dist-info-metadata``.
        """
        f = parse_one_html(
            f'<a href="{WHEEL}" data-dist-info-metadata="true" '
            f'data-core-metadata="sha256={SHA_META}">x</a>'
        )
        self.assertEqual(f.core_metadata, {"sha256": SHA_META})

    def test_gpg_sig_and_provenance(self) -> None:
        """
        ``data-gpg-sig`` is read as a boolean; ``data-provenance`` is kept
        only when it is an absolute https URL.
        """
        f = parse_one_html(
            f'<a href="{WHEEL}" data-gpg-sig="true" '
            f'data-provenance="{PROVENANCE}">x</a>'
        )
        self.assertEqual((f.gpg_sig, f.provenance), (True, PROVENANCE))
        f = parse_one_html(
            f'<a href="{WHEEL}" data-gpg-sig="false" data-provenance="http://p/x">x</a>'
        )
        self.assertEqual((f.gpg_sig, f.provenance), (False, None))

    def test_meta_tags(self) -> None:
        """
        The repository version and project status come from ``<meta>`` tags.
        """
        head = (
            '<meta name="pypi:repository-version" content="1.4">'
            '<meta name="pypi:project-status" content="deprecated">'
            '<meta name="pypi:project-status-reason" content="Use &lt;other&gt;">'
        )
        page = parse_html(html_page(head=head))
        self.assertEqual(page.api_version, (1, 4))
        self.assertEqual(
            (page.status, page.status_reason), ("deprecated", "Use <other>")
        )

    def test_unsupported_major(self) -> None:
        """
        A repository version with a major other than 1 raises PageParseError.
        """
        head = '<meta name="pypi:repository-version" content="2.0">'
        self.assertRaises(PageParseError, parse_html, html_page(head=head))

    def test_undecodable(self) -> None:
        """
        A body that is not UTF-8 raises PageParseError.
        """
        self.assertRaises(PageParseError, parse_html, b"<a href='\xff\xfe'>x</a>")

    def test_declared_charset(self) -> None:
        """
        A charset named in the Content-Type is used to decode the page.
        """
        body = html_page(
            '<a href="/p/sampleproject-1.0.tar.gz" data-yanked="caf\xe9">x</a>'
        )
        body = body.decode().encode("latin-1")
        [f] = parse_html(body, "text/html; charset=ISO-8859-1").files
        self.assertEqual(f.yanked, "caf\xe9")

    def test_anchors_without_href_ignored(self) -> None:
        """
        Anchors without ``href`` are not links and are not reported.
        """
        with capturedLogs() as events:
            page = parse_html(html_page('<a name="top">top</a>'))
        self.assertEqual((page.files, events), ((), []))

    def test_malformed_markup(self) -> None:
        """
        Broken markup before a well-formed link does not lose it.
        """
        body = html_page(
            '<![if x]><!-- <a href="y"> --><![endif]></a><a>',
            f'<a href="{WHEEL}">w</a>',
        )
        self.assertEqual([f.filename for f in parse_html(body).files], [WHEEL])

    def test_unscannable_markup(self) -> None:
        """
        Markup that html.parser refuses raises PageParseError, not its own
        exception.
        """
        for markup in ["<![foo bar", "<![ if"]:
            self.assertRaises(PageParseError, parse_html, html_page(markup))

    def test_unterminated_tail(self) -> None:
        """
        Links before a construct that never ends are kept; what follows it is
        ignored, in time linear in its length.
        """
        for tail in ["<a href='" * 20000, "<!--" * 20000, "<a" * 20000]:
            body = html_page(f'<a href="{WHEEL}">w</a>') + tail.encode()
            self.assertEqual([f.filename for f in parse_html(body).files], [WHEEL])

    def test_many_anchors(self) -> None:
        """
        A page with thousands of anchors is read completely.
        """
        anchors = [
            f'<a href="/p/sampleproject-1.{i}.tar.gz#sha256={i:064x}" '
            f'data-requires-python="&gt;=3.{i % 13}">sampleproject-1.{i}.tar.gz</a><br>'
            for i in range(5000)
        ]
        page = parse_html(html_page(*anchors))
        self.assertEqual(len(page.files), 5000)
        self.assertEqual(page.files[4999].hashes, {"sha256": f"{4999:064x}"})
        self.assertEqual(page.files[4999].requires_python, ">=3.7")
