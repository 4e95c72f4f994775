"""
Tests for :mod:`twisted_pypi.core.parse_common`: the links dropped from
HTML and JSON pages, and how they are logged.
"""

from __future__ import annotations

from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from tests.simplepages import (
    FILES,
    LEGACY_FILENAMES,
    PAGE_URL,
    PYPI_JSON,
    WHEEL,
    file_entry,
    html_page,
    parse_html,
    parse_json,
)


class DroppedLinkTests(SynchronousTestCase):
    """
    Links that cannot be served safely are dropped and logged.
    """

    BAD_HREFS = [
        "foo%2F..%2Fbar-1.0.tar.gz",
        "https://evil.example/a/..%2F..%2Fsampleproject-1.0.tar.gz",
        "/p/sampleproject-1.0%00.tar.gz",
        "/p/%2Esampleproject-1.0.tar.gz",
        "/p/%00/sampleproject-1.0.tar.gz",
        "/p/sampleproject-1.0.tar.gz.metadata",
        "/p/",
        "/p/..%5C..%5C/sampleproject-1.0.tar.gz",
        "ftp://ftp.example/sampleproject-1.0.tar.gz",
        "file:///etc/sampleproject-1.0.tar.gz",
        "javascript:alert(1)//sampleproject-1.0.tar.gz",
        "data:text/plain,sampleproject-1.0.tar.gz",
        "https://[::1/sampleproject-1.0.tar.gz",
        "https://h.example:99999/sampleproject-1.0.tar.gz",
        "",
        "#sha256=00",
    ]

    def test_bad_html_links(self) -> None:
        """
        Links to unsafe paths, ``.metadata`` names and non-http(s) URLs are
        dropped from HTML pages; the good link survives.
        """
        anchors = [f'<a href="{href}">x</a>' for href in self.BAD_HREFS]
        anchors.append(f'<a href="{WHEEL}">w</a>')
        page = parse_html(html_page(*anchors))
        self.assertEqual([f.filename for f in page.files], [WHEEL])

    def test_bad_json_links(self) -> None:
        """
        The same links are dropped from JSON pages.
        """
        entries = [
            {"filename": "sampleproject-1.0.tar.gz", "url": href}
            for href in self.BAD_HREFS
        ]
        entries += [
            {"filename": "../../etc/passwd", "url": "../../etc/passwd"},
            {"filename": "bar-1.0.tar.gz", "url": "foo%2F..%2Fbar-1.0.tar.gz"},
            {
                "filename": "sampleproject-1.0\x00.tar.gz",
                "url": "sampleproject-1.0\x00.tar.gz",
            },
            {"filename": "x.exe", "url": "y.exe"},
            {"filename": "s-1.0.tar.gz\ud800", "url": "s-1.0.tar.gz\ud800"},
            file_entry(),
        ]
        page = parse_json({"files": entries})
        self.assertEqual([f.filename for f in page.files], [WHEEL])

    def test_one_warning_per_page(self) -> None:
        """
        One warning per page counts the dropped links and names the first.
        """
        anchors = [f'<a href="/p/.x{i}.exe">x</a>' for i in range(50)]
        with capturedLogs() as events:
            parse_html(html_page(*anchors, f'<a href="{WHEEL}">w</a>'))
        warnings = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertEqual((warnings[0]["count"], warnings[0]["total"]), (50, 51))
        self.assertIn("/p/.x0.exe", warnings[0]["examples"])
        self.assertEqual(warnings[0]["page"], PAGE_URL)

    def test_no_warning_for_clean_page(self) -> None:
        """
        A page without bad links logs no warning.
        """
        with capturedLogs() as events:
            parse_json(PYPI_JSON)
        self.assertEqual([e for e in events if e["log_level"] == LogLevel.warn], [])

    def test_duplicate_filenames(self) -> None:
        """
        Only the first link for a filename is kept.
        """
        page = parse_html(
            html_page(f'<a href="/a/{WHEEL}">1</a>', f'<a href="/b/{WHEEL}">2</a>')
        )
        self.assertEqual([f.url for f in page.files], [f"https://pypi.org/a/{WHEEL}"])


class PassedThroughTests(SynchronousTestCase):
    """
    A link is kept whatever its filename says, as the index gave it.
    """

    def test_legacy_html(self) -> None:
        """
        Legacy and unparseable filenames are kept on HTML pages, in order,
        with their URL and hashes, and nothing is logged as dropped.
        """
        anchors = [
            f'<a href="{FILES}/aa/{name}#sha256={"a" * 64}">{name}</a>'
            for name in LEGACY_FILENAMES
        ]
        with capturedLogs() as events:
            page = parse_html(html_page(*anchors))
        self.assertEqual([f.filename for f in page.files], list(LEGACY_FILENAMES))
        self.assertEqual(page.files[0].url, f"{FILES}/aa/{LEGACY_FILENAMES[0]}")
        self.assertEqual(page.files[0].hashes, {"sha256": "a" * 64})
        self.assertEqual([e for e in events if e["log_level"] == LogLevel.warn], [])

    def test_legacy_json(self) -> None:
        """
        Legacy and unparseable filenames are kept on JSON pages, in order.
        """
        page = parse_json({"files": [file_entry(n) for n in LEGACY_FILENAMES]})
        self.assertEqual([f.filename for f in page.files], list(LEGACY_FILENAMES))
        self.assertEqual(page.files[1].url, f"{FILES}/aa/bb/{LEGACY_FILENAMES[1]}")


class CredentialTests(SynchronousTestCase):
    """
    Credentials in a file link are kept apart from its URL and never shown.
    """

    SECRET = "s3cr%40et"

    def test_html(self) -> None:
        """
        An HTML link's credentials leave its URL, decoded, for the upstream
        request only; the record's repr does not show them.
        """
        href = f"https://user:{self.SECRET}@h.example/p/{WHEEL}#sha256={'b' * 64}"
        (f,) = parse_html(html_page(f'<a href="{href}">w</a>')).files
        self.assertEqual(f.url, f"https://h.example/p/{WHEEL}")
        self.assertEqual(f.credentials, ("user", "s3cr@et"))
        self.assertEqual(f.fetch_url, href.partition("#")[0])
        self.assertNotIn("s3cr", repr(f))

    def test_json(self) -> None:
        """
        A JSON file's credentials leave its URL too, a relative URL's
        inherited from the page's.
        """
        (f,) = parse_json(
            {"files": [file_entry(url=f"https://u:{self.SECRET}@h.example/{WHEEL}")]}
        ).files
        self.assertEqual(
            (f.url, f.credentials), (f"https://h.example/{WHEEL}", ("u", "s3cr@et"))
        )

    def test_dropped_link_logged_without_them(self) -> None:
        """
        A dropped link with credentials is logged without them.
        """
        href = f"https://user:{self.SECRET}@h.example/p/%2E{WHEEL}"
        with capturedLogs() as events:
            page = parse_html(html_page(f'<a href="{href}">w</a>'))
        self.assertEqual(page.files, ())
        text = repr([dict(e) for e in events])
        self.assertIn("h.example", text)
        self.assertNotIn("s3cr", text)
