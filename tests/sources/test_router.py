"""
Tests for :mod:`twisted_pypi.sources.router` (which index supplies each
project) and for the credentials sent upstream, through the proxy's resource
tree in memory in front of two fake upstreams with overlapping projects
(``pypi`` first, ``corp`` second) and a local directory.
"""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any, cast
from urllib.parse import urljoin

from treq.testing import StubTreq
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import Answer, MemoryProxy, result_now
from tests.web.test_simple import Anchors, json_files
from tests.wheels import BuiltWheel, build_wheel
from twisted_pypi.core.config import IndexConfig, LocalConfig, ProxyConfig
from twisted_pypi.core.links import RELATIVE
from twisted_pypi.core.lookup import (
    Lookup,
)
from twisted_pypi.core.model import ProjectList, ProjectPage
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.sources.remote import PageCache, PageStore
from twisted_pypi.sources.router import Router

JSON = "application/vnd.pypi.simple.v1+json"

#: The first (highest-priority) remote index.
PYPI = IndexConfig("pypi", "http://pypi.test/simple/", 100.0)
#: The second remote index, on another host and port.
CORP = IndexConfig("corp", "http://corp.test:8080/simple/", 100.0)


def variant(name: str, version: str, where: str) -> BuiltWheel:
    """
    A wheel whose bytes say which index published it: two indexes can offer
    the same filename with different content.
    """
    module = name.replace("-", "_") + ".py"
    return build_wheel(name, version, modules={module: f"WHERE = {where!r}\n"})


#: ``requests`` on both indexes, under the same filename.
REQUESTS_PYPI = variant("requests", "2.0", "pypi")
REQUESTS_CORP = variant("requests", "2.0", "corp")
#: A later ``requests`` only the second index has.
REQUESTS_LATER = variant("requests", "9.9", "corp")
#: ``torch`` on both; routed to ``corp`` in some tests.
TORCH_PYPI = variant("torch", "2.1", "pypi")
TORCH_CORP = variant("torch", "2.1+cpu", "corp")
#: A project only the second index has.
ONLY_CORP = variant("corp-tools", "1.0", "corp")
#: ``numpy``: merged in some tests; 2.0 is on both indexes.
NUMPY_OLD = variant("numpy", "1.0", "pypi")
NUMPY_PYPI = variant("numpy", "2.0", "pypi")
NUMPY_CORP = variant("numpy", "2.0", "corp")
NUMPY_CORP_ONLY = variant("numpy", "3.0", "corp")
#: The private project of the local directory, and a public impostor.
PRIVATE = variant("requests", "0.1", "local")


def make_pypi() -> FakeIndex:
    """
    The first upstream.
    """
    index = FakeIndex()
    index.add("requests", FakeFile(REQUESTS_PYPI))
    index.add("torch", FakeFile(TORCH_PYPI))
    index.add("numpy", FakeFile(NUMPY_OLD), FakeFile(NUMPY_PYPI))
    return index


def make_corp() -> FakeIndex:
    """
    The second upstream.
    """
    index = FakeIndex()
    index.add("requests", FakeFile(REQUESTS_CORP), FakeFile(REQUESTS_LATER))
    index.add("torch", FakeFile(TORCH_CORP))
    index.add("corp-tools", FakeFile(ONLY_CORP))
    index.add("numpy", FakeFile(NUMPY_CORP), FakeFile(NUMPY_CORP_ONLY))
    return index


def router_of(proxy: MemoryProxy) -> Router:
    """
    A router over the proxy's indexes (local ones first), with its routes
    and merged projects.
    """
    return Router(
        [*proxy.local_indexes, *proxy.all_pages],
        proxy.config.routes,
        proxy.config.merge,
    )


def lookup_now(proxy: MemoryProxy, d: Deferred[Lookup]) -> Lookup:
    """
    The lookup ``d`` gives once the proxy's upstreams answered.
    """
    proxy.flush()
    result = result_now(d)
    assert isinstance(result, Lookup)
    return result


def basic(user: str, password: str) -> str:
    """
    The ``Authorization`` value of HTTP basic auth.
    """
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class RouterTestCase(SynchronousTestCase):
    """
    Two fake upstreams (:attr:`pypi` first, :attr:`corp` second) and an
    empty local directory, which tests fill as needed.
    """

    def setUp(self) -> None:
        self.pypi = make_pypi()
        self.corp = make_corp()
        self.local_dir = FilePath(self.mktemp())
        self.local_dir.makedirs()
        self.proxy = self.make_proxy()

    def make_proxy(
        self,
        *,
        routes: dict[str, str] | None = None,
        merge: frozenset[str] = frozenset(),
        pypi: IndexConfig = PYPI,
        corp: IndexConfig = CORP,
        hosts: dict[str, FakeIndex | None] | None = None,
        ttl: float | None = None,
    ) -> MemoryProxy:
        """
        A proxy over both upstreams and the local directory (``private``).
        """
        if ttl is not None:
            pypi = IndexConfig(pypi.name, pypi.url, ttl, pypi.username, pypi.password)
            corp = IndexConfig(corp.name, corp.url, ttl, corp.username, corp.password)
        return MemoryProxy(
            self.pypi,
            FilePath(self.mktemp()),
            upstream=pypi,
            more=[(corp, self.corp)],
            hosts=hosts,
            local=[LocalConfig("private", self.local_dir.path)],
            routes=routes,
            merge=merge,
        )

    def page(self, project: str) -> Answer:
        """
        The JSON page of ``project`` from the proxy.
        """
        return self.proxy.get(f"/simple/{project}/", headers={"Accept": JSON})

    def files(self, project: str) -> dict[str, dict[str, Any]]:
        """
        The file objects of ``project``'s page, by filename; fails the test
        unless the page is a 200.
        """
        answer = self.page(project)
        self.assertEqual(answer.code, 200, answer.body)
        return json_files(answer)

    def download(self, project: str, filename: str) -> Answer:
        """
        Follow the link the page of ``project`` gives for ``filename``.
        """
        link = self.files(project)[filename]["url"]
        return self.proxy.get(urljoin(f"/simple/{project}/", link))

    def pages_asked(self, index: FakeIndex, project: str) -> int:
        """
        How often ``index`` was asked for ``project``'s page.
        """
        return index.count(f"/simple/{project}/")

    def files_asked(self, index: FakeIndex) -> list[str]:
        """
        The files ``index`` was asked for.
        """
        return [p for _, p in index.requests if p.startswith("/packages/")]


class PriorityTests(RouterTestCase):
    """
    The highest-priority index that has a project supplies all its files.
    """

    def test_first_index_wins(self) -> None:
        """
        A project on both indexes comes from the first only: its files, its
        hashes, links to its ``/files/`` path; the page names it in
        ``X-PyPI-Index`` and the second index is never asked.
        """
        answer = self.page("requests")
        self.assertEqual(answer.header("x-pypi-index"), "pypi")
        files = json_files(answer)
        self.assertEqual(list(files), [REQUESTS_PYPI.filename])
        listed = files[REQUESTS_PYPI.filename]
        self.assertEqual(listed["hashes"], {"sha256": REQUESTS_PYPI.sha256})
        self.assertTrue(listed["url"].startswith("../../files/pypi/"), listed)
        self.assertEqual(self.pages_asked(self.corp, "requests"), 0)
        downloaded = self.download("requests", REQUESTS_PYPI.filename)
        self.assertEqual(downloaded.body, REQUESTS_PYPI.content)
        self.assertEqual(self.files_asked(self.corp), [])

    def test_project_only_on_second(self) -> None:
        """
        A project the first index does not have (404) comes from the second,
        which the page names; its files are downloaded from the second.
        """
        answer = self.page("corp-tools")
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.header("x-pypi-index"), "corp")
        self.assertEqual(self.pages_asked(self.pypi, "corp-tools"), 1)
        downloaded = self.download("corp-tools", ONLY_CORP.filename)
        self.assertEqual(downloaded.body, ONLY_CORP.content)
        self.assertEqual(
            self.files_asked(self.corp), [f"/packages/{ONLY_CORP.filename}"]
        )
        self.assertEqual(self.files_asked(self.pypi), [])

    def test_nowhere(self) -> None:
        """
        A project no index has is a 404, after asking each index once.
        """
        answer = self.page("nowhere")
        self.assertEqual(answer.code, 404)
        self.assertEqual(self.pages_asked(self.pypi, "nowhere"), 1)
        self.assertEqual(self.pages_asked(self.corp, "nowhere"), 1)

    def test_order_is_priority(self) -> None:
        """
        With the indexes given the other way round, the other index wins.
        """
        self.pypi, self.corp = self.corp, self.pypi
        self.proxy = self.make_proxy(pypi=CORP, corp=PYPI)
        answer = self.page("requests")
        self.assertEqual(answer.header("x-pypi-index"), "corp")
        self.assertEqual(
            set(json_files(answer)), {REQUESTS_CORP.filename, REQUESTS_LATER.filename}
        )


class DependencyConfusionTests(RouterTestCase):
    """
    An index that cannot answer stops the search: a lower-priority index
    never answers in its place.
    """

    def test_error_is_502(self) -> None:
        """
        When the first index fails for a project (and has nothing cached),
        the page is a 502 and the second index is not asked, although it
        has the project.
        """
        self.pypi.fail["/simple/requests/"] = 500
        answer = self.page("requests")
        self.assertEqual(answer.code, 502)
        self.assertEqual(self.pages_asked(self.corp, "requests"), 0)

    def test_unreachable_is_502(self) -> None:
        """
        When the first index cannot be reached at all, even a project only
        the second has is a 502, and the second is not asked.
        """
        self.proxy = self.make_proxy(hosts={"pypi.test": None})
        answer = self.page("corp-tools")
        self.assertEqual(answer.code, 502)
        self.assertEqual(self.pages_asked(self.corp, "corp-tools"), 0)

    def test_timeout_is_504(self) -> None:
        """
        When the first index does not answer in time, the page is a 504 and
        the second is not asked.
        """
        self.pypi.hold_paths.add("/simple/corp-tools/")
        d = self.proxy.request("/simple/corp-tools/", headers={"Accept": JSON})
        self.proxy.flush()
        self.proxy.clock.advance(self.proxy.config.connect_timeout + 1)
        self.proxy.flush()
        answer = self.proxy.answer(result_now(d))
        self.assertEqual(answer.code, 504)
        self.assertEqual(self.pages_asked(self.corp, "corp-tools"), 0)

    def test_stale_page_of_first(self) -> None:
        """
        When the first index fails after its page was cached, its stale page
        is served, not the second index's.
        """
        self.proxy = self.make_proxy(ttl=10.0)
        self.assertEqual(self.page("requests").header("x-pypi-index"), "pypi")
        self.proxy.clock.advance(60)
        self.pypi.fail["/simple/requests/"] = 503
        answer = self.page("requests")
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.header("x-pypi-index"), "pypi")
        self.assertEqual(answer.header("x-cache"), "STALE")
        self.assertEqual(self.pages_asked(self.corp, "requests"), 0)

    def test_local_shadows_remote(self) -> None:
        """
        A project in the local directory hides the same name on every remote
        index, whatever their order: its page and files are the local ones
        and no remote index is asked.
        """
        self.local_dir.child(PRIVATE.filename).setContent(PRIVATE.content)
        answer = self.page("requests")
        self.assertEqual(answer.header("x-pypi-index"), "private")
        self.assertEqual(answer.header("x-cache"), "LOCAL")
        self.assertEqual(list(json_files(answer)), [PRIVATE.filename])
        self.assertEqual(
            self.download("requests", PRIVATE.filename).body, PRIVATE.content
        )
        self.assertEqual(self.pages_asked(self.pypi, "requests"), 0)
        self.assertEqual(self.pages_asked(self.corp, "requests"), 0)
        self.assertEqual(self.files_asked(self.pypi) + self.files_asked(self.corp), [])

    def test_unreadable_local_directory(self) -> None:
        """
        A local directory that cannot be read stops every lookup with a 502:
        no remote index answers for a project that may be a private one.
        """
        self.local_dir.remove()
        answer = self.page("requests")
        self.assertEqual(answer.code, 502)
        self.assertEqual(self.pypi.requests + self.corp.requests, [])

    def test_local_still_being_read(self) -> None:
        """
        While the local directory is first being read (hashing in a thread),
        a concurrent request for a project it holds waits for the reading
        rather than taking the remote index's project of that name.
        """
        self.local_dir.child(PRIVATE.filename).setContent(PRIVATE.content)
        pending: list[tuple[Deferred[object], Any]] = []

        def later(work: Any) -> Deferred[object]:
            d: Deferred[object] = Deferred()
            pending.append((d, work))
            return d

        clock = Clock()
        config = ProxyConfig(listen=(), indexes=(PYPI,), cache_dir=self.mktemp())
        remote = PageCache(
            PYPI, config, cast(Any, StubTreq(self.pypi)), clock,
            PageStore.on_disk(FilePath(self.mktemp())),
        )  # fmt: skip
        local = LocalIndex(
            LocalConfig("private", self.local_dir.path), RELATIVE, run=later
        )
        router = Router([local, remote], {}, frozenset())
        results: list[Lookup] = []
        router.get_project("requests").addCallback(results.append)
        router.get_project("requests").addCallback(results.append)
        while pending:
            d, work = pending.pop(0)
            d.callback(work())
        self.assertEqual(len(results), 2)
        for lookup in results:
            assert lookup.entry is not None
            self.assertEqual(lookup.entry.index.name, "private")
        self.assertEqual(self.pypi.requests, [])


class RouteTests(RouterTestCase):
    """
    ``--route PROJECT=NAME``.
    """

    def test_route_overrides_priority(self) -> None:
        """
        A routed project comes from its index although a higher-priority
        index has it, which is not asked; its files come from that index.
        """
        self.proxy = self.make_proxy(routes={"torch": "corp"})
        answer = self.page("torch")
        self.assertEqual(answer.header("x-pypi-index"), "corp")
        self.assertEqual(list(json_files(answer)), [TORCH_CORP.filename])
        self.assertEqual(
            self.download("torch", TORCH_CORP.filename).body, TORCH_CORP.content
        )
        self.assertEqual(self.pypi.requests, [])

    def test_route_without_the_project(self) -> None:
        """
        A project routed to an index that lacks it is a 404, though another
        index has it.
        """
        self.proxy = self.make_proxy(routes={"corp-tools": "pypi"})
        self.assertEqual(self.page("corp-tools").code, 404)
        self.assertEqual(self.corp.requests, [])

    def test_routed_index_fails(self) -> None:
        """
        When the routed index fails, the page is a 502; no other index is
        asked.
        """
        self.proxy = self.make_proxy(routes={"torch": "corp"})
        self.corp.fail["/simple/torch/"] = 500
        self.assertEqual(self.page("torch").code, 502)
        self.assertEqual(self.pypi.requests, [])

    def test_route_to_local(self) -> None:
        """
        A project routed to the local index is served from it.
        """
        self.local_dir.child(PRIVATE.filename).setContent(PRIVATE.content)
        self.proxy = self.make_proxy(routes={"requests": "private"})
        self.assertEqual(self.page("requests").header("x-pypi-index"), "private")
        self.assertEqual(self.pypi.requests + self.corp.requests, [])

    def test_other_projects_unaffected(self) -> None:
        """
        Projects that are not routed still follow the priority.
        """
        self.proxy = self.make_proxy(routes={"torch": "corp"})
        self.assertEqual(self.page("requests").header("x-pypi-index"), "pypi")


class MergeTests(RouterTestCase):
    """
    ``--merge PROJECT``.
    """

    def setUp(self) -> None:
        super().setUp()
        self.proxy = self.make_proxy(merge=frozenset({"numpy"}))

    def test_files_of_both(self) -> None:
        """
        A merged project lists the files of both indexes; on the same
        filename the first index's file (and hash) wins; the page names both
        indexes.
        """
        answer = self.page("numpy")
        self.assertEqual(answer.header("x-pypi-index"), "pypi+corp")
        files = json_files(answer)
        self.assertEqual(
            set(files),
            {NUMPY_OLD.filename, NUMPY_PYPI.filename, NUMPY_CORP_ONLY.filename},
        )
        self.assertEqual(
            files[NUMPY_PYPI.filename]["hashes"], {"sha256": NUMPY_PYPI.sha256}
        )
        self.assertEqual(json.loads(answer.body)["versions"], ["1.0", "2.0", "3.0"])

    def test_links_to_own_index(self) -> None:
        """
        Each file links to the ``/files/`` path of the index that listed it,
        and is downloaded from that index only.
        """
        files = self.files("numpy")
        self.assertIn("/files/pypi/", files[NUMPY_PYPI.filename]["url"])
        self.assertIn("/files/corp/", files[NUMPY_CORP_ONLY.filename]["url"])
        first = self.download("numpy", NUMPY_PYPI.filename)
        self.assertEqual(first.body, NUMPY_PYPI.content)
        self.assertEqual(
            self.files_asked(self.pypi), [f"/packages/{NUMPY_PYPI.filename}"]
        )
        self.assertEqual(self.files_asked(self.corp), [])
        second = self.download("numpy", NUMPY_CORP_ONLY.filename)
        self.assertEqual(second.body, NUMPY_CORP_ONLY.content)
        self.assertEqual(
            self.files_asked(self.corp), [f"/packages/{NUMPY_CORP_ONLY.filename}"]
        )

    def test_only_named_projects_merged(self) -> None:
        """
        Projects not named with ``--merge`` are not merged.
        """
        self.assertEqual(list(self.files("requests")), [REQUESTS_PYPI.filename])

    def test_merged_with_local(self) -> None:
        """
        A merged project also takes the local directory's files, linked below
        ``/local/``.
        """
        local = variant("numpy", "2.0+local", "local")
        self.local_dir.child(local.filename).setContent(local.content)
        answer = self.page("numpy")
        self.assertEqual(answer.header("x-pypi-index"), "private+pypi+corp")
        files = json_files(answer)
        self.assertIn(local.filename, files)
        self.assertEqual(
            files[local.filename]["url"], f"../../local/private/{local.filename}"
        )

    def test_one_index_failing(self) -> None:
        """
        When one index fails for a merged project, the files of the others
        are served.
        """
        self.corp.fail["/simple/numpy/"] = 500
        answer = self.page("numpy")
        self.assertEqual(answer.header("x-pypi-index"), "pypi")
        self.assertEqual(
            set(json_files(answer)), {NUMPY_OLD.filename, NUMPY_PYPI.filename}
        )

    def test_nowhere(self) -> None:
        """
        A merged project no index has is a 404.
        """
        self.proxy = self.make_proxy(merge=frozenset({"nowhere"}))
        self.assertEqual(self.page("nowhere").code, 404)
        self.assertEqual(self.pages_asked(self.corp, "nowhere"), 1)

    def test_html(self) -> None:
        """
        The HTML form of a merged page links each file to its own index,
        with the hash of the file that won.
        """
        answer = self.proxy.get("/simple/numpy/", headers={"Accept": "text/html"})
        anchors = Anchors(answer.body).by_text()
        self.assertEqual(
            set(anchors),
            {NUMPY_OLD.filename, NUMPY_PYPI.filename, NUMPY_CORP_ONLY.filename},
        )
        self.assertEqual(
            anchors[NUMPY_PYPI.filename]["href"],
            "../../files/pypi/http/pypi.test/packages/"
            f"{NUMPY_PYPI.filename}#sha256={NUMPY_PYPI.sha256}",
        )
        self.assertEqual(
            anchors[NUMPY_CORP_ONLY.filename]["href"],
            "../../files/corp/http/corp.test%3A8080/packages/"
            f"{NUMPY_CORP_ONLY.filename}#sha256={NUMPY_CORP_ONLY.sha256}",
        )

    def test_merged_page_kept(self) -> None:
        """
        While the indexes' pages do not change, the merged page is the same
        page every time (merged and rendered once).
        """
        router = router_of(self.proxy)
        first = lookup_now(self.proxy, router.get_project("numpy"))
        second = lookup_now(self.proxy, router.get_project("numpy"))
        self.assertIsNotNone(first.entry)
        self.assertIs(first.entry, second.entry)

    def test_first_seen_kept(self) -> None:
        """
        A merged page keeps each file's first-seen time: a file of an index
        that gives no upload times has the time the proxy first saw it, a
        file with an upload time has none.
        """
        self.corp.mode = "html"
        router = router_of(self.proxy)
        merged = lookup_now(self.proxy, router.get_project("numpy")).entry.page
        assert isinstance(merged, ProjectPage)
        by_name = {d.filename: d for d in merged.files}
        corp_only = by_name[NUMPY_CORP_ONLY.filename]
        self.assertIsNone(corp_only.upload_time)
        self.assertIsNotNone(corp_only.first_seen)
        self.assertIsNotNone(by_name[NUMPY_PYPI.filename].upload_time)
        self.assertIsNone(by_name[NUMPY_PYPI.filename].first_seen)

    def test_merged_page_follows_upstream(self) -> None:
        """
        Once an index's page of a merged project changes upstream and is
        fetched again, the merged page is merged again: it lists the new file.
        """
        router = router_of(self.proxy)
        first = lookup_now(self.proxy, router.get_project("numpy"))
        later = variant("numpy", "4.0", "corp")
        self.corp.add("numpy", FakeFile(later))
        self.proxy.clock.advance(CORP.ttl + 1)
        second = lookup_now(self.proxy, router.get_project("numpy"))
        self.assertEqual(self.pages_asked(self.corp, "numpy"), 2)
        assert isinstance(first.entry.page, ProjectPage)
        assert isinstance(second.entry.page, ProjectPage)
        self.assertNotIn(later.filename, [d.filename for d in first.entry.page.files])
        self.assertIn(later.filename, [d.filename for d in second.entry.page.files])

    def test_merged_page_follows_served_page(self) -> None:
        """
        Through the proxy, a merged page lists a file an index added once
        that index's page is fetched again.
        """
        later = variant("numpy", "4.0", "corp")
        self.assertNotIn(later.filename, self.files("numpy"))
        self.corp.add("numpy", FakeFile(later))
        self.proxy.clock.advance(CORP.ttl + 1)
        self.proxy.flush()
        self.assertIn(later.filename, self.files("numpy"))

    def test_only_on_one_index(self) -> None:
        """
        A merged project only one index has is that index's page.
        """
        self.proxy = self.make_proxy(merge=frozenset({"corp-tools"}))
        answer = self.page("corp-tools")
        self.assertEqual(answer.header("x-pypi-index"), "corp")


class ListTests(RouterTestCase):
    """
    ``/simple/``: the union of the indexes' project lists.
    """

    def names(self) -> list[str]:
        """
        The project names of the proxy's JSON project list.
        """
        answer = self.proxy.get("/simple/", headers={"Accept": JSON})
        self.assertEqual(answer.code, 200)
        return [p["name"] for p in json.loads(answer.body)["projects"]]

    def test_union(self) -> None:
        """
        The list names every project of every index (local ones included)
        exactly once.
        """
        self.local_dir.child(PRIVATE.filename).setContent(PRIVATE.content)
        other = variant("private-only", "1.0", "local")
        self.local_dir.child(other.filename).setContent(other.content)
        names = self.names()
        self.assertEqual(
            sorted(names),
            ["corp-tools", "numpy", "private-only", "requests", "torch"],
        )

    def test_failing_list_left_out(self) -> None:
        """
        An index whose list fails is left out of the union.
        """
        self.pypi.fail["/simple/"] = 500
        self.assertEqual(
            sorted(self.names()), ["corp-tools", "numpy", "requests", "torch"]
        )

    def test_all_failing(self) -> None:
        """
        When no index can give its list, ``/simple/`` is a 502.
        """
        self.local_dir.remove()
        self.pypi.fail["/simple/"] = 500
        self.corp.fail["/simple/"] = 500
        answer = self.proxy.get("/simple/", headers={"Accept": JSON})
        self.assertEqual(answer.code, 502)

    def test_html(self) -> None:
        """
        The HTML list links each project of every index to its page on the
        proxy.
        """
        answer = self.proxy.get("/simple/", headers={"Accept": "text/html"})
        anchors = Anchors(answer.body).by_text()
        self.assertEqual(anchors["corp-tools"]["href"], "corp-tools/")
        self.assertEqual(anchors["requests"]["href"], "requests/")
        self.assertEqual(set(anchors), {"corp-tools", "numpy", "requests", "torch"})

    def test_union_kept(self) -> None:
        """
        While no list changes, the union is the same page every time, local
        list included (a large remote list is not merged again per request).
        """
        self.local_dir.child(PRIVATE.filename).setContent(PRIVATE.content)
        then = time.time_ns() - 3600 * 10**9
        for path in (self.local_dir.child(PRIVATE.filename), self.local_dir):
            os.utime(path.path, ns=(then, then))
        router = router_of(self.proxy)
        first = lookup_now(self.proxy, router.get_list())
        second = lookup_now(self.proxy, router.get_list())
        self.assertIsNotNone(first.entry)
        self.assertIs(first.entry, second.entry)

    def test_union_follows_upstream(self) -> None:
        """
        Once an index's project list changes upstream and is fetched again,
        the union is made again: it names the new project.
        """
        router = router_of(self.proxy)
        first = lookup_now(self.proxy, router.get_list())
        self.corp.add("newcomer", FakeFile(variant("newcomer", "1.0", "corp")))
        self.proxy.clock.advance(CORP.ttl + 1)
        second = lookup_now(self.proxy, router.get_list())
        assert isinstance(first.entry.page, ProjectList)
        assert isinstance(second.entry.page, ProjectList)
        self.assertNotIn("newcomer", first.entry.page.names)
        self.assertIn("newcomer", second.entry.page.names)


class CredentialsTests(RouterTestCase):
    """
    HTTP basic auth: pages and files of an index with credentials carry
    them; no other host ever sees them.
    """

    def setUp(self) -> None:
        super().setUp()
        self.cdn = FakeIndex()
        linked = FakeFile(
            variant("cdn-hosted", "1.0", "cdn"),
            url="http://cdn.test/packages/cdn_hosted-1.0-py3-none-any.whl",
        )
        self.cdn.add("cdn-hosted", linked)
        self.corp.add("cdn-hosted", linked)
        secured = IndexConfig(
            "corp", CORP.url, 100.0, username="alice", password="s3cret"
        )
        self.proxy = self.make_proxy(corp=secured, hosts={"cdn.test": self.cdn})

    def test_page_request_carries_auth(self) -> None:
        """
        The page request to the index with credentials carries them; the
        page request to the other index carries none.
        """
        self.assertEqual(self.page("corp-tools").code, 200)
        self.assertIn(
            ("/simple/corp-tools/", basic("alice", "s3cret")), self.corp.authorizations
        )
        self.assertIn(("/simple/corp-tools/", None), self.pypi.authorizations)

    def test_file_on_same_host_carries_auth(self) -> None:
        """
        A file on the host (and port) of the index with credentials is
        requested with them.
        """
        answer = self.download("corp-tools", ONLY_CORP.filename)
        self.assertEqual(answer.body, ONLY_CORP.content)
        self.assertIn(
            (f"/packages/{ONLY_CORP.filename}", basic("alice", "s3cret")),
            self.corp.authorizations,
        )

    def test_file_on_other_host_without_auth(self) -> None:
        """
        A file the index links on another host is requested without
        credentials.
        """
        filename = "cdn_hosted-1.0-py3-none-any.whl"
        answer = self.download("cdn-hosted", filename)
        self.assertEqual(answer.code, 200)
        self.assertEqual(self.cdn.authorizations, [(f"/packages/{filename}", None)])

    def test_other_index_files_without_auth(self) -> None:
        """
        Files of the index without credentials are requested without any.
        """
        self.download("requests", REQUESTS_PYPI.filename)
        self.assertEqual(
            self.pypi.authorizations,
            [
                ("/simple/requests/", None),
                (f"/packages/{REQUESTS_PYPI.filename}", None),
            ],
        )
