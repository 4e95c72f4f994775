"""
Tests for the ``/simple/`` part of the proxy (:mod:`twisted_pypi.web.simple`),
through the real resource tree: a fake upstream index behind ``StubTreq``,
the proxy's tree behind another, and a ``Clock`` for time.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from twisted.internet.defer import maybeDeferred, succeed
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web import http
from twisted.web.test.requesthelper import DummyRequest

from tests.core.test_negotiate import PIP, POETRY, UV
from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import Answer, MemoryProxy, parse_raw
from tests.runnerguard import QueuedRunner
from tests.wheels import build_wheel
from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.lookup import CacheStatus, Lookup, PageEntry
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.rendition import RenditionFile
from twisted_pypi.core.runner import Runner
from twisted_pypi.storage.pagestore import PageStore
from twisted_pypi.web.simple import prepared, send_rendition_file, serve_page

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html; charset=utf-8"

YANKED_REASON = build_wheel("demo", "1.0")
YANKED_BARE = build_wheel("demo", "0.9")
NEEDS_PYTHON = build_wheel("demo", "2.0", requires_python=">=3.8,<4")
PLAIN = build_wheel("demo", "3.0")
FOO = build_wheel("Foo.Bar_baz", "1.0")

#: The base URL used when the proxy sits behind another server.
BASE = "https://pypi.example/mirror/"


def demo_files() -> list[FakeFile]:
    """
    The files of the ``demo`` project: yanked with and without a reason, one
    limited by ``requires-python``, and a plain one.
    """
    return [
        FakeFile(YANKED_REASON, yanked="broken build"),
        FakeFile(YANKED_BARE, yanked=True),
        FakeFile(NEEDS_PYTHON, requires_python=">=3.8,<4"),
        FakeFile(PLAIN),
    ]


def make_index(mode: str = "json") -> FakeIndex:
    """
    A fake upstream with the projects ``demo`` and ``foo-bar-baz``.
    """
    index = FakeIndex(mode=mode)
    index.add("demo", *demo_files())
    index.add("foo-bar-baz", FakeFile(FOO))
    return index


class Anchors(HTMLParser):
    """
    Collects the anchors of an HTML page: their attributes (entities
    decoded) and text.
    """

    def __init__(self, page: bytes) -> None:
        """
        :param page: The HTML to parse.
        """
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._open: tuple[dict[str, str | None], list[str]] | None = None
        self.feed(page.decode("utf-8"))
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """
        Start collecting an anchor.
        """
        if tag == "a":
            self._open = (dict(attrs), [])

    def handle_data(self, data: str) -> None:
        """
        Collect an anchor's text.
        """
        if self._open is not None:
            self._open[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        """
        Finish an anchor.
        """
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open[0], "".join(self._open[1])))
            self._open = None

    def by_text(self) -> dict[str, dict[str, str | None]]:
        """
        Each anchor's attributes, by its text.
        """
        return {text: attrs for attrs, text in self.anchors}


def json_files(answer: Answer) -> dict[str, dict[str, Any]]:
    """
    The file objects of a JSON project page, by filename.
    """
    data = json.loads(answer.body)
    return {f["filename"]: f for f in data["files"]}


def metadata_sha256(wheel_metadata: bytes) -> str:
    """
    The hex sha256 of a core metadata file.
    """
    return hashlib.sha256(wheel_metadata).hexdigest()


class ProxyTestCase(SynchronousTestCase):
    """
    Builds a :class:`MemoryProxy` over :func:`make_index`.
    """

    def setUp(self) -> None:
        self.index = make_index()
        self.proxy = self.make_proxy()

    def make_proxy(
        self,
        index: FakeIndex | None = None,
        base_url: str | None = None,
        ttl: float = 100.0,
    ) -> MemoryProxy:
        """
        A proxy with its own cache directory in front of ``index`` (by
        default ``self.index``).
        """
        return MemoryProxy(
            index if index is not None else self.index,
            FilePath(self.mktemp()),
            base_url=base_url,
            ttl=ttl,
        )


class RedirectTests(ProxyTestCase):
    """
    PEP 503 redirects to the normalized name and the trailing slash.
    """

    def test_normalizes_name(self) -> None:
        """
        A project page under a non-normalized name is a 301 to the normalized
        name, without asking the upstream.
        """
        answer = self.proxy.get("/simple/Foo.Bar_baz/")
        self.assertEqual(answer.code, 301)
        self.assertEqual(answer.header("location"), "/simple/foo-bar-baz/")
        self.assertEqual(self.index.requests, [])

    def test_missing_slash(self) -> None:
        """
        A project page without its trailing slash is a 301 to the page with
        it, also when the name is not normalized.
        """
        answer = self.proxy.get("/simple/demo")
        self.assertEqual(answer.code, 301)
        self.assertEqual(answer.header("location"), "/simple/demo/")
        answer = self.proxy.get("/simple/Foo_Bar.baz")
        self.assertEqual(answer.code, 301)
        self.assertEqual(answer.header("location"), "/simple/foo-bar-baz/")
        self.assertEqual(self.index.requests, [])

    def test_project_list_slash(self) -> None:
        """
        ``/simple`` is a 301 to ``/simple/``.
        """
        answer = self.proxy.get("/simple")
        self.assertEqual(answer.code, 301)
        self.assertEqual(answer.header("location"), "/simple/")

    def test_base_url(self) -> None:
        """
        Behind a reverse proxy, redirects point under the configured base
        URL.
        """
        proxy = self.make_proxy(base_url=BASE)
        answer = proxy.get("/simple/Foo.Bar_baz/")
        self.assertEqual(answer.code, 301)
        self.assertEqual(answer.header("location"), BASE + "simple/foo-bar-baz/")
        answer = proxy.get("/simple")
        self.assertEqual(answer.code, 301)
        self.assertEqual(answer.header("location"), BASE + "simple/")

    def test_normalized_page_served(self) -> None:
        """
        Following the redirect gives the page.
        """
        location = self.proxy.get("/simple/Foo.Bar_baz").header("location")
        assert location is not None
        answer = self.proxy.get(location)
        self.assertEqual(answer.code, 200)
        self.assertIn(FOO.filename.encode(), answer.body)


class ErrorTests(ProxyTestCase):
    """
    What clients get when there is no page to give.
    """

    def test_unknown_project(self) -> None:
        """
        A project the upstream does not have is a 404 (not a 5xx), after one
        upstream request.
        """
        answer = self.proxy.get("/simple/nothing-here/", headers={"Accept": PIP})
        self.assertEqual(answer.code, 404)
        self.assertEqual(self.index.count("/simple/nothing-here/"), 1)
        # The upstream's whole project list is never fetched to answer for
        # one project.
        self.assertEqual(self.index.requests, [("GET", "/simple/nothing-here/")])

    def test_invalid_name(self) -> None:
        """
        A name that cannot be a project, or a path below a project page, is a
        404 without asking the upstream.
        """
        for path in ("/simple/-bad-/", "/simple/demo/extra", "/simple/a%00b/"):
            self.assertEqual(self.proxy.get(path).code, 404, path)
        self.assertEqual(self.index.requests, [])

    def test_upstream_error(self) -> None:
        """
        An upstream 500 with nothing cached is a 502.
        """
        self.index.fail["/simple/demo/"] = 500
        answer = self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        self.assertEqual(answer.code, 502)

    def test_upstream_timeout(self) -> None:
        """
        An upstream that does not answer within the timeout, with nothing
        cached, is a 504 once the timeout passes, and not before.
        """
        self.index.hold_paths.add("/simple/demo/")
        d = self.proxy.request("/simple/demo/", headers={"Accept": PIP})
        self.proxy.flush()
        self.assertNoResult(d)
        self.proxy.clock.advance(self.proxy.config.connect_timeout - 0.5)
        self.proxy.flush()
        self.assertNoResult(d)
        self.proxy.clock.advance(0.5)
        self.proxy.flush()
        answer = self.proxy.answer(self.successResultOf(d))
        self.assertEqual(answer.code, 504)
        self.assertIn(b"no answer from http://upstream.test/simple/demo/", answer.body)

    def test_stale_on_error(self) -> None:
        """
        After the TTL, an upstream failure serves the cached page marked
        ``X-Cache: STALE`` with ``max-age=0``.
        """
        first = self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        self.proxy.clock.advance(101)
        self.index.fail["/simple/demo/"] = 500
        stale = self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        self.assertEqual(stale.code, 200)
        self.assertEqual(stale.header("x-cache"), "STALE")
        self.assertEqual(stale.header("cache-control"), "max-age=0, public")
        self.assertEqual(stale.body, first.body)
        self.assertEqual(self.index.count("/simple/demo/"), 2)

    def test_stale_when_slow(self) -> None:
        """
        After the TTL, an upstream that does not answer gets the cached page
        served STALE after the stale wait (well within pip's 15 s).
        """
        first = self.proxy.get("/simple/demo/", headers={"Accept": UV})
        self.proxy.clock.advance(101)
        self.index.hold_paths.add("/simple/demo/")
        d = self.proxy.request("/simple/demo/", headers={"Accept": UV})
        self.proxy.flush()
        self.assertNoResult(d)
        self.proxy.clock.advance(self.proxy.config.stale_wait)
        self.proxy.flush()
        stale = self.proxy.answer(self.successResultOf(d))
        self.assertEqual(stale.code, 200)
        self.assertEqual(stale.header("x-cache"), "STALE")
        self.assertEqual(stale.body, first.body)

    def test_not_acceptable(self) -> None:
        """
        ``Accept: application/xml`` is a 406 that says what is acceptable.
        """
        answer = self.proxy.get("/simple/demo/", headers={"Accept": "application/xml"})
        self.assertEqual(answer.code, 406)
        self.assertIn(JSON_TYPE.encode(), answer.body)

    def test_not_acceptable_asks_nothing(self) -> None:
        """
        A request refused with 406 costs no upstream request.
        """
        self.proxy.get("/simple/demo/", headers={"Accept": "application/xml"})
        self.assertEqual(self.index.requests, [])


class CacheTests(ProxyTestCase):
    """
    ``X-Cache``, ``Cache-Control``, ``ETag`` and conditional requests.
    """

    def test_miss_then_hit(self) -> None:
        """
        The first request is a MISS that asks the upstream, the next (within
        the TTL) a HIT that does not, with the same body.
        """
        first = self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        second = self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        self.assertEqual(
            (first.header("x-cache"), second.header("x-cache")), ("MISS", "HIT")
        )
        self.assertEqual(first.body, second.body)
        self.assertEqual(self.index.count("/simple/demo/"), 1)

    def test_project_list_miss_then_hit(self) -> None:
        """
        The project list is cached the same way.
        """
        first = self.proxy.get("/simple/", headers={"Accept": PIP})
        second = self.proxy.get("/simple/", headers={"Accept": PIP})
        self.assertEqual(
            (first.header("x-cache"), second.header("x-cache")), ("MISS", "HIT")
        )
        self.assertEqual(self.index.count("/simple/"), 1)

    def test_refreshes_after_ttl(self) -> None:
        """
        After the TTL the upstream is asked again.
        """
        self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        self.proxy.clock.advance(99)
        self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        self.assertEqual(self.index.count("/simple/demo/"), 1)
        self.proxy.clock.advance(2)
        answer = self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        self.assertEqual(answer.code, 200)
        self.assertEqual(self.index.count("/simple/demo/"), 2)

    def test_max_age(self) -> None:
        """
        ``Cache-Control`` allows clients the index TTL, at most 600 s.
        """
        answer = self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        self.assertEqual(answer.header("cache-control"), "max-age=100, public")
        long_lived = self.make_proxy(ttl=86400)
        answer = long_lived.get("/simple/demo/", headers={"Accept": PIP})
        self.assertEqual(answer.header("cache-control"), "max-age=600, public")

    def test_if_none_match(self) -> None:
        """
        A request with the page's ``ETag`` in ``If-None-Match`` is a 304
        without a body; another representation's ETag gets the page.
        """
        page = self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        etag = page.header("etag")
        assert etag is not None
        again = self.proxy.get(
            "/simple/demo/", headers={"Accept": PIP, "If-None-Match": etag}
        )
        self.assertEqual(again.code, 304)
        self.assertEqual(again.body, b"")
        self.assertEqual(again.header("etag"), etag)
        self.assertEqual(again.header("vary"), "Accept, Accept-Encoding")
        html = self.proxy.get(
            "/simple/demo/", headers={"Accept": "text/html", "If-None-Match": etag}
        )
        self.assertEqual(html.code, 200)
        self.assertNotEqual(html.header("etag"), etag)
        self.assertTrue(html.body)

    def test_etag_stable(self) -> None:
        """
        The ETag of an unchanged page is the same on every request.
        """
        first = self.proxy.get("/simple/demo/", headers={"Accept": UV})
        second = self.proxy.get("/simple/demo/", headers={"Accept": UV})
        self.assertIsNotNone(first.header("etag"))
        self.assertEqual(first.header("etag"), second.header("etag"))


class NegotiationTests(ProxyTestCase):
    """
    PEP 691 content negotiation as real clients ask for it.
    """

    def content_type(self, path: str, accept: str | None) -> str | None:
        """
        The ``Content-Type`` of a 200 answer to ``path`` with ``accept``.
        """
        headers = {} if accept is None else {"Accept": accept}
        answer = self.proxy.get(path, headers=headers)
        self.assertEqual(answer.code, 200, (path, accept))
        return answer.header("content-type")

    def test_installers_get_json(self) -> None:
        """
        pip's, uv's and poetry's exact Accept headers get the JSON media
        type, and a body that is JSON.
        """
        for accept in (PIP, UV, POETRY):
            answer = self.proxy.get("/simple/demo/", headers={"Accept": accept})
            self.assertEqual(answer.header("content-type"), JSON_TYPE, accept)
            self.assertEqual(json.loads(answer.body)["name"], "demo")

    def test_text_html(self) -> None:
        """
        ``Accept: text/html`` alone gets ``text/html`` and an HTML body.
        """
        answer = self.proxy.get("/simple/demo/", headers={"Accept": "text/html"})
        self.assertEqual(answer.header("content-type"), HTML_TYPE)
        self.assertTrue(answer.body.startswith(b"<!DOCTYPE html>"))

    def test_no_accept(self) -> None:
        """
        No ``Accept`` header gets HTML.
        """
        self.assertEqual(self.content_type("/simple/demo/", None), HTML_TYPE)
        self.assertEqual(self.content_type("/simple/", None), HTML_TYPE)

    def test_v1_html(self) -> None:
        """
        ``Accept: application/vnd.pypi.simple.v1+html`` gets that type.
        """
        self.assertEqual(
            self.content_type("/simple/demo/", "application/vnd.pypi.simple.v1+html"),
            "application/vnd.pypi.simple.v1+html; charset=utf-8",
        )

    def test_latest_json(self) -> None:
        """
        The ``latest`` alias is answered with the concrete v1 type.
        """
        latest = "application/vnd.pypi.simple.latest+json"
        self.assertEqual(self.content_type("/simple/demo/", latest), JSON_TYPE)

    def test_format_parameter(self) -> None:
        """
        ``?format=`` overrides ``Accept``, whether its ``+`` is
        percent-encoded or written as is (as in PyPI's own links).
        """
        for query in ("application/vnd.pypi.simple.v1%2Bjson",
                      "application/vnd.pypi.simple.v1+json"):  # fmt: skip
            self.assertEqual(
                self.content_type(f"/simple/demo/?format={query}", "text/html"),
                JSON_TYPE,
                query,
            )
        self.assertEqual(
            self.content_type("/simple/demo/?format=text/html", PIP), HTML_TYPE
        )
        answer = self.proxy.get("/simple/demo/?format=application/xml")
        self.assertEqual(answer.code, 406)

    def test_project_list_json(self) -> None:
        """
        The project list is negotiated too, and names every project.
        """
        answer = self.proxy.get("/simple/", headers={"Accept": UV})
        self.assertEqual(answer.header("content-type"), JSON_TYPE)
        names = {p["name"] for p in json.loads(answer.body)["projects"]}
        self.assertEqual(names, {"demo", "foo-bar-baz"})

    def test_project_list_links(self) -> None:
        """
        The HTML project list links each project's normalized page, relative
        to the list, or under the base URL.
        """
        answer = self.proxy.get("/simple/", headers={"Accept": "text/html"})
        origin = MemoryProxy.ORIGIN
        hrefs = {
            urljoin(origin + "/simple/", attrs["href"] or "")
            for attrs, _ in Anchors(answer.body).anchors
        }
        self.assertEqual(
            hrefs, {origin + "/simple/demo/", origin + "/simple/foo-bar-baz/"}
        )
        proxy = self.make_proxy(base_url=BASE)
        answer = proxy.get("/simple/", headers={"Accept": "text/html"})
        hrefs = {attrs["href"] or "" for attrs, _ in Anchors(answer.body).anchors}
        self.assertEqual(hrefs, {BASE + "simple/demo/", BASE + "simple/foo-bar-baz/"})

    def test_vary_everywhere(self) -> None:
        """
        Every page response says ``Vary: Accept, Accept-Encoding``: pages in
        both representations, the project list, 304, 404 and 406.
        """
        answers = [
            self.proxy.get("/simple/demo/", headers={"Accept": PIP}),
            self.proxy.get("/simple/demo/", headers={"Accept": "text/html"}),
            self.proxy.get("/simple/demo/", headers={"Accept-Encoding": "gzip"}),
            self.proxy.get("/simple/"),
            self.proxy.get("/simple/nothing-here/"),
            self.proxy.get("/simple/demo/", headers={"Accept": "application/xml"}),
        ]
        etag = answers[0].header("etag")
        assert etag is not None
        conditional = {"Accept": PIP, "If-None-Match": etag}
        answers.append(self.proxy.get("/simple/demo/", headers=conditional))
        self.assertEqual([a.code for a in answers], [200, 200, 200, 200, 404, 406, 304])
        for answer in answers:
            self.assertEqual(answer.headers.getRawHeaders("vary"),
                             ["Accept, Accept-Encoding"], answer.code)  # fmt: skip


class EncodingTests(ProxyTestCase):
    """
    gzip and ``HEAD``.
    """

    def test_gzip(self) -> None:
        """
        With ``Accept-Encoding: gzip`` the page is gzip-encoded, decompresses
        to the same bytes, has its own ETag and a matching length.
        """
        plain = self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        packed = self.proxy.get(
            "/simple/demo/", headers={"Accept": PIP, "Accept-Encoding": "gzip, deflate"}
        )
        self.assertIsNone(plain.header("content-encoding"))
        self.assertEqual(packed.header("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(packed.body), plain.body)
        self.assertEqual(packed.length, len(packed.body))
        self.assertNotEqual(packed.header("etag"), plain.header("etag"))

    def test_no_gzip(self) -> None:
        """
        Without gzip among the acceptable codings, the page is not encoded.
        """
        for coding in ("identity", "deflate", "gzip;q=0"):
            answer = self.proxy.get(
                "/simple/demo/", headers={"Accept": PIP, "Accept-Encoding": coding}
            )
            self.assertIsNone(answer.header("content-encoding"), coding)
            self.assertEqual(json.loads(answer.body)["name"], "demo")

    def test_head(self) -> None:
        """
        ``HEAD`` gives the headers a ``GET`` would, with no body.
        """
        page = self.proxy.get("/simple/demo/", headers={"Accept": PIP})
        transport = self.proxy.raw(
            b"HEAD /simple/demo/ HTTP/1.1\r\nHost: proxy.test\r\n"
            b"Accept: " + PIP.encode() + b"\r\n\r\n"
        )
        status, headers, body = parse_raw(transport.value())
        self.assertEqual(status, 200)
        self.assertEqual(headers[b"content-length"], str(len(page.body)).encode())
        self.assertEqual(headers[b"content-type"], JSON_TYPE.encode())
        self.assertEqual(headers[b"etag"].decode(), page.header("etag"))
        self.assertEqual(body, b"")


class ContentTests(ProxyTestCase):
    """
    What the pages say, in both representations, from JSON and HTML
    upstreams.
    """

    MODES = ("json", "html", "html-no-type")

    def pages(self, proxy: MemoryProxy) -> tuple[Answer, Answer]:
        """
        The JSON and the HTML page of ``demo``.
        """
        as_json = proxy.get("/simple/demo/", headers={"Accept": UV})
        as_html = proxy.get("/simple/demo/", headers={"Accept": "text/html"})
        self.assertEqual(as_json.header("content-type"), JSON_TYPE)
        self.assertEqual(as_html.header("content-type"), HTML_TYPE)
        return as_json, as_html

    def test_same_files_and_hashes(self) -> None:
        """
        HTML and JSON list the same filenames with the same sha256, the
        upstream's; each anchor's text is the last segment of its href.
        """
        expected = {f.wheel.filename: f.sha256 for f in demo_files()}
        for mode in self.MODES:
            proxy = self.make_proxy(make_index(mode))
            as_json, as_html = self.pages(proxy)
            from_json = {
                name: f["hashes"]["sha256"] for name, f in json_files(as_json).items()
            }
            from_html = {}
            for attrs, text in Anchors(as_html.body).anchors:
                href = attrs["href"] or ""
                url, _, fragment = href.partition("#")
                self.assertEqual(url.rsplit("/", 1)[-1], text, mode)
                self.assertTrue(fragment.startswith("sha256="), mode)
                from_html[text] = fragment[len("sha256=") :]
            self.assertEqual(from_json, expected, mode)
            self.assertEqual(from_html, expected, mode)

    def assert_resolve_to_files(
        self, proxy: MemoryProxy, page_url: str, prefix: str, urls: list[str]
    ) -> None:
        """
        Each URL, resolved against the page URL, lies under ``prefix`` +
        ``files/``, and the proxy serves the right file at it.
        """
        by_name = {f.wheel.filename: f.wheel for f in demo_files()}
        self.assertEqual(len(urls), len(by_name))
        for url in urls:
            absolute = urljoin(page_url, url)
            self.assertTrue(absolute.startswith(prefix + "files/"), absolute)
            path = "/" + urlsplit(absolute).path[len(urlsplit(prefix).path) :]
            answer = proxy.get(path)
            self.assertEqual(answer.code, 200, absolute)
            wheel = by_name[path.rsplit("/", 1)[-1]]
            self.assertEqual(answer.body, wheel.content)

    def test_links_resolve_relative(self) -> None:
        """
        Without a base URL, every file URL of both representations resolves
        from the page URL to a file the proxy serves.
        """
        as_json, as_html = self.pages(self.proxy)
        origin = MemoryProxy.ORIGIN
        page_url = origin + "/simple/demo/"
        self.assert_resolve_to_files(
            self.proxy, page_url, origin + "/",
            [f["url"] for f in json_files(as_json).values()],
        )  # fmt: skip
        self.assert_resolve_to_files(
            self.proxy, page_url, origin + "/",
            [a["href"] or "" for a, _ in Anchors(as_html.body).anchors],
        )  # fmt: skip

    def test_links_resolve_base_url(self) -> None:
        """
        With a base URL, every file URL is absolute under it, and maps to a
        file the proxy serves once the reverse proxy strips the base path.
        """
        proxy = self.make_proxy(base_url=BASE)
        as_json, as_html = self.pages(proxy)
        page_url = BASE + "simple/demo/"
        self.assert_resolve_to_files(
            proxy, page_url, BASE, [f["url"] for f in json_files(as_json).values()]
        )
        self.assert_resolve_to_files(
            proxy, page_url, BASE,
            [a["href"] or "" for a, _ in Anchors(as_html.body).anchors],
        )  # fmt: skip

    def test_json_fields(self) -> None:
        """
        JSON keeps ``requires-python``, ``yanked`` (reason or ``true``) and
        ``core-metadata``; ``data-dist-info-metadata``, when present, equals
        it; ``dist-info-metadata`` never appears.
        """
        for mode in self.MODES:
            proxy = self.make_proxy(make_index(mode))
            files = json_files(self.pages(proxy)[0])
            self.assertEqual(files[YANKED_REASON.filename]["yanked"], "broken build")
            self.assertIs(files[YANKED_BARE.filename]["yanked"], True)
            self.assertFalse(files[PLAIN.filename].get("yanked", False))
            self.assertEqual(
                files[NEEDS_PYTHON.filename]["requires-python"], ">=3.8,<4"
            )
            self.assertNotIn("requires-python", files[PLAIN.filename])
            for wheel in (YANKED_REASON, YANKED_BARE, NEEDS_PYTHON, PLAIN):
                entry = files[wheel.filename]
                expected = {"sha256": metadata_sha256(wheel.metadata)}
                self.assertEqual(entry["core-metadata"], expected, mode)
                self.assertEqual(
                    entry.get("data-dist-info-metadata", expected), expected, mode
                )
                self.assertNotIn("dist-info-metadata", entry)

    def test_html_attributes(self) -> None:
        """
        HTML keeps ``data-requires-python`` (escaped in the markup),
        ``data-yanked`` (the reason, or empty), and carries both
        ``data-core-metadata`` and an equal ``data-dist-info-metadata``.
        """
        for mode in self.MODES:
            proxy = self.make_proxy(make_index(mode))
            as_html = self.pages(proxy)[1]
            anchors = Anchors(as_html.body).by_text()
            self.assertIn(b'data-requires-python="&gt;=3.8,&lt;4"', as_html.body)
            self.assertEqual(
                anchors[NEEDS_PYTHON.filename]["data-requires-python"], ">=3.8,<4"
            )
            self.assertEqual(
                anchors[YANKED_REASON.filename]["data-yanked"], "broken build"
            )
            self.assertIn(anchors[YANKED_BARE.filename]["data-yanked"], ("", None))
            self.assertIn("data-yanked", anchors[YANKED_BARE.filename])
            self.assertNotIn("data-yanked", anchors[PLAIN.filename])
            for wheel in (YANKED_REASON, YANKED_BARE, NEEDS_PYTHON, PLAIN):
                attrs = anchors[wheel.filename]
                expected = "sha256=" + metadata_sha256(wheel.metadata)
                self.assertEqual(attrs["data-core-metadata"], expected, mode)
                self.assertEqual(attrs["data-dist-info-metadata"], expected, mode)


def demo_entry() -> PageEntry:
    """
    A page entry of ``demo`` with one file, nothing rendered yet.
    """
    dist = DistFile(
        filename="demo-1.0-py3-none-any.whl",
        url="https://files.example/demo-1.0-py3-none-any.whl",
        hashes={"sha256": "ab" * 32},
    )
    return PageEntry(
        index=IndexConfig("up", "https://up.example/simple/", ttl=60),
        page=ProjectPage(name="demo", files=(dist,)),
        fetched_at=0.0,
        upstream_etag=None,
        file_link=lambda d: "/files/" + d.filename,
        project_link=lambda name: f"/simple/{name}/",
    )


class RunnerTests(SynchronousTestCase):
    """
    Rendering and compressing a page happen in the injected runner, never on
    the reactor.
    """

    def serve(self, entry: PageEntry, run: Runner, gzip_ok: bool) -> DummyRequest:
        """
        Serve ``entry`` as JSON to a request accepting gzip or not.
        """
        request = DummyRequest([b""])
        request.requestHeaders.setRawHeaders(b"accept", [JSON_TYPE.encode()])
        if gzip_ok:
            request.requestHeaders.setRawHeaders(b"accept-encoding", [b"gzip"])
        serve_page(
            request,  # type: ignore[arg-type]  # DummyRequest stands in
            lambda: succeed(Lookup(entry, CacheStatus.HIT)),
            run,
        )
        return request

    def test_rendered_and_gzipped_in_runner(self) -> None:
        """
        A page not yet rendered is rendered and gzipped by the runner: until
        the runner runs, nothing is rendered and nothing is sent; then the
        gzipped JSON is sent.
        """
        entry, run = demo_entry(), QueuedRunner()
        request = self.serve(entry, run, gzip_ok=True)
        self.assertEqual(len(run.queued), 1)
        self.assertIsNone(entry.made(True, False))
        self.assertEqual(request.finished, 0)
        run.run_all()
        self.assertEqual(request.finished, 1)
        body = json.loads(gzip.decompress(b"".join(request.written)))
        self.assertEqual(body["name"], "demo")

    def test_ready_sent_at_once(self) -> None:
        """
        A representation already made (and compressed) is sent without the
        runner.
        """
        entry, run = demo_entry(), QueuedRunner()
        self.serve(entry, run, gzip_ok=True)
        run.run_all()
        made = self.successResultOf(prepared(entry, True, True, run))
        self.assertEqual(run.queued, [])
        self.assertIs(made, entry.made(True, True))

    def test_gzip_made_in_runner(self) -> None:
        """
        A representation rendered but not compressed yet is compressed by
        the runner when a client accepting gzip asks for it.
        """
        entry, run = demo_entry(), QueuedRunner()
        self.serve(entry, run, gzip_ok=False)
        run.run_all()
        request = self.serve(entry, run, gzip_ok=True)
        self.assertEqual((len(run.queued), request.finished), (1, 0))
        run.run_all()
        self.assertEqual(request.finished, 1)
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"content-encoding"), [b"gzip"]
        )


class OnDiskTests(SynchronousTestCase):
    """
    A page kept rendered on disk (too big for memory) is sent from its file
    by a producer, the file opened by the runner; it is never rendered.
    """

    def setUp(self) -> None:
        root = FilePath(self.mktemp())
        store = PageStore.on_disk(root)
        self.made = demo_entry()
        self.files: dict[bool, RenditionFile] = {}
        for as_json, form in ((True, "json"), (False, "html")):
            rendition = self.made.rendition(as_json)
            digest = rendition.etag.strip('"')
            self.files[as_json] = RenditionFile(
                rendition.etag,
                store.save_rendition("up", "demo", digest, form, rendition.body),
                store.save_rendition(
                    "up", "demo", digest, form + ".gz", rendition.gzipped
                ),
            )
        self.producers: list[tuple[object, bool]] = []
        self.etags: list[bytes] = []
        self.client_etag: bytes | None = None
        self.entry = PageEntry(
            index=self.made.index,
            page=None,
            fetched_at=0.0,
            upstream_etag=None,
            file_link=lambda d: "/files/" + d.filename,
            project_link=lambda name: f"/simple/{name}/",
            on_disk=self.files,
        )

    def serve(self, run: Runner, gzip_ok: bool) -> DummyRequest:
        """
        Serve the entry as JSON to a request accepting gzip or not; the
        producers it registers are kept in ``self.producers`` (and run to
        the end by the ``DummyRequest``).
        """
        request = DummyRequest([b""])
        real = request.registerProducer

        def register(producer: object, streaming: bool) -> None:
            self.producers.append((producer, streaming))
            real(producer, streaming)

        request.registerProducer = register  # type: ignore[method-assign]
        request.setETag = self.set_etag  # type: ignore[method-assign]
        request.requestHeaders.setRawHeaders(b"accept", [JSON_TYPE.encode()])
        if gzip_ok:
            request.requestHeaders.setRawHeaders(b"accept-encoding", [b"gzip"])
        serve_page(
            request,  # type: ignore[arg-type]  # DummyRequest stands in
            lambda: succeed(Lookup(self.entry, CacheStatus.HIT)),
            run,
        )
        return request

    def set_etag(self, etag: bytes) -> object:
        """
        Note the ETag sent (``DummyRequest`` ignores it); the one in
        ``self.client_etag`` is "not modified".
        """
        self.etags.append(etag)
        return http.CACHED if etag == self.client_etag else None

    def pump(self, request: DummyRequest) -> None:
        """Check one pull producer sent the body and finished the request."""
        self.assertEqual(len(self.producers), 1)
        self.assertFalse(self.producers[0][1])
        self.assertEqual(request.finished, 1)

    def test_streamed_from_file(self) -> None:
        """
        The body is the rendered page, written by a producer over the file
        the runner opened; the page is not rendered again.
        """
        run = QueuedRunner()
        request = self.serve(run, gzip_ok=False)
        self.assertEqual((len(run.queued), request.finished), (1, 0))
        run.run_all()
        self.pump(request)
        made = self.made.rendition(True)
        self.assertEqual(b"".join(request.written), made.body)
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"content-length"),
            [str(len(made.body)).encode()],
        )
        self.assertEqual(self.etags, [made.etag.encode()])

    def test_gzipped_file(self) -> None:
        """
        A client accepting gzip gets the gzipped file, under its own ETag.
        """
        run = QueuedRunner()
        request = self.serve(run, gzip_ok=True)
        run.run_all()
        self.pump(request)
        made = self.made.rendition(True)
        self.assertEqual(gzip.decompress(b"".join(request.written)), made.body)
        self.assertEqual(self.etags, [made.gzip_etag.encode()])

    def test_not_modified(self) -> None:
        """
        A matching ``If-None-Match`` is answered 304 without opening the file.
        """
        run = QueuedRunner()
        self.client_etag = self.files[True].etag.encode()
        request = DummyRequest([b""])
        request.setETag = self.set_etag  # type: ignore[method-assign]
        send_rendition_file(
            request,  # type: ignore[arg-type]  # DummyRequest stands in
            self.files[True],
            CacheStatus.HIT,
            self.entry,
            run,
        )
        self.assertEqual((run.queued, request.finished), ([], 1))

    def test_missing_file(self) -> None:
        """
        A file that went away is answered 503, not with a broken body.
        """
        FilePath(self.files[True].path).remove()
        run = QueuedRunner()
        request = self.serve(run, gzip_ok=False)
        work, done = run.queued.pop()
        maybeDeferred(work).chainDeferred(done)
        self.assertEqual((request.responseCode, request.finished), (503, 1))
        self.flushLoggedErrors()
