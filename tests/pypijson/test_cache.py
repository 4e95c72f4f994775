"""
Tests for :mod:`twisted_pypi.pypijson.cache`: where an index keeps its JSON
API. Serving ``/pypi/<project>/json`` through the cache is tested in
``tests/web/test_jsonapi.py``.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import FakeClient, page_response
from tests.runnerguard import GuardedRecords, RecordingRunner
from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.pypijson.cache import JsonCache, json_api_base
from twisted_pypi.storage.jsonstore import JsonStore
from twisted_pypi.storage.records import LocalRecords

INDEX = IndexConfig("up", "http://upstream.test/simple/", ttl=100)
URL = "http://upstream.test/pypi/demo/json"
DOCUMENT = json.dumps(
    {"info": {"name": "demo", "version": "1.0"}, "releases": {}, "urls": []}
).encode()


class JsonApiBaseTests(SynchronousTestCase):
    """
    Where an index keeps its JSON API.
    """

    def test_simple_suffix(self) -> None:
        """
        An index at ``.../simple/`` has its JSON API at ``.../pypi/``; others
        have none.
        """
        self.assertEqual(
            json_api_base("https://pypi.org/simple/"), "https://pypi.org/pypi/"
        )
        self.assertEqual(
            json_api_base("http://h:81/mirror/simple/"), "http://h:81/mirror/pypi/"
        )
        self.assertIsNone(json_api_base("https://h/root/pypi/+simple/"))
        self.assertIsNone(json_api_base("https://h/simple/extra/"))


class RunnerTests(SynchronousTestCase):
    """
    Every call to the record store goes through the runner (a shared
    store's calls block for a round trip): none is made on the reactor.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.client = FakeClient()
        self.runner = RecordingRunner()
        local = LocalRecords(FilePath(self.mktemp()), ".json")
        self.records = GuardedRecords(local, self.runner)
        config = ProxyConfig(indexes=(INDEX,), stale_wait=3)
        self.cache = JsonCache(
            config, self.client, self.clock, JsonStore(self.records), self.runner
        )

    def answer(self, response: Any, version: str | None = None) -> Deferred[Any]:
        """Ask for demo's document and answer the upstream with ``response``."""
        d = self.cache.get(INDEX, "demo", version)
        self.client.answer(len(self.client.calls) - 1, response)
        return d

    def test_not_found_removes_in_runner(self) -> None:
        """
        A document the upstream no longer has is removed from the store by
        the runner.
        """
        self.successResultOf(self.answer(page_response(DOCUMENT, url=URL)))
        self.assertEqual(self.records.records.keys("up"), ["demo"])
        self.clock.advance(101)
        self.failureResultOf(self.answer(page_response(b"", code=404)))
        self.assertIn("remove", self.records.calls)
        self.assertEqual(self.records.records.keys("up"), [])

    def test_invalidate_in_runner(self) -> None:
        """
        Invalidating a project removes its documents on every index by the
        runner, and fires with how many were forgotten.
        """
        self.successResultOf(self.answer(page_response(DOCUMENT, url=URL)))
        self.assertEqual(self.successResultOf(self.cache.invalidate("demo")), 1)
        self.assertEqual(self.records.records.keys("up"), [])
        self.assertEqual(self.successResultOf(self.cache.invalidate("demo")), 0)
        self.assertIn("indexes", self.records.calls)
