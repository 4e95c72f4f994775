"""
Tests for :mod:`twisted_pypi.core.parse_common`: the links dropped from
HTML and JSON pages, and how they are logged.
"""

from __future__ import annotations

from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from tests.simplepages import (
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
        "../../etc/passwd",
        "https://evil.example/x.exe",
        "foo%2F..%2Fbar-1.0.tar.gz",
        "https://evil.example/a/..%2F..%2Fsampleproject-1.0.tar.gz",
        "/p/sampleproject-1.0%00.tar.gz",
        "/p/%2Esampleproject-1.0.tar.gz",
        "/p/sampleproject-1.0.tar.bz2",
        "/p/sampleproject-1.0-py2.7.egg",
        "/p/%00/sampleproject-1.0.tar.gz",
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
        Links to unsafe paths, non-distribution files and non-http(s) URLs are
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
            {"filename": "x.exe", "url": "x.exe"},
            {"filename": "s-1.0.tar.gz\ud800", "url": "s-1.0.tar.gz\ud800"},
            file_entry(),
        ]
        page = parse_json({"files": entries})
        self.assertEqual([f.filename for f in page.files], [WHEEL])

    def test_one_warning_per_page(self) -> None:
        """
        One warning per page counts the dropped links and names the first.
        """
        anchors = [f'<a href="/p/x{i}.exe">x</a>' for i in range(50)]
        with capturedLogs() as events:
            parse_html(html_page(*anchors, f'<a href="{WHEEL}">w</a>'))
        warnings = [e for e in events if e["log_level"] == LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertEqual((warnings[0]["count"], warnings[0]["total"]), (50, 51))
        self.assertIn("/p/x0.exe", warnings[0]["examples"])
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
