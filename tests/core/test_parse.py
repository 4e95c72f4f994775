"""
Tests for :mod:`twisted_pypi.core.parse`: choosing the reader by
``Content-Type`` (or by sniffing), and the project list.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.simplepages import (
    JSON_TYPE,
    NEXUS_HTML,
    PAGE_URL,
    PYPI_JSON,
    html_page,
    json_body,
    parse_html,
)
from twisted_pypi.core.parse import (
    PageParseError,
    parse_project_list,
    parse_project_page,
)


class FormatDetectionTests(SynchronousTestCase):
    """
    How :func:`parse_project_page` decides between JSON and HTML.
    """

    def test_json_type_with_parameters(self) -> None:
        """
        The JSON type is recognized in any case and with parameters.
        """
        page = parse_project_page(
            json_body(PYPI_JSON),
            "Application/VND.PyPI.Simple.V1+JSON ; charset=UTF-8",
            PAGE_URL,
            "sampleproject",
        )
        self.assertEqual(len(page.files), 2)

    def test_plain_json_type(self) -> None:
        """
        ``application/json`` is read as JSON.
        """
        page = parse_project_page(
            json_body(PYPI_JSON), "application/json", PAGE_URL, "sampleproject"
        )
        self.assertEqual(page.versions, ("2.0.0", "3.0.0", "4.0.0"))

    def test_html_types(self) -> None:
        """
        ``text/html`` and the v1 HTML type are read as HTML.
        """
        for content_type in [
            "text/html; charset=utf-8",
            "application/vnd.pypi.simple.v1+html",
        ]:
            page = parse_project_page(
                NEXUS_HTML, content_type, PAGE_URL, "sampleproject"
            )
            self.assertEqual(len(page.files), 2)

    def test_bytes_content_type(self) -> None:
        """
        The Content-Type may be given as bytes, as Twisted delivers it.
        """
        page = parse_project_page(
            json_body(PYPI_JSON), JSON_TYPE.encode(), PAGE_URL, "sampleproject"
        )
        self.assertEqual(len(page.files), 2)

    def test_sniff_json(self) -> None:
        """
        Without a Content-Type (or with an unknown one) a body starting with
        ``{`` after whitespace is JSON.
        """
        body = b"\n  " + json_body(PYPI_JSON)
        for content_type in [None, "", "application/octet-stream"]:
            page = parse_project_page(body, content_type, PAGE_URL, "sampleproject")
            self.assertEqual(page.api_version, (1, 4))

    def test_sniff_json_with_bom(self) -> None:
        """
        A UTF-8 byte-order mark does not hide a JSON body from sniffing.
        """
        body = b"\xef\xbb\xbf" + json_body(PYPI_JSON)
        self.assertEqual(len(parse_html(body, None).files), 2)

    def test_sniff_html(self) -> None:
        """
        Without a Content-Type any other body is HTML.
        """
        self.assertEqual(len(parse_html(NEXUS_HTML, None).files), 2)

    def test_declared_type_wins(self) -> None:
        """
        A declared HTML type is not second-guessed by sniffing.
        """
        page = parse_html(json_body(PYPI_JSON), "text/html")
        self.assertEqual(page.files, ())


class ProjectListTests(SynchronousTestCase):
    """
    Reading the root project list.
    """

    def test_html(self) -> None:
        """
        Anchor texts are the project names; invalid ones are dropped and the
        first spelling of a normalized name wins.
        """
        body = html_page(
            '<a href="/simple/django/">Django</a>',
            '<a href="/simple/zope-interface/"> zope.interface </a>',
            '<a href="/simple/zope-interface/">Zope_Interface</a>',
            '<a href="/simple/x/">../etc</a>',
            '<a href="/simple/y/"></a>',
            head='<meta name="pypi:repository-version" content="1.1">',
        )
        lst = parse_project_list(body, "text/html")
        self.assertEqual(lst.names, ("Django", "zope.interface"))
        self.assertEqual(lst.api_version, (1, 1))

    def test_json(self) -> None:
        """
        JSON ``projects`` entries give the names; ``meta`` is read.
        """
        body = json_body(
            {
                "meta": {"api-version": "1.4", "_last-serial": 9},
                "projects": [
                    {"name": "Django", "_last-serial": 3},
                    {"name": "bad name"},
                    {"nom": "x"},
                    "flask",
                    {"name": "requests"},
                ],
            }
        )
        lst = parse_project_list(body, JSON_TYPE)
        self.assertEqual(lst.names, ("Django", "requests"))
        self.assertEqual(
            (lst.api_version, lst.meta_extra), ((1, 4), {"_last-serial": 9})
        )

    def test_sniffed(self) -> None:
        """
        Without a Content-Type the list format is sniffed.
        """
        lst = parse_project_list(b'{"projects": [{"name": "a"}]}', None)
        self.assertEqual(lst.names, ("a",))
        lst = parse_project_list(html_page('<a href="a/">a</a>'), None)
        self.assertEqual(lst.names, ("a",))

    def test_garbage(self) -> None:
        """
        Unreadable lists raise PageParseError.
        """
        for body in [
            b"{",
            b'{"projects": {}}',
            b'{"meta": {"api-version": "3.0"}, "projects": []}',
        ]:
            self.assertRaises(PageParseError, parse_project_list, body, JSON_TYPE)
