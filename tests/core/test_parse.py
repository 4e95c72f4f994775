"""
Tests for :mod:`twisted_pypi.core.parse`.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.logger import LogLevel, capturedLogs
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.parse import (
    PageParseError,
    parse_project_list,
    parse_project_page,
)

PAGE_URL = "https://pypi.org/simple/sampleproject/"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
FILES = "https://files.pythonhosted.org/packages"
WHEEL = "sampleproject-3.0.0-py3-none-any.whl"
SDIST = "sampleproject-3.0.0.tar.gz"
SHA_WHEEL = "4f0de1e7ab3d0e6a1f5b1e8c6a9d4d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6978"
SHA_SDIST = "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1"
SHA_META = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
PROVENANCE = f"https://pypi.org/integrity/sampleproject/3.0.0/{WHEEL}/provenance"

#: A JSON project page shaped like PyPI's (API 1.4).
PYPI_JSON: dict[str, Any] = {
    "alternate-locations": [],
    "files": [
        {
            "core-metadata": {"sha256": SHA_META},
            "data-dist-info-metadata": {"sha256": SHA_META},
            "filename": WHEEL,
            "hashes": {"sha256": SHA_WHEEL},
            "provenance": PROVENANCE,
            "requires-python": ">=3.8",
            "size": 4662,
            "upload-time": "2024-02-14T21:20:41.123456Z",
            "url": f"{FILES}/ec/a8/5ec62d18adde/{WHEEL}",
            "yanked": False,
        },
        {
            "core-metadata": False,
            "data-dist-info-metadata": False,
            "filename": SDIST,
            "hashes": {"sha256": SHA_SDIST},
            "provenance": None,
            "requires-python": ">=3.8",
            "size": 5103,
            "upload-time": "2024-02-14T21:20:43Z",
            "url": f"{FILES}/67/a8/a2a5b2bb0d4b/{SDIST}",
            "yanked": "Broken metadata",
        },
    ],
    "meta": {"_last-serial": 22052520, "api-version": "1.4"},
    "name": "sampleproject",
    "project-status": {"status": "active", "reason": "still maintained"},
    "versions": ["2.0.0", "3.0.0", "4.0.0"],
}

#: An HTML project page like one a Nexus-style proxy serves.
NEXUS_HTML = f"""<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.0">
    <title>Links for sampleproject</title>
  </head>
  <body>
    <h1>Links for sampleproject</h1>
    <a href="../../packages/sampleproject/3.0.0/{WHEEL}#sha256={SHA_WHEEL}"
       data-requires-python="&gt;=3.8,&lt;4"
       data-dist-info-metadata="sha256={SHA_META}">{WHEEL}</a><br/>
    <A HREF="https://mirror.example.org/files/{SDIST}#SHA256={SHA_SDIST.upper()}"
       data-yanked="Use &quot;4.0&quot; instead">{SDIST}</A><br/>
  </body>
</html>
""".encode()


def json_body(page: dict[str, Any]) -> bytes:
    """
    :param page: A JSON page.
    :return: Its encoding.
    """
    return json.dumps(page).encode("utf-8")


def html_page(*anchors: str, head: str = "") -> bytes:
    """
    :param anchors: The ``<a>`` elements of the page.
    :param head: Extra content for ``<head>``.
    :return: A small HTML page.
    """
    body = "\n".join(anchors)
    return (
        f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()
    )


def file_entry(filename: str = WHEEL, **fields: Any) -> dict[str, Any]:
    """
    :param filename: The file's name.
    :param fields: Further keys of the file object.
    :return: A JSON file object with a URL on files.pythonhosted.org.
    """
    entry: dict[str, Any] = {
        "filename": filename,
        "url": f"{FILES}/aa/bb/{filename}",
        "hashes": {"sha256": SHA_WHEEL},
    }
    entry.update(fields)
    return entry


def parse_json(page: dict[str, Any]) -> ProjectPage:
    """
    :param page: A JSON page.
    :return: It, parsed.
    """
    return parse_project_page(json_body(page), JSON_TYPE, PAGE_URL, "sampleproject")


def parse_one_json(**fields: Any) -> DistFile:
    """
    :param fields: Keys of one file object (see :func:`file_entry`).
    :return: The only file of a page listing just that object.
    """
    page = parse_json({"meta": {"api-version": "1.1"}, "files": [file_entry(**fields)]})
    [f] = page.files
    return f


def parse_html(body: bytes, content_type: str | None = "text/html") -> ProjectPage:
    """
    :param body: An HTML page.
    :param content_type: Its Content-Type.
    :return: It, parsed.
    """
    return parse_project_page(body, content_type, PAGE_URL, "sampleproject")


def parse_one_html(anchor: str) -> DistFile:
    """
    :param anchor: One ``<a>`` element.
    :return: The only file of a page holding just that anchor.
    """
    [f] = parse_html(html_page(anchor)).files
    return f


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


class JSONPageTests(SynchronousTestCase):
    """
    Reading PEP 691 JSON project pages.
    """

    def test_pypi_page(self) -> None:
        """
        Every field of a PyPI-shaped page lands in the model.
        """
        page = parse_json(PYPI_JSON)
        wheel, sdist = page.files
        self.assertEqual(
            wheel,
            DistFile(
                filename=WHEEL,
                url=f"{FILES}/ec/a8/5ec62d18adde/{WHEEL}",
                hashes={"sha256": SHA_WHEEL},
                requires_python=">=3.8",
                yanked=False,
                core_metadata={"sha256": SHA_META},
                size=4662,
                upload_time="2024-02-14T21:20:41.123456Z",
                provenance=PROVENANCE,
            ),
        )
        self.assertEqual(sdist.yanked, "Broken metadata")
        self.assertIs(sdist.core_metadata, False)
        self.assertIsNone(sdist.provenance)
        self.assertEqual(page.name, "sampleproject")
        self.assertEqual(page.api_version, (1, 4))
        self.assertEqual(page.meta_extra, {"_last-serial": 22052520})
        self.assertEqual(page.extra, {"alternate-locations": []})
        self.assertEqual(
            (page.status, page.status_reason), ("active", "still maintained")
        )

    def test_name_normalized(self) -> None:
        """
        The page's name is the normalized project name.
        """
        page = parse_project_page(
            json_body(PYPI_JSON), None, PAGE_URL, "Sample_Project"
        )
        self.assertEqual(page.name, "sample-project")

    def test_relative_url(self) -> None:
        """
        A relative file URL is resolved against the page URL and its fragment
        dropped.
        """
        f = parse_one_json(url=f"../../packages/aa/{WHEEL}#sha256={SHA_WHEEL}")
        self.assertEqual(f.url, f"https://pypi.org/packages/aa/{WHEEL}")

    def test_query_kept(self) -> None:
        """
        A file URL's query survives.
        """
        f = parse_one_json(url=f"https://h.example/p/{WHEEL}?token=1")
        self.assertEqual(f.url, f"https://h.example/p/{WHEEL}?token=1")

    def test_hashes_cleaned(self) -> None:
        """
        Hash names and digests are lower-cased; non-hex or non-string digests
        are dropped.
        """
        f = parse_one_json(
            hashes={"SHA256": "ABCDEF", "md5": "not-hex", "sha1": 12, "": "ab"}
        )
        self.assertEqual(f.hashes, {"sha256": "abcdef"})

    def test_hashes_not_a_mapping(self) -> None:
        """
        A ``hashes`` value that is not an object means no hashes.
        """
        self.assertEqual(parse_one_json(hashes=["sha256"]).hashes, {})

    def test_legacy_metadata_keys(self) -> None:
        """
        ``dist-info-metadata`` and then ``data-dist-info-metadata`` are read
        when ``core-metadata`` is absent, and never kept in ``extra``.
        """
        f = parse_one_json(**{"dist-info-metadata": {"sha256": SHA_META}})
        self.assertEqual(f.core_metadata, {"sha256": SHA_META})
        self.assertEqual(f.extra, {})
        f = parse_one_json(**{"data-dist-info-metadata": True})
        self.assertIs(f.core_metadata, True)
        self.assertEqual(f.extra, {})

    def test_core_metadata_read_first(self) -> None:
        """
        ``core-metadata`` wins over the legacy keys.
        """
        f = parse_one_json(
            **{
                "core-metadata": {"sha256": SHA_META},
                "dist-info-metadata": True,
                "data-dist-info-metadata": False,
            }
        )
        self.assertEqual(f.core_metadata, {"sha256": SHA_META})

    def test_core_metadata_absent(self) -> None:
        """
        Without any metadata key (or with ``null``) the metadata is unknown.
        """
        self.assertIsNone(parse_one_json().core_metadata)
        self.assertIsNone(parse_one_json(**{"core-metadata": None}).core_metadata)

    def test_yanked_values(self) -> None:
        """
        ``yanked`` is a boolean or a reason; an empty reason still means
        yanked.
        """
        self.assertIs(parse_one_json(yanked=True).yanked, True)
        self.assertIs(parse_one_json(yanked=False).yanked, False)
        self.assertIs(parse_one_json().yanked, False)
        self.assertEqual(parse_one_json(yanked="CVE-2024-1").yanked, "CVE-2024-1")
        self.assertIs(parse_one_json(yanked="").yanked, True)

    def test_provenance_https_only(self) -> None:
        """
        Only an absolute https provenance URL is kept.
        """
        for bad in ["http://pypi.org/p", "/integrity/p", "https:///p", 7]:
            self.assertIsNone(parse_one_json(provenance=bad).provenance, bad)

    def test_size(self) -> None:
        """
        ``size`` is kept only as a non-negative integer.
        """
        self.assertEqual(parse_one_json(size=0).size, 0)
        for bad in [True, -1, "12", 1.5]:
            self.assertIsNone(parse_one_json(size=bad).size, bad)

    def test_scalar_fields(self) -> None:
        """
        ``gpg-sig``, ``requires-python`` and ``upload-time`` of the wrong type,
        and an empty ``requires-python``, are ignored.
        """
        f = parse_one_json(**{"gpg-sig": True, "requires-python": "<4"})
        self.assertEqual((f.gpg_sig, f.requires_python), (True, "<4"))
        f = parse_one_json(**{"gpg-sig": "yes", "requires-python": 3, "upload-time": 1})
        self.assertEqual((f.gpg_sig, f.requires_python, f.upload_time), (None,) * 3)
        f = parse_one_json(**{"requires-python": ""})
        self.assertEqual((f.gpg_sig, f.requires_python, f.upload_time), (None,) * 3)

    def test_unknown_file_keys_kept(self) -> None:
        """
        Keys of a file object the model does not know pass through unchanged.
        """
        f = parse_one_json(**{"_serial": 5, "x-note": {"a": [1]}})
        self.assertEqual(f.extra, {"_serial": 5, "x-note": {"a": [1]}})

    def test_page_without_optional_keys(self) -> None:
        """
        A minimal page gives API 1.0 and no versions, status or extras.
        """
        page = parse_json({"files": [file_entry()]})
        self.assertEqual(page.api_version, (1, 0))
        self.assertIsNone(page.versions)
        self.assertIsNone(page.status)
        self.assertEqual((page.meta_extra, page.extra), ({}, {}))

    def test_api_versions(self) -> None:
        """
        ``meta.api-version`` ``1.x`` gives ``(1, x)``.
        """
        for text, version in [("1.0", (1, 0)), ("1.1", (1, 1)), ("1.12", (1, 12))]:
            page = parse_json({"meta": {"api-version": text}, "files": []})
            self.assertEqual(page.api_version, version)

    def test_bad_shapes(self) -> None:
        """
        Wrong shapes and unsupported API majors raise PageParseError.
        """
        for page in [
            {"files": {}},
            {"meta": {"api-version": "1.0"}},
            {"meta": [], "files": []},
            {"meta": {"api-version": "2.0"}, "files": []},
            {"meta": {"api-version": "one"}, "files": []},
            {"meta": {"api-version": 1.1}, "files": []},
        ]:
            self.assertRaises(PageParseError, parse_json, page)

    def test_garbage(self) -> None:
        """
        Bodies that are not JSON objects raise PageParseError, nothing else.
        """
        for body in [b"{", b"[]", b'"files"', b"{\xff}", b"[" * 100000, b"{}" * 2]:
            self.assertRaises(
                PageParseError, parse_project_page, body, JSON_TYPE, PAGE_URL, "p"
            )

    def test_versions_and_status(self) -> None:
        """
        Non-string versions are dropped; a malformed project-status is
        ignored.
        """
        page = parse_json({"files": [], "versions": ["1.0", 2], "project-status": "x"})
        self.assertEqual(page.versions, ("1.0",))
        self.assertIsNone(page.status)

    def test_bad_entries_dropped(self) -> None:
        """
        File entries that are not objects or lack a string filename or URL
        are dropped; the others are kept.
        """
        page = parse_json(
            {
                "files": [
                    7,
                    {"filename": WHEEL},
                    {"url": "x", "filename": 3},
                    file_entry(),
                ]
            }
        )
        self.assertEqual([f.filename for f in page.files], [WHEEL])

    def test_filename_must_match_url(self) -> None:
        """
        A file whose filename differs from its URL's last segment is dropped.
        """
        page = parse_json(
            {"files": [file_entry(url=f"{FILES}/aa/other-1.0-py3-none-any.whl")]}
        )
        self.assertEqual(page.files, ())

    def test_percent_encoded_url(self) -> None:
        """
        The URL's last segment is compared percent-decoded.
        """
        name = "torch-2.4.0+cpu-cp311-cp311-linux_x86_64.whl"
        f = parse_one_json(
            filename=name, url=f"https://d.example/{name.replace('+', '%2B')}"
        )
        self.assertEqual(f.filename, name)


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
