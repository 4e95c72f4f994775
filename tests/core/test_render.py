"""
Tests for :mod:`twisted_pypi.core.render`, including round trips through
:mod:`twisted_pypi.core.parse`.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from attrs import evolve
from twisted.trial.unittest import SynchronousTestCase

from tests.simplepages import NEXUS_HTML, PAGE_URL, PYPI_JSON, SHA_META, SHA_WHEEL
from twisted_pypi.core.links import local_path, local_segments, upstream_url
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.core.parse import parse_project_list, parse_project_page
from twisted_pypi.core.render import (
    best_hash,
    render_list_html,
    render_list_json,
    render_project_html,
    render_project_json,
)

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
WHEEL = "demo-1.0-py3-none-any.whl"
WHEEL_URL = f"https://files.example/packages/ab/{WHEEL}"


def upstream_link(f: DistFile) -> str:
    """
    :param f: A file.
    :return: Its upstream URL, unchanged.
    """
    return f.url


def a_file(**fields: Any) -> DistFile:
    """
    :param fields: Fields to set on a wheel of ``demo``.
    :return: The file.
    """
    fields.setdefault("hashes", {"sha256": SHA_WHEEL})
    return DistFile(filename=WHEEL, url=WHEEL_URL, **fields)


def a_page(*files: DistFile, **fields: Any) -> ProjectPage:
    """
    :param files: The files of a page for ``demo``.
    :param fields: Further page fields.
    :return: The page.
    """
    return ProjectPage(name="demo", files=files, **fields)


def as_json(page: ProjectPage) -> dict[str, Any]:
    """
    :param page: A page.
    :return: Its JSON rendering with upstream links, decoded.
    """
    result: dict[str, Any] = json.loads(render_project_json(page, upstream_link))
    return result


def as_html(page: ProjectPage) -> str:
    """
    :param page: A page.
    :return: Its HTML rendering with upstream links, decoded.
    """
    return render_project_html(page, upstream_link).decode("utf-8")


class _Anchors(HTMLParser):
    """
    Collect anchors independently of :mod:`twisted_pypi.core.parse`.

    :ivar anchors: Each anchor's attributes and text.
    """

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """
        :param tag: The tag name.
        :param attrs: Its attributes.
        """
        if tag == "a":
            self.anchors.append((dict(attrs), ""))
            self._inside = True

    def handle_endtag(self, tag: str) -> None:
        """
        :param tag: The tag name.
        """
        self._inside = self._inside and tag != "a"

    def handle_data(self, data: str) -> None:
        """
        :param data: Text.
        """
        if self._inside:
            attrs, text = self.anchors[-1]
            self.anchors[-1] = (attrs, text + data)


def anchors(html: str) -> list[tuple[dict[str, str | None], str]]:
    """
    :param html: An HTML document.
    :return: Its anchors' attributes and texts.
    """
    collector = _Anchors()
    collector.feed(html)
    return collector.anchors


class BestHashTests(SynchronousTestCase):
    """
    Tests for :func:`best_hash`.
    """

    def test_sha256_first(self) -> None:
        """
        sha256 is chosen whenever present.
        """
        hashes = {"md5": "1", "sha512": "2", "sha256": "3"}
        self.assertEqual(best_hash(hashes), ("sha256", "3"))

    def test_strongest_other(self) -> None:
        """
        Without sha256 the strongest guaranteed algorithm is chosen.
        """
        self.assertEqual(best_hash({"md5": "1", "sha384": "2"}), ("sha384", "2"))
        self.assertEqual(best_hash({"md5": "1", "sha1": "2"}), ("sha1", "2"))

    def test_unknown_only(self) -> None:
        """
        Hashes outside hashlib's guaranteed algorithms are never chosen.
        """
        self.assertIsNone(best_hash({"blake2b_256": "1"}))
        self.assertIsNone(best_hash({}))


class ProjectHTMLTests(SynchronousTestCase):
    """
    Tests for :func:`render_project_html`.
    """

    def test_document(self) -> None:
        """
        The page is an HTML5 document claiming the served API version, titled
        after the project.
        """
        html = as_html(a_page(a_file()))
        self.assertTrue(html.startswith("<!DOCTYPE html>\n<html>\n  <head>\n"))
        self.assertIn('<meta name="pypi:repository-version" content="1.0">', html)
        self.assertIn("<title>Links for demo</title>", html)
        self.assertIn("<h1>Links for demo</h1>", html)

    def test_anchor(self) -> None:
        """
        Each file is one anchor whose text is its filename, the last path
        segment of its href, which carries the sha256 fragment.
        """
        [(attrs, text)] = anchors(as_html(a_page(a_file())))
        self.assertEqual(attrs["href"], f"{WHEEL_URL}#sha256={SHA_WHEEL}")
        self.assertEqual(text, WHEEL)
        href = attrs["href"] or ""
        self.assertEqual(unquote(urlsplit(href).path.rpartition("/")[2]), text)

    def test_link_used(self) -> None:
        """
        The href is what ``link`` returns for the file.
        """
        html = render_project_html(a_page(a_file()), lambda f: "../x/" + f.filename)
        [(attrs, _)] = anchors(html.decode())
        self.assertEqual(attrs["href"], f"../x/{WHEEL}#sha256={SHA_WHEEL}")

    def test_other_hash(self) -> None:
        """
        Without sha256 the fragment uses the strongest other hash; with no
        usable hash there is no fragment.
        """
        html = as_html(a_page(a_file(hashes={"md5": "aa", "sha512": "bb"})))
        self.assertEqual(anchors(html)[0][0]["href"], f"{WHEEL_URL}#sha512=bb")
        html = as_html(a_page(a_file(hashes={})))
        self.assertEqual(anchors(html)[0][0]["href"], WHEEL_URL)

    def test_requires_python_escaped(self) -> None:
        """
        ``data-requires-python`` escapes ``<``, ``>``, ``&`` and ``"`` and
        reads back exactly.
        """
        spec = '>=3.8,<4,!="3.9.*"&'
        html = as_html(a_page(a_file(requires_python=spec)))
        self.assertIn(
            'data-requires-python="&gt;=3.8,&lt;4,!=&quot;3.9.*&quot;&amp;"', html
        )
        self.assertEqual(anchors(html)[0][0]["data-requires-python"], spec)

    def test_yanked(self) -> None:
        """
        A yanked file carries ``data-yanked``: empty without a reason, the
        escaped reason otherwise; an unyanked one carries none.
        """
        html = as_html(a_page(a_file(yanked=True)))
        self.assertIn('data-yanked=""', html)
        html = as_html(a_page(a_file(yanked='<"bad">')))
        self.assertIn('data-yanked="&lt;&quot;bad&quot;&gt;"', html)
        self.assertNotIn("data-yanked", as_html(a_page(a_file())))

    def test_core_metadata(self) -> None:
        """
        ``data-core-metadata`` and an identical ``data-dist-info-metadata``
        carry the metadata hash, or ``true`` without one.
        """
        cases = [
            ({"sha256": SHA_META}, f"sha256={SHA_META}"),
            ({"md5": "ab", "sha384": "cd"}, "sha384=cd"),
            ({"blake2b_256": "ab"}, "true"),
            ({}, "true"),
            (True, "true"),
        ]
        for metadata, value in cases:
            [(attrs, _)] = anchors(as_html(a_page(a_file(core_metadata=metadata))))
            self.assertEqual(attrs["data-core-metadata"], value)
            self.assertEqual(attrs["data-dist-info-metadata"], value)

    def test_no_core_metadata(self) -> None:
        """
        Neither metadata attribute appears when the metadata is unknown or
        absent.
        """
        for metadata in [None, False]:
            html = as_html(a_page(a_file(core_metadata=metadata)))
            self.assertNotIn("metadata", html)

    def test_gpg_sig_and_provenance(self) -> None:
        """
        ``data-gpg-sig`` and ``data-provenance`` appear only when set.
        """
        url = "https://pypi.org/integrity/demo/1.0/x/provenance?a=1&b=2"
        [(attrs, _)] = anchors(as_html(a_page(a_file(gpg_sig=False, provenance=url))))
        self.assertEqual(attrs["data-gpg-sig"], "false")
        self.assertEqual(attrs["data-provenance"], url)
        html = as_html(a_page(a_file()))
        self.assertNotIn("data-gpg-sig", html)
        self.assertNotIn("data-provenance", html)

    def test_project_status(self) -> None:
        """
        The project status and reason appear as escaped ``<meta>`` tags.
        """
        html = as_html(a_page(status="archived", status_reason='moved to "x" & <y>'))
        self.assertIn('<meta name="pypi:project-status" content="archived">', html)
        self.assertIn(
            '<meta name="pypi:project-status-reason" '
            'content="moved to &quot;x&quot; &amp; &lt;y&gt;">',
            html,
        )
        self.assertNotIn("pypi:project-status", as_html(a_page()))

    def test_escaping(self) -> None:
        """
        Filenames, hrefs and names are escaped.
        """
        html = render_project_html(
            a_page(a_file()), lambda f: 'https://h/"><script>/' + f.filename
        ).decode()
        self.assertNotIn("<script>", html)
        [(attrs, _)] = anchors(html)
        self.assertTrue((attrs["href"] or "").startswith('https://h/"><script>/'))

    def test_unencodable_text(self) -> None:
        """
        A lone surrogate (possible in a JSON escape) still renders.
        """
        html = render_project_html(a_page(a_file(yanked="bad \ud800")), upstream_link)
        self.assertIn(b'data-yanked="bad &#55296;"', html)

    def test_many_files(self) -> None:
        """
        A 3000-file page renders one correct anchor per file.
        """
        files = [
            DistFile(
                filename=f"demo-1.{i}.tar.gz",
                url=f"https://h/p/demo-1.{i}.tar.gz",
                hashes={"sha256": f"{i:064x}"},
                requires_python=">=3.8",
                core_metadata={"sha256": f"{i + 1:064x}"},
            )
            for i in range(3000)
        ]
        found = anchors(as_html(a_page(*files)))
        self.assertEqual(len(found), 3000)
        attrs, text = found[2999]
        self.assertEqual(text, "demo-1.2999.tar.gz")
        self.assertEqual(
            attrs["href"], f"https://h/p/demo-1.2999.tar.gz#sha256={2999:064x}"
        )
        self.assertEqual(attrs["data-core-metadata"], f"sha256={3000:064x}")


class ProjectJSONTests(SynchronousTestCase):
    """
    Tests for :func:`render_project_json`.
    """

    def test_minimal(self) -> None:
        """
        A page has ``meta.api-version`` (a string), its name and files; every
        file has filename, url and hashes (even if empty), and nothing unset.
        """
        result = as_json(a_page(a_file(hashes={})))
        self.assertEqual(
            result,
            {
                "meta": {"api-version": "1.0"},
                "name": "demo",
                "files": [{"filename": WHEEL, "url": WHEEL_URL, "hashes": {}}],
            },
        )

    def test_compact_and_ascii(self) -> None:
        """
        The document uses compact separators and is plain ASCII.
        """
        body = render_project_json(a_page(a_file(yanked="caf\xe9")), upstream_link)
        self.assertNotIn(b", ", body)
        self.assertNotIn(b'": ', body)
        body.decode("ascii")
        self.assertEqual(json.loads(body)["files"][0]["yanked"], "caf\xe9")

    def test_all_fields(self) -> None:
        """
        Every set field is written under its PEP 691 key, extras last.
        """
        f = a_file(
            requires_python=">=3.8",
            yanked="broken",
            core_metadata={"sha256": SHA_META},
            gpg_sig=True,
            size=12,
            upload_time="2024-01-01T00:00:00Z",
            provenance="https://p.example/prov",
            extra={"_serial": 1},
        )
        [obj] = as_json(a_page(f))["files"]
        self.assertEqual(
            list(obj),
            ["filename", "url", "hashes", "requires-python", "yanked", "core-metadata"]
            + ["data-dist-info-metadata", "gpg-sig", "size", "upload-time"]
            + ["provenance", "_serial"],
        )
        self.assertEqual(obj["yanked"], "broken")
        self.assertEqual(obj["size"], 12)
        self.assertEqual(obj["core-metadata"], {"sha256": SHA_META})

    def test_yanked(self) -> None:
        """
        ``yanked`` is ``true`` or the reason, and absent when not yanked.
        """
        self.assertIs(as_json(a_page(a_file(yanked=True)))["files"][0]["yanked"], True)
        self.assertIs(as_json(a_page(a_file(yanked="")))["files"][0]["yanked"], True)
        self.assertNotIn("yanked", as_json(a_page(a_file()))["files"][0])

    def test_core_metadata_keys(self) -> None:
        """
        ``data-dist-info-metadata`` always equals ``core-metadata`` and no
        ``dist-info-metadata`` key is ever written, even from extras.
        """
        for metadata in [True, False, {"sha256": SHA_META}]:
            f = a_file(
                core_metadata=metadata,
                extra={"dist-info-metadata": True, "data-dist-info-metadata": 1},
            )
            [obj] = as_json(a_page(f))["files"]
            self.assertEqual(obj["core-metadata"], metadata)
            self.assertEqual(obj["data-dist-info-metadata"], metadata)
            self.assertNotIn("dist-info-metadata", obj)
        [obj] = as_json(a_page(a_file(extra={"dist-info-metadata": True})))["files"]
        self.assertEqual(list(obj), ["filename", "url", "hashes"])

    def test_extra_cannot_override(self) -> None:
        """
        Extra keys never replace the known ones, at any level.
        """
        f = a_file(extra={"url": "https://evil/", "hashes": {}, "yanked": False})
        page = a_page(
            f,
            meta_extra={"api-version": "9.9", "_last-serial": 3},
            extra={"name": "evil", "files": [], "alternate-locations": []},
        )
        result = as_json(page)
        self.assertEqual(result["meta"], {"api-version": "1.0", "_last-serial": 3})
        self.assertEqual(result["name"], "demo")
        self.assertEqual(result["alternate-locations"], [])
        self.assertEqual(result["files"][0]["url"], WHEEL_URL)
        self.assertEqual(result["files"][0]["hashes"], {"sha256": SHA_WHEEL})

    def test_versions_and_status(self) -> None:
        """
        ``versions`` and ``project-status`` appear only when known.
        """
        result = as_json(a_page(versions=("1.0",), status="archived"))
        self.assertEqual(result["versions"], ["1.0"])
        self.assertEqual(result["project-status"], {"status": "archived"})
        result = as_json(a_page(status="deprecated", status_reason="use x"))
        self.assertEqual(
            result["project-status"], {"status": "deprecated", "reason": "use x"}
        )
        self.assertEqual(set(as_json(a_page())), {"meta", "name", "files"})

    def test_api_version_claims(self) -> None:
        """
        The page claims 1.0 when any file lacks a size or versions are
        missing, otherwise the upstream version capped at 1.4; HTML claims
        the same.
        """
        sized = a_file(size=1)
        cases = [
            (a_page(sized, a_file(), versions=("1.0",), api_version=(1, 4)), "1.0"),
            (a_page(sized, api_version=(1, 4)), "1.0"),
            (a_page(sized, versions=("1.0",), api_version=(1, 3)), "1.3"),
            (a_page(sized, versions=("1.0",), api_version=(1, 9)), "1.4"),
        ]
        for page, version in cases:
            self.assertEqual(as_json(page)["meta"]["api-version"], version)
            self.assertIn(f'content="{version}"', as_html(page))


class ProjectListTests(SynchronousTestCase):
    """
    Tests for :func:`render_list_html` and :func:`render_list_json`.
    """

    LIST = ProjectList(
        names=("Django", "zope.interface", "A_B"),
        api_version=(1, 7),
        meta_extra={"_last-serial": 5},
    )

    def test_html(self) -> None:
        """
        One anchor per project, text the display name, href the (escaped)
        page of the normalized name.
        """
        html = render_list_html(self.LIST, lambda name: f"/simple/{name}/?a&b").decode()
        self.assertTrue(html.startswith("<!DOCTYPE html>"))
        self.assertIn('<meta name="pypi:repository-version" content="1.4">', html)
        self.assertIn('href="/simple/django/?a&amp;b"', html)
        self.assertEqual(
            [(attrs["href"], text) for attrs, text in anchors(html)],
            [
                ("/simple/django/?a&b", "Django"),
                ("/simple/zope-interface/?a&b", "zope.interface"),
                ("/simple/a-b/?a&b", "A_B"),
            ],
        )

    def test_json(self) -> None:
        """
        The JSON list has ``meta`` and ``projects`` entries of display names.
        """
        result = json.loads(render_list_json(self.LIST, lambda name: name))
        self.assertEqual(
            result,
            {
                "meta": {"api-version": "1.4", "_last-serial": 5},
                "projects": [
                    {"name": "Django"},
                    {"name": "zope.interface"},
                    {"name": "A_B"},
                ],
            },
        )

    def test_round_trips(self) -> None:
        """
        Both renderings parse back to the same names.
        """
        lst = ProjectList(names=("Django", "zope.interface"), api_version=(1, 1))
        for body in [
            render_list_html(lst, lambda name: f"{name}/"),
            render_list_json(lst, lambda name: f"{name}/"),
        ]:
            self.assertEqual(parse_project_list(body, None), lst)


class RoundTripTests(SynchronousTestCase):
    """
    A page read in one format and served in the other says the same.
    """

    def test_html_json_html(self) -> None:
        """
        A page parsed from HTML, rendered as JSON and parsed again is the
        same model.
        """
        page = parse_project_page(NEXUS_HTML, "text/html", PAGE_URL, "sampleproject")
        body = render_project_json(page, upstream_link)
        self.assertEqual(
            parse_project_page(body, JSON_TYPE, PAGE_URL, "sampleproject"), page
        )

    def test_html_version_downgraded(self) -> None:
        """
        An HTML page declaring 1.1 comes back from JSON as 1.0, since sizes
        are unknown; nothing else changes.
        """
        body = NEXUS_HTML.replace(b'content="1.0"', b'content="1.1"')
        page = parse_project_page(body, "text/html", PAGE_URL, "sampleproject")
        again = parse_project_page(
            render_project_json(page, upstream_link), None, PAGE_URL, "sampleproject"
        )
        self.assertEqual(again, evolve(page, api_version=(1, 0)))

    def test_json_html_json(self) -> None:
        """
        A PyPI JSON page rendered as HTML and parsed again lists the same
        files with the same hashes, yanks, requirements and metadata hashes.
        """
        page = parse_project_page(
            json.dumps(PYPI_JSON).encode(), JSON_TYPE, PAGE_URL, "sampleproject"
        )
        body = render_project_html(page, upstream_link)
        again = parse_project_page(body, "text/html", PAGE_URL, "sampleproject")
        self.assertEqual(
            [(f.filename, f.url, f.hashes) for f in again.files],
            [(f.filename, f.url, f.hashes) for f in page.files],
        )
        self.assertEqual(
            [(f.yanked, f.requires_python, f.provenance) for f in again.files],
            [(f.yanked, f.requires_python, f.provenance) for f in page.files],
        )
        self.assertEqual(again.files[0].core_metadata, {"sha256": SHA_META})
        self.assertEqual(
            (again.status, again.status_reason), (page.status, page.status_reason)
        )

    def test_json_json(self) -> None:
        """
        A PyPI JSON page survives being served as JSON unchanged, extras
        included.
        """
        page = parse_project_page(
            json.dumps(PYPI_JSON).encode(), JSON_TYPE, PAGE_URL, "sampleproject"
        )
        body = render_project_json(page, upstream_link)
        self.assertEqual(
            parse_project_page(body, None, PAGE_URL, "sampleproject"), page
        )
        self.assertEqual(json.loads(body)["meta"]["api-version"], "1.4")

    def test_same_files_both_formats(self) -> None:
        """
        The HTML and JSON renderings of one page list the same filenames with
        the same (chosen) hashes.
        """
        page = parse_project_page(
            json.dumps(PYPI_JSON).encode(), JSON_TYPE, PAGE_URL, "sampleproject"
        )
        from_html = parse_project_page(
            render_project_html(page, upstream_link), "text/html", PAGE_URL, "x"
        )
        from_json = parse_project_page(
            render_project_json(page, upstream_link), JSON_TYPE, PAGE_URL, "x"
        )
        self.assertEqual(
            [(f.filename, f.hashes) for f in from_html.files],
            [(f.filename, f.hashes) for f in from_json.files],
        )

    def test_rewritten_links(self) -> None:
        """
        Relative proxy links rendered in either format resolve, against the
        proxy's page URL, to proxy file URLs that map back to the upstream.
        """
        page = parse_project_page(
            json.dumps(PYPI_JSON).encode(), JSON_TYPE, PAGE_URL, "sampleproject"
        )
        proxy_page = "http://proxy.example:8080/simple/sampleproject/"

        def relative(f: DistFile) -> str:
            segments = local_segments("pypi", f.url)
            assert segments is not None
            return "../../" + local_path(segments)

        for body in [
            render_project_html(page, relative),
            render_project_json(page, relative),
        ]:
            served = parse_project_page(body, None, proxy_page, "sampleproject")
            for original, f in zip(page.files, served.files, strict=True):
                self.assertEqual(f.filename, original.filename)
                path = urlsplit(f.url).path.split("/")[1:]
                self.assertEqual(path[0], "files")
                self.assertEqual(
                    upstream_url([unquote(s) for s in path[1:]]), original.url
                )
                self.assertEqual(urljoin(proxy_page, relative(original)), f.url)
