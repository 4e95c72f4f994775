"""
Tests for the JSON API passthrough (:mod:`twisted_pypi.web.jsonapi`,
:mod:`twisted_pypi.pypijson.cache`): ``/pypi/<project>/json`` and
``/pypi/<project>/<version>/json`` with file URLs rewritten to the proxy.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from typing import Any
from urllib.parse import urljoin, urlsplit

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.apifakes import ApiProxy, JsonFakeIndex
from tests.fakeindex import FakeFile
from tests.fakes import Answer, MemoryProxy
from tests.wheels import BuiltWheel, build_wheel
from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.dummyspec import parse_dummy_spec
from twisted_pypi.pypijson import cache as jsoncache

#: What poetry sends for the JSON API.
POETRY_ACCEPT = {"Accept": "application/json"}


class _Proxy(SynchronousTestCase):
    """
    A proxy with the JSON API in front of a fake index with two versions of
    ``demo`` (``1.1`` requires ``dep``).
    """

    def setUp(self) -> None:
        self.index = JsonFakeIndex()
        self.old = FakeFile(build_wheel("demo", "1.0"))
        self.new = FakeFile(
            build_wheel("demo", "1.1", requires=["dep>=2"], requires_python=">=3.9"),
            requires_python=">=3.9",
        )
        self.index.add("demo", self.old, self.new)
        self.index.add("dep", FakeFile(build_wheel("dep", "2.0")))

    def proxy(self, **kwargs: Any) -> ApiProxy:
        """
        A proxy with its own cache directory.
        """
        cache = FilePath(self.mktemp())
        cache.makedirs()
        return ApiProxy(self.index, kwargs.pop("cache", cache), **kwargs)

    def document(self, answer: Answer) -> dict[str, Any]:
        """
        The JSON body of a 200 answer.
        """
        self.assertEqual(answer.code, 200, answer.body)
        self.assertEqual(answer.header("content-type"), "application/json")
        data = json.loads(answer.body)
        assert isinstance(data, dict)
        return data


class PassthroughTests(_Proxy):
    """
    Documents come from the upstream with their file URLs pointing at the
    proxy.
    """

    def test_project_document(self) -> None:
        """
        ``/pypi/demo/json`` is the upstream's document with every file URL
        (in ``urls`` and ``releases``) relative to the document, pointing at
        the file's ``/files/`` path; everything else is unchanged.
        """
        proxy = self.proxy()
        answer = proxy.get("/pypi/demo/json", headers=POETRY_ACCEPT)
        data = self.document(answer)
        upstream = self.index.document("demo", None)
        self.assertEqual(answer.header("x-cache"), "MISS")
        self.assertEqual(answer.header("x-pypi-last-serial"), "7")
        self.assertEqual(data["info"], upstream["info"])
        self.assertEqual(sorted(data["releases"]), ["1.0", "1.1"])
        for version, files in data["releases"].items():
            wanted = upstream["releases"][version]
            self.assertEqual(len(files), len(wanted))
            for got, sent in zip(files, wanted, strict=True):
                path = proxy.file_path(sent["filename"])
                self.assertEqual(got["url"], "../.." + path)
                self.assertEqual({**got, "url": sent["url"]}, sent)
        self.assertEqual(
            [f["filename"] for f in data["urls"]], [self.new.wheel.filename]
        )
        self.assertEqual(self.index.count("/pypi/demo/json"), 1)

    def test_version_document(self) -> None:
        """
        ``/pypi/demo/1.0/json`` is that version's document: its ``urls`` are
        relative to the deeper document, and there is no ``releases``.
        """
        proxy = self.proxy()
        data = self.document(proxy.get("/pypi/demo/1.0/json"))
        self.assertEqual(data["info"]["version"], "1.0")
        self.assertNotIn("releases", data)
        self.assertEqual(
            [f["url"] for f in data["urls"]],
            ["../../.." + proxy.file_path(self.old.wheel.filename)],
        )

    def test_trailing_slash_and_names(self) -> None:
        """
        A trailing slash and an unnormalized project name are accepted; the
        relative URLs account for the slash.
        """
        proxy = self.proxy()
        data = self.document(proxy.get("/pypi/Demo/1.0/json/"))
        self.assertTrue(data["urls"][0]["url"].startswith("../../../../files/"))
        self.assertEqual(self.index.count("/pypi/demo/1.0/json"), 1)

    def test_base_url(self) -> None:
        """
        Under ``--base-url`` the file URLs are absolute.
        """
        proxy = self.proxy(base_url="https://proxy.example/mirror/")
        data = self.document(proxy.get("/pypi/demo/1.0/json"))
        self.assertEqual(
            data["urls"][0]["url"],
            "https://proxy.example/mirror" + proxy.file_path(self.old.wheel.filename),
        )

    def test_unknown_and_unsafe_files_dropped(self) -> None:
        """
        Files the project's simple page does not list, URLs that cannot be
        mapped safely and entries that are not file objects are dropped.
        """
        self.index.extra_files = [
            {
                "filename": "demo-9.0.tar.gz",
                "url": "http://upstream.test/packages/demo-9.0.tar.gz",
            },
            {
                "filename": "demo-1.0.tar.gz",
                "url": "ftp://upstream.test/demo-1.0.tar.gz",
            },
            {
                "filename": "x",
                "url": "http://upstream.test/packages/..%2F..%2Fetc/passwd",
            },
            {
                "filename": "demo-1.0.tar.gz",
                "url": "http://upstream.test/.hidden/demo-1.0.tar.gz",
            },
            {"filename": "no-url"},
            "not an object",
        ]
        proxy = self.proxy()
        data = self.document(proxy.get("/pypi/demo/json"))
        self.assertEqual(
            [f["filename"] for f in data["urls"]], [self.new.wheel.filename]
        )
        self.assertEqual([len(files) for files in data["releases"].values()], [1, 1])

    def test_foreign_and_legacy_files_linked(self) -> None:
        """
        A file whose name is another project's, or that packaging cannot
        parse, is linked as the simple page links it (naming ``demo``), and
        the link serves it.
        """
        foreign = FakeFile(build_wheel("other", "1.0"))
        legacy = FakeFile(BuiltWheel("demo-1.0.tar.bz2", b"old bytes", b""))
        self.index.add("demo", foreign, legacy)
        proxy = self.proxy()
        data = self.document(proxy.get("/pypi/demo/json"))
        urls = {
            f["filename"]: f["url"]
            for files in data["releases"].values()
            for f in files
        }
        for dist in (foreign, legacy):
            url = urljoin(proxy.ORIGIN + "/pypi/demo/json", urls[dist.wheel.filename])
            self.assertIn("/~demo/", url)
            answer = proxy.get(urlsplit(url).path)
            self.assertEqual((answer.code, answer.body), (200, dist.wheel.content))

    def test_gzip_and_conditional(self) -> None:
        """
        A client that accepts gzip gets the document gzipped; a repeated
        request with the ETag gets a 304.
        """
        proxy = self.proxy()
        plain = proxy.get("/pypi/demo/json")
        zipped = proxy.get("/pypi/demo/json", headers={"Accept-Encoding": "gzip"})
        self.assertEqual(zipped.header("content-encoding"), "gzip")
        self.assertEqual(gzip.decompress(zipped.body), plain.body)
        etag = plain.header("etag")
        assert etag is not None
        again = proxy.get("/pypi/demo/json", headers={"If-None-Match": etag})
        self.assertEqual(again.code, 304)


class ClientUsageTests(_Proxy):
    """
    What poetry (and tools like it) do with the JSON API works through the
    proxy.  pip, uv and pdm never ask for it (they use ``/simple/``).
    """

    def test_poetry(self) -> None:
        """
        Poetry lists the versions from ``releases`` of the project document,
        reads ``info.requires_dist`` of each version's document, and
        downloads the files its ``urls`` give: each URL, resolved against the
        document's, is a ``/files/`` URL the proxy serves, with the bytes the
        digests promise.
        """
        proxy = self.proxy()
        project = self.document(proxy.get("/pypi/demo/json", headers=POETRY_ACCEPT))
        requires = {}
        for version in sorted(project["releases"]):
            url = f"{MemoryProxy.ORIGIN}/pypi/demo/{version}/json"
            data = self.document(proxy.get(urlsplit(url).path, headers=POETRY_ACCEPT))
            requires[version] = data["info"]["requires_dist"]
            for file in data["urls"]:
                target = urlsplit(urljoin(url, file["url"]))
                self.assertEqual(target.netloc, urlsplit(MemoryProxy.ORIGIN).netloc)
                self.assertTrue(target.path.startswith("/files/"))
                answer = proxy.get(target.path)
                self.assertEqual(answer.code, 200)
                self.assertEqual(
                    hashlib.sha256(answer.body).hexdigest(), file["digests"]["sha256"]
                )
                self.assertEqual(len(answer.body), file["size"])
        self.assertEqual(requires, {"1.0": None, "1.1": ["dep>=2"]})

    def test_pip_headers(self) -> None:
        """
        A request with pip's and requests' usual headers (gzip accepted, any
        type) gets the JSON document.
        """
        proxy = self.proxy()
        answer = proxy.get(
            "/pypi/dep/json",
            headers={"Accept": "*/*", "Accept-Encoding": "gzip, deflate"},
        )
        self.assertEqual(answer.code, 200)
        data = json.loads(gzip.decompress(answer.body))
        self.assertEqual(data["info"]["name"], "dep")


class CachingTests(_Proxy):
    """
    Documents are cached like pages: fresh for the TTL, revalidated, stale
    when the upstream fails, kept on disk.
    """

    def test_fresh_then_revalidated(self) -> None:
        """
        Within the TTL the cached document is served without asking the
        upstream; after it, the upstream is asked with ``If-None-Match`` and
        its 304 keeps the document.
        """
        proxy = self.proxy()
        self.document(proxy.get("/pypi/demo/json"))
        second = proxy.get("/pypi/demo/json")
        self.assertEqual(second.header("x-cache"), "HIT")
        self.assertEqual(self.index.count("/pypi/demo/json"), 1)
        proxy.clock.advance(101)
        third = proxy.get("/pypi/demo/json")
        self.assertEqual((third.code, third.header("x-cache")), (200, "HIT"))
        self.assertEqual(third.body, second.body)
        self.assertEqual(self.index.count("/pypi/demo/json"), 2)

    def test_stale_on_error(self) -> None:
        """
        When the upstream fails after the TTL, the cached document is served
        stale, with ``max-age=0``.
        """
        proxy = self.proxy()
        first = proxy.get("/pypi/demo/json")
        proxy.clock.advance(101)
        self.index.fail["/pypi/demo/json"] = 500
        stale = proxy.get("/pypi/demo/json")
        self.assertEqual((stale.code, stale.header("x-cache")), (200, "STALE"))
        self.assertEqual(stale.header("cache-control"), "max-age=0, public")
        self.assertEqual(stale.body, first.body)

    def test_stale_while_slow(self) -> None:
        """
        When the upstream is slower than the stale wait after the TTL, the
        cached document is served stale then, as pages are.
        """
        proxy = self.proxy()
        first = proxy.get("/pypi/demo/json")
        proxy.clock.advance(101)
        self.index.hold_paths.add("/pypi/demo/json")
        d = proxy.request("/pypi/demo/json")
        proxy.flush()
        self.assertNoResult(d)
        proxy.clock.advance(proxy.config.stale_wait)
        proxy.flush()
        stale = proxy.answer(self.successResultOf(d))
        self.assertEqual((stale.code, stale.header("x-cache")), (200, "STALE"))
        self.assertEqual(stale.body, first.body)

    def test_error_without_copy(self) -> None:
        """
        An upstream failure with nothing cached is a 502.
        """
        self.index.fail["/pypi/demo/json"] = 503
        answer = self.proxy().get("/pypi/demo/json")
        self.assertEqual(answer.code, 502)
        self.assertIn(b"503", answer.body)

    def test_restart(self) -> None:
        """
        A proxy started on the same cache directory serves the stored
        document without asking the upstream.
        """
        cache = FilePath(self.mktemp())
        cache.makedirs()
        first = self.proxy(cache=cache).get("/pypi/demo/json")
        second = self.proxy(cache=cache).get("/pypi/demo/json")
        self.assertEqual(second.header("x-cache"), "HIT")
        self.assertEqual(second.body, first.body)
        self.assertEqual(self.index.count("/pypi/demo/json"), 1)


class NotFoundTests(_Proxy):
    """
    Where there is no document, the answer is a clean 404.
    """

    def test_unknown_project_or_version(self) -> None:
        """
        An unknown project, an unknown version and malformed paths are 404.
        """
        proxy = self.proxy()
        for path in [
            "/pypi/nothing/json",
            "/pypi/demo/9.9/json",
            "/pypi/demo",
            "/pypi/demo/1.0/2.0/json",
            "/pypi/-bad-/json",
            "/pypi/demo/..%2F/json",
            "/pypi/demo/jsonx",
        ]:
            self.assertEqual(proxy.get(path).code, 404, path)

    def test_missing_version_named(self) -> None:
        """
        A version the project does not have (or a malformed one) is a 404
        saying the version is not found for that project, not that the
        project is missing.
        """
        proxy = self.proxy()
        for version in ("9.9", ".bad"):
            answer = proxy.get(f"/pypi/demo/{version}/json")
            self.assertEqual(answer.code, 404, version)
            self.assertIn(
                f"No version {version} of project demo.".encode(), answer.body
            )
            self.assertNotIn(b"No such project", answer.body)
        self.assertIn(b"No such project.", proxy.get("/pypi/nothing/1.0/json").body)

    def test_upstream_without_json_api(self) -> None:
        """
        An upstream that answers 404, or something that is not a JSON API
        document, gives a 404, remembered for a while.
        """
        proxy = self.proxy()
        self.index.fail["/pypi/demo/json"] = 404
        self.assertEqual(proxy.get("/pypi/demo/json").code, 404)
        self.assertEqual(proxy.get("/pypi/demo/json").code, 404)
        self.assertEqual(self.index.count("/pypi/demo/json"), 1)
        self.index.fail["/pypi/dep/json"] = 200
        self.assertEqual(proxy.get("/pypi/dep/json").code, 404)

    def test_not_found_memory_bounded(self) -> None:
        """
        Only so many "not found" answers are remembered: past the bound the
        oldest is forgotten and asked for again.
        """
        self.patch(jsoncache, "MEMORY_NOT_FOUND", 2)
        proxy = self.proxy()
        for version in ("7.0", "8.0", "9.0", "7.0", "9.0"):
            self.assertEqual(proxy.get(f"/pypi/demo/{version}/json").code, 404)
        counts = [
            self.index.count(f"/pypi/demo/{v}/json") for v in ("7.0", "8.0", "9.0")
        ]
        self.assertEqual(counts, [2, 1, 1])

    def test_index_without_json_api(self) -> None:
        """
        An index whose URL does not end in ``/simple/`` is not asked.
        """
        upstream = IndexConfig("devpi", "http://upstream.test/root/+simple/")
        index = JsonFakeIndex(prefix="/root")
        index.add("demo", self.old)
        cache = FilePath(self.mktemp())
        cache.makedirs()
        proxy = ApiProxy(index, cache, upstream=upstream, hosts={})
        answer = proxy.get("/pypi/demo/json")
        self.assertEqual(answer.code, 404)
        self.assertIn(b"no JSON API", answer.body)
        self.assertEqual(proxy.get("/simple/demo/").code, 200)
        self.assertFalse([p for _, p in index.requests if p.startswith("/pypi/")])

    def test_dummy_project(self) -> None:
        """
        A ``--dummy`` project has no JSON API at the proxy (its real files
        are not what the proxy offers).
        """
        proxy = self.proxy(dummies=(parse_dummy_spec("demo"),))
        self.assertEqual(proxy.get("/pypi/demo/json").code, 404)
        self.assertEqual(self.index.count("/pypi/demo/json"), 0)
