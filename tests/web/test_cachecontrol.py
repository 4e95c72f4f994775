"""
Tests for cache control over HTTP (:mod:`twisted_pypi.web.cachecontrol`):
``DELETE`` under ``/-/cache/`` with the admin token.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from tests.apifakes import ApiProxy, JsonFakeIndex
from tests.fakeindex import FakeFile
from tests.fakes import Answer, result_now
from tests.runnerguard import GuardedRecords, QueuedRunner
from tests.wheels import build_wheel
from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.storage.pagestore import PageStore, StoredPage
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.web.cachecontrol import CacheControlResource, read_admin_token

#: What asks for the JSON simple format.
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}

TOKEN = "s3cret-Token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
DEMO = build_wheel("demo", "1.0")
OTHER = build_wheel("other", "2.0")


class TokenTests(SynchronousTestCase):
    """
    Reading ``--admin-token``.
    """

    def test_token_or_file(self) -> None:
        """
        The value is the token, or ``@FILE`` names a file holding it
        (surrounding white space is dropped).
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("\n  from-file \n")
        self.assertEqual(read_admin_token("abc"), "abc")
        self.assertEqual(read_admin_token(f"@{path}"), "from-file")

    def test_bad_tokens(self) -> None:
        """
        An empty token, one with spaces, and an unreadable file are refused.
        """
        for value, message in [
            ("", "not empty"),
            ("two words", "one word"),
            ("@/nonexistent/token", "cannot read"),
        ]:
            with self.assertRaises(ValueError) as caught:
                read_admin_token(value)
            self.assertIn(message, str(caught.exception))


class _Proxy(SynchronousTestCase):
    """
    A proxy with the admin token in front of an index with ``demo`` and
    ``other``.
    """

    def setUp(self) -> None:
        self.index = JsonFakeIndex()
        self.index.add("demo", FakeFile(DEMO))
        self.index.add("other", FakeFile(OTHER))
        self.cache = FilePath(self.mktemp())
        self.cache.makedirs()

    def proxy(self, token: str | None = TOKEN, **kwargs: Any) -> ApiProxy:
        """
        A proxy on the test's cache directory.
        """
        return ApiProxy(self.index, self.cache, admin_token=token, **kwargs)

    def delete(
        self, proxy: ApiProxy, path: str, headers: dict[str, str] | None = None
    ) -> Answer:
        """
        Send a ``DELETE`` (with the right token unless ``headers`` is given).
        """
        return proxy.get(path, "DELETE", BEARER if headers is None else headers)

    def page_file(self, proxy: ApiProxy, project: str, index: int = 0) -> FilePath[str]:
        """
        Where a project's page is stored.
        """
        name = proxy.config.indexes[index].name
        return self.cache.child("pages").child(name).child(f"{project}.page")


class AuthTests(_Proxy):
    """
    Cache control is off unless configured, and needs the token.
    """

    def test_off_by_default(self) -> None:
        """
        Without ``--admin-token`` there is no ``/-/cache/``: 404, and the
        page stays cached.
        """
        proxy = self.proxy(token=None)
        proxy.get("/simple/demo/")
        for method in ("DELETE", "GET"):
            answer = proxy.get("/-/cache/simple/demo/", method, BEARER)
            self.assertEqual(answer.code, 404, method)
        self.assertTrue(self.page_file(proxy, "demo").exists())

    def test_missing_or_wrong_token(self) -> None:
        """
        Without the token, or with another one (as bearer or basic auth, or
        malformed), the answer is 401 with both challenges, and nothing is
        deleted.
        """
        proxy = self.proxy()
        proxy.get("/simple/demo/")
        wrong_basic = base64.b64encode(b"admin:nope").decode()
        for headers in [
            {},
            {"Authorization": "Bearer nope"},
            {"Authorization": f"Bearer {TOKEN}x"},
            {"Authorization": f"Basic {wrong_basic}"},
            {"Authorization": "Basic %%%"},
            {"Authorization": f"Token {TOKEN}"},
        ]:
            answer = self.delete(proxy, "/-/cache/simple/demo/", headers)
            self.assertEqual(answer.code, 401, headers)
            challenges = answer.headers.getRawHeaders("www-authenticate")
            self.assertEqual(
                [c.split()[0] for c in challenges or []], ["Bearer", "Basic"]
            )
        self.assertTrue(self.page_file(proxy, "demo").exists())
        self.assertEqual(proxy.get("/simple/demo/").header("x-cache"), "HIT")

    def test_basic_auth(self) -> None:
        """
        Basic auth with the token as the password (any user) is accepted.
        """
        proxy = self.proxy()
        proxy.get("/simple/demo/")
        basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
        answer = self.delete(
            proxy, "/-/cache/simple/demo/", {"Authorization": f"Basic {basic}"}
        )
        self.assertEqual(answer.code, 200)

    def test_only_delete(self) -> None:
        """
        Other methods, with the token, get 405 naming ``DELETE``.
        """
        proxy = self.proxy()
        answer = proxy.get("/-/cache/simple/demo/", "GET", BEARER)
        self.assertEqual(answer.code, 405)
        self.assertEqual(answer.header("allow"), "DELETE")

    def test_beside_health(self) -> None:
        """
        ``/-/cache/`` sits beside the other ``/-/`` resources.
        """
        proxy = self.proxy()
        self.assertEqual(proxy.get("/-/health").code, 200)


class PageTests(_Proxy):
    """
    ``DELETE /-/cache/simple/<project>/`` and ``DELETE /-/cache/simple/``.
    """

    def test_project_page(self) -> None:
        """
        The project's page is dropped from memory and disk: the next request
        asks the upstream again.  Its JSON API documents go too.
        """
        proxy = self.proxy()
        proxy.get("/simple/demo/")
        proxy.get("/pypi/demo/json")
        answer = self.delete(proxy, "/-/cache/simple/Demo")
        self.assertEqual(answer.code, 200, answer.body)
        self.assertEqual(
            json.loads(answer.body),
            {
                "deleted": "page",
                "project": "demo",
                "indexes": [proxy.index_name],
                "json_documents": 1,
            },
        )
        self.assertFalse(self.page_file(proxy, "demo").exists())
        self.assertEqual(proxy.get("/simple/demo/").header("x-cache"), "MISS")
        self.assertEqual(self.index.count("/simple/demo/"), 2)
        self.assertEqual(proxy.get("/pypi/demo/json").header("x-cache"), "MISS")

    def test_every_index(self) -> None:
        """
        The page is dropped from every index that has it cached.
        """
        second = JsonFakeIndex()
        second.add("demo", FakeFile(DEMO))
        config = IndexConfig("second", "http://second.test/simple/")
        proxy = self.proxy(more=[(config, second)])
        for pages in proxy.all_pages:
            result_now(_flushed(proxy, pages.get_project("demo")))
        self.assertTrue(self.page_file(proxy, "demo", 1).exists())
        answer = self.delete(proxy, "/-/cache/simple/demo/")
        self.assertEqual(
            json.loads(answer.body)["indexes"], [proxy.index_name, "second"]
        )
        self.assertFalse(self.page_file(proxy, "demo", 0).exists())
        self.assertFalse(self.page_file(proxy, "demo", 1).exists())

    def test_not_cached(self) -> None:
        """
        A project with no cached page is a 404; an invalid name too.
        """
        proxy = self.proxy()
        self.assertEqual(self.delete(proxy, "/-/cache/simple/demo/").code, 404)
        self.assertEqual(self.delete(proxy, "/-/cache/simple/-bad-/").code, 404)
        self.assertEqual(self.delete(proxy, "/-/cache/nothing").code, 404)

    def test_forgets_not_found(self) -> None:
        """
        A project the upstream lacked is asked for again at once after a
        ``DELETE`` (instead of after the negative TTL).
        """
        proxy = self.proxy()
        self.assertEqual(proxy.get("/simple/late/").code, 404)
        self.index.add("late", FakeFile(build_wheel("late", "1.0")))
        self.assertEqual(proxy.get("/simple/late/").code, 404)
        self.assertEqual(self.delete(proxy, "/-/cache/simple/late/").code, 200)
        self.assertEqual(proxy.get("/simple/late/").code, 200)

    def test_project_list(self) -> None:
        """
        ``DELETE /-/cache/simple/`` drops the project list: the next request
        asks the upstream again.
        """
        proxy = self.proxy()
        proxy.get("/simple/")
        answer = self.delete(proxy, "/-/cache/simple/")
        self.assertEqual(json.loads(answer.body)["indexes"], [proxy.index_name])
        self.assertEqual(proxy.get("/simple/").header("x-cache"), "MISS")
        self.assertEqual(self.index.count("/simple/"), 2)
        self.assertEqual(self.delete(proxy, "/-/cache/simple").code, 200)


class FileTests(_Proxy):
    """
    ``DELETE /-/cache/files/<index>/<scheme>/<host>/<path>``.
    """

    def test_cached_file(self) -> None:
        """
        A cached file is deleted from disk and downloaded again on its next
        request.
        """
        proxy = self.proxy()
        path = proxy.file_path(DEMO.filename)
        self.assertEqual(proxy.get(path).body, DEMO.content)
        on_disk = self.cache.child("files").preauthChild(path[len("/files/") :])
        self.assertTrue(os.path.exists(on_disk.path))
        answer = self.delete(proxy, "/-/cache" + path)
        self.assertEqual(answer.code, 200, answer.body)
        self.assertEqual(json.loads(answer.body), {"deleted": "file", "file": path[1:]})
        self.assertFalse(os.path.exists(on_disk.path))
        again = proxy.get(path)
        self.assertEqual((again.header("x-cache"), again.body), ("MISS", DEMO.content))
        self.assertEqual(self.index.count(f"/packages/{DEMO.filename}"), 2)

    def test_not_cached(self) -> None:
        """
        A file that is not cached, and malformed or unsafe paths, are 404.
        """
        proxy = self.proxy()
        path = proxy.file_path(DEMO.filename)
        for target in [path, "/files/x/y", path.replace("packages", ".."), path + "/"]:
            self.assertEqual(self.delete(proxy, "/-/cache" + target).code, 404, target)

    def test_link_naming_its_page(self) -> None:
        """
        A file linked with ``~<project>`` (its name is not its page's) is
        deleted by the path of its link.
        """
        foreign = build_wheel("other", "1.0")
        self.index.add("demo", FakeFile(foreign))
        proxy = self.proxy()
        page = json.loads(proxy.get("/simple/demo/", headers=JSON).body)
        (url,) = [f["url"] for f in page["files"] if f["filename"] == foreign.filename]
        path = urlsplit(urljoin(proxy.ORIGIN + "/simple/demo/", url)).path
        self.assertIn("/~demo/", path)
        self.assertEqual(proxy.get(path).body, foreign.content)
        answer = self.delete(proxy, "/-/cache" + path)
        self.assertEqual(answer.code, 200, answer.body)
        self.assertEqual(proxy.get(path).header("x-cache"), "MISS")

    def test_downloading(self) -> None:
        """
        A file being downloaded is not touched: 409, and the download
        completes and is cached.
        """
        proxy = self.proxy()
        self.index.hold_files = True
        path = proxy.file_path(DEMO.filename)
        pending = proxy.request(path)
        proxy.flush()
        self.assertEqual(len(self.index.held), 1)
        self.assertEqual(self.delete(proxy, "/-/cache" + path).code, 409)
        upstream = self.index.held.pop()
        upstream.write(DEMO.content)
        upstream.finish()
        proxy.flush()
        self.assertEqual(proxy.answer(result_now(pending)).body, DEMO.content)
        segments = path[len("/files/") :].split("/")
        self.assertTrue(proxy.cache.is_cached(segments))
        size = os.path.getsize(proxy.cache.path_for(segments).path)
        self.assertEqual(size, len(DEMO.content))


def _flushed(proxy: ApiProxy, d: Any) -> Any:
    """
    ``d`` after moving every byte between proxy and upstreams.
    """
    proxy.flush()
    return d


class RunnerTests(SynchronousTestCase):
    """
    Deleting pages removes their records by the caches' runner (a shared
    store's deletes block for a round trip), never on the reactor.
    """

    def test_answered_after_runner(self) -> None:
        """
        ``DELETE /-/cache/simple/<project>/`` is answered once the runner
        removed the page's record, with the indexes that had it.
        """
        runner = QueuedRunner()
        local = LocalRecords(FilePath(self.mktemp()), ".page")
        page = StoredPage("http://up.test/simple/demo/", b"{}", None, None, 0.0)
        PageStore(local).save("up", "demo", page)
        records = GuardedRecords(local, runner)
        index = IndexConfig("up", "http://up.test/simple/")
        pages = PageCache(
            index,
            ProxyConfig(indexes=(index,)),
            cast(Any, None),
            Clock(),
            PageStore(records),
            runner,
        )
        resource = CacheControlResource(
            TOKEN, [pages], cast(Any, None), cast(Any, None)
        )
        request = DummyRequest([b"simple", b"demo", b""])
        request.method = b"DELETE"
        request.requestHeaders.setRawHeaders(
            b"authorization", [BEARER["Authorization"].encode()]
        )
        self.assertEqual(resource.render(cast(Any, request)), NOT_DONE_YET)
        self.assertEqual(request.finished, 0)
        runner.run_all()
        self.assertEqual(request.finished, 1)
        answer = json.loads(b"".join(request.written))
        self.assertEqual(answer["indexes"], ["up"])
        self.assertEqual(local.keys("up"), [])
