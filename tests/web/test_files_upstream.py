"""
Tests for :mod:`twisted_pypi.web.files` following the upstream's word on a
project at once: the cached files of a project the upstream quarantines
(PEP 792) are refused from the refresh that sees the status, also after a
restart, and a file the upstream yanks is shown yanked on the next refresh;
through the real resource tree in memory (:class:`tests.fakes.MemoryProxy`
in front of a :class:`FakeIndex`).
"""

from __future__ import annotations

import json

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy
from tests.wheels import build_wheel

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
HTML = {"Accept": "text/html"}

WHEEL = build_wheel("demo", "1.0")

#: What a refused file's answer says.
REASON = b"project quarantined upstream"


class QuarantineTests(SynchronousTestCase):
    """
    A quarantined project's cached files are refused at once (JSON upstream).
    """

    mode = "json"

    def setUp(self) -> None:
        self.index = FakeIndex(mode=self.mode)
        self.index.add("demo", FakeFile(WHEEL))
        self.cache_dir = FilePath(self.mktemp())
        self.proxy = MemoryProxy(self.index, self.cache_dir)
        self.path = self.proxy.file_path(WHEEL.filename)

    def cache_then_quarantine(self) -> None:
        """
        Download the wheel (and its ``.metadata``) through the proxy, have
        the upstream quarantine the project, and let the proxy refresh the
        page (a client asks for it after its TTL).
        """
        for path in (self.path, self.path + ".metadata"):
            self.assertEqual(self.proxy.get(path).code, 200)
        hit = self.proxy.get(self.path)
        self.assertEqual((hit.code, hit.header("x-cache")), (200, "HIT"))
        self.index.statuses["demo"] = "quarantined"
        self.proxy.clock.advance(101)
        page = self.proxy.get("/simple/demo/", headers=JSON)
        self.assertEqual(json.loads(page.body)["files"], [])

    def assert_refused(self, proxy: MemoryProxy) -> None:
        """
        The wheel, its ``.metadata`` and a ``HEAD`` are refused with the
        reason, though the files are still in the cache.
        """
        for path, method in (
            (self.path, "GET"),
            (self.path + ".metadata", "GET"),
            (self.path, "HEAD"),
        ):
            answer = proxy.get(path, method)
            self.assertEqual(answer.code, 403, (path, method))
            if method == "GET":
                self.assertIn(REASON, answer.body)
        self.assertIsNotNone(proxy.cache.lookup(self.path.split("/")[2:]))

    def test_refused_at_once(self) -> None:
        """
        From the refresh that sees the quarantine on, the cached files are
        refused, without any later refresh deleting them first.
        """
        self.cache_then_quarantine()
        self.assertEqual(self.index.count(f"/packages/{WHEEL.filename}"), 1)
        self.assert_refused(self.proxy)

    def test_refused_after_restart(self) -> None:
        """
        A proxy started again over the same cache refuses them too (the
        stored page says the project is quarantined), before any page
        request.
        """
        self.cache_then_quarantine()
        restarted = MemoryProxy(self.index, self.cache_dir)
        pages = self.index.count("/simple/demo/")
        self.assert_refused(restarted)
        self.assertEqual(self.index.count("/simple/demo/"), pages)

    def test_other_link_refused(self) -> None:
        """
        A link naming another project's page does not get around the
        quarantine of the project the filename names.
        """
        self.cache_then_quarantine()
        parts = self.path.split("/")
        other = "/".join([*parts[:3], "~other", *parts[3:]])
        self.assertEqual(self.proxy.get(other).code, 403)

    def test_lifted(self) -> None:
        """
        When the upstream lifts the quarantine, the next refresh serves the
        files again.
        """
        self.cache_then_quarantine()
        del self.index.statuses["demo"]
        self.proxy.clock.advance(101)
        self.proxy.get("/simple/demo/", headers=JSON)
        answer = self.proxy.get(self.path)
        self.assertEqual((answer.code, answer.body), (200, WHEEL.content))


class HtmlQuarantineTests(QuarantineTests):
    """
    The same with an HTML-only upstream (the status in a ``<meta>``).
    """

    mode = "html"


class YankTests(SynchronousTestCase):
    """
    A file the upstream yanks is shown yanked on the next refresh.
    """

    def test_yanked_on_next_refresh(self) -> None:
        """
        Once the page's TTL has passed, the next request for it shows the
        file yanked, with the reason, in both formats.
        """
        for mode in ("json", "html"):
            index = FakeIndex(mode=mode)
            index.add("demo", FakeFile(WHEEL))
            proxy = MemoryProxy(index, FilePath(self.mktemp()))
            before = json.loads(proxy.get("/simple/demo/", headers=JSON).body)
            self.assertFalse(before["files"][0].get("yanked", False), mode)
            index.projects["demo"][0].yanked = "broken build"
            proxy.clock.advance(101)
            after = json.loads(proxy.get("/simple/demo/", headers=JSON).body)
            self.assertEqual(after["files"][0]["yanked"], "broken build", mode)
            html = proxy.get("/simple/demo/", headers=HTML).body
            self.assertIn(b'data-yanked="broken build"', html, mode)
