"""
Tests for :mod:`twisted_pypi.web.files` with files whatever their names:
legacy archives and versions packaging refuses, another project's file, and
links carrying credentials; through the real resource tree in memory
(:class:`tests.fakes.MemoryProxy` in front of a :class:`FakeIndex`).
"""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

from twisted.logger import capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy
from tests.simplepages import LEGACY_FILENAMES
from tests.wheels import BuiltWheel, build_wheel

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
HTML = {"Accept": "text/html"}

#: A file of another project, listed only on ``demo``'s page.
FOREIGN = build_wheel("other", "1.0")

#: What the upstream wants for the credentialed link, and its secret.
SECRET = "s3cr%40t"
CREDENTIALED = BuiltWheel("locked-1.0.tar.bz2", b"locked bytes", b"")


def legacy(filename: str) -> BuiltWheel:
    """
    :param filename: A file name.
    :return: A file of that name with some distinct bytes.
    """
    return BuiltWheel(filename, f"bytes of {filename}".encode(), b"Name: x\n")


class _Links(HTMLParser):
    """The ``href`` of every anchor of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """:param tag: A tag.  :param attrs: Its attributes."""
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


class ListedFilesTests(SynchronousTestCase):
    """
    Every file a page lists is linked, and its link is served.
    """

    def proxy(self, mode: str) -> tuple[FakeIndex, MemoryProxy]:
        """
        :param mode: The upstream's page format.
        :return: An upstream whose ``demo`` lists every legacy filename and
            another project's wheel, and a proxy in front of it.
        """
        index = FakeIndex(mode=mode)
        files = [FakeFile(legacy(n)) for n in LEGACY_FILENAMES]
        index.add("demo", *files, FakeFile(FOREIGN))
        return index, MemoryProxy(index, FilePath(self.mktemp()))

    def links(self, proxy: MemoryProxy, as_json: bool) -> dict[str, str]:
        """
        :return: The proxy path of each file ``demo``'s page links, by name.
        """
        page_url = proxy.ORIGIN + "/simple/demo/"
        answer = proxy.get("/simple/demo/", headers=JSON if as_json else HTML)
        self.assertEqual(answer.code, 200)
        if as_json:
            hrefs = [f["url"] for f in json.loads(answer.body)["files"]]
        else:
            parser = _Links()
            parser.feed(answer.body.decode())
            hrefs = parser.hrefs
        paths = [urlsplit(urljoin(page_url, href)).path for href in hrefs]
        return {unquote(path.rpartition("/")[2]): path for path in paths}

    def check(self, mode: str, as_json: bool) -> None:
        """
        Each file ``demo``'s page lists is linked and served with its bytes,
        downloaded once.
        """
        index, proxy = self.proxy(mode)
        links = self.links(proxy, as_json)
        expected = [*LEGACY_FILENAMES, FOREIGN.filename]
        self.assertEqual(sorted(links), sorted(expected))
        for name in expected:
            content = (
                FOREIGN.content if name == FOREIGN.filename else legacy(name).content
            )
            for cache in ("MISS", "HIT"):
                answer = proxy.get(links[name])
                self.assertEqual(
                    (answer.code, answer.header("x-cache"), answer.body),
                    (200, cache, content),
                    name,
                )
            self.assertEqual(index.count(f"/packages/{name}"), 1, name)

    def test_json_upstream(self) -> None:
        """
        Legacy and foreign filenames a JSON upstream lists are linked on both
        formats of the proxy's page and served.
        """
        self.check("json", as_json=True)
        self.check("json", as_json=False)

    def test_html_upstream(self) -> None:
        """
        Legacy and foreign filenames an HTML upstream lists are linked on both
        formats of the proxy's page and served.
        """
        self.check("html", as_json=True)
        self.check("html", as_json=False)

    def test_foreign_link_names_the_page(self) -> None:
        """
        A file whose name is another project's is linked with ``~demo`` (the
        page listing it); without it, its name's project is asked, which does
        not list it: 404, nothing fetched.
        """
        index, proxy = self.proxy("json")
        path = self.links(proxy, as_json=True)[FOREIGN.filename]
        self.assertIn(f"/{proxy.index_name}/~demo/", path)
        self.assertEqual(proxy.get(proxy.file_path(FOREIGN.filename)).code, 404)
        self.assertEqual(index.count(f"/packages/{FOREIGN.filename}"), 0)
        self.assertEqual(proxy.get(path.replace("~demo", "~other")).code, 404)
        self.assertEqual(proxy.get(path).code, 200)

    def test_metadata_of_foreign_link(self) -> None:
        """
        The ``.metadata`` of a foreign-named file is served at its link plus
        ``.metadata``, from the page listing it.
        """
        _, proxy = self.proxy("json")
        path = self.links(proxy, as_json=True)[FOREIGN.filename]
        answer = proxy.get(path + ".metadata")
        self.assertEqual((answer.code, answer.body), (200, FOREIGN.metadata))


class CredentialTests(SynchronousTestCase):
    """
    A link with credentials works, and the credentials are never shown.
    """

    def setUp(self) -> None:
        self.index = FakeIndex(
            require_auth="Basic " + base64.b64encode(b"user:s3cr@t").decode()
        )
        self.index.add(
            "locked",
            FakeFile(
                CREDENTIALED,
                url=f"http://user:{SECRET}@upstream.test/packages/locked-1.0.tar.bz2",
            ),
        )
        self.index.require_auth = None  # pages are public, the file is not
        self.proxy = MemoryProxy(self.index, FilePath(self.mktemp()))

    def path(self) -> str:
        """The proxy's link to the file, which carries no credentials."""
        answer = self.proxy.get("/simple/locked/", headers=JSON)
        (entry,) = json.loads(answer.body)["files"]
        self.assertNotIn("s3cr", answer.body.decode())
        self.assertNotIn("user", entry["url"])
        return str(
            urlsplit(urljoin(self.proxy.ORIGIN + "/simple/locked/", entry["url"])).path
        )

    def test_served(self) -> None:
        """
        The file is fetched without credentials in its URL, with them as
        basic auth, and served.
        """
        path = self.path()
        self.index.require_auth = "Basic " + base64.b64encode(b"user:s3cr@t").decode()
        answer = self.proxy.get(path)
        self.assertEqual((answer.code, answer.body), (200, CREDENTIALED.content))
        self.assertEqual(
            self.index.authorizations[-1],
            ("/packages/locked-1.0.tar.bz2", self.index.require_auth),
        )

    def test_failure_hides_them(self) -> None:
        """
        When the upstream refuses the file, neither the error page, the
        status page nor the log shows the credentials.
        """
        path = self.path()
        self.index.fail["/packages/locked-1.0.tar.bz2"] = 500
        with capturedLogs() as events:
            answer = self.proxy.get(path)
            status = self.proxy.get("/")
        self.assertEqual(answer.code, 502)
        logged = repr([dict(e) for e in events])
        self.assertIn("upstream.test/packages/locked-1.0.tar.bz2", logged)
        shown = (
            answer.body.decode()
            + status.body.decode()
            + repr([dict(e) for e in events])
        )
        self.assertNotIn("s3cr", shown)

    def test_in_flight_status_hides_them(self) -> None:
        """
        The status page lists a download in flight without the credentials.
        """
        path = self.path()
        self.index.hold_files = True
        self.proxy.request(path)
        self.proxy.flush()
        status = self.proxy.get("/").body.decode()
        self.assertIn("locked-1.0.tar.bz2", status)
        self.assertNotIn("s3cr", status)
