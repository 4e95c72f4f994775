"""
Tests for :mod:`twisted_pypi.web.dummyfiles`: the resource serving dummy
wheels and their ``.metadata`` from memory.
"""

from __future__ import annotations

import hashlib
from typing import Any

from treq.testing import StubTreq
from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import result_now
from twisted_pypi.core.dummyspec import parse_dummy_spec
from twisted_pypi.core.links import LinkPrefixes
from twisted_pypi.core.lookup import Lookup, ProjectNotFound
from twisted_pypi.core.stats import Stats
from twisted_pypi.sources.dummies import Dummies
from twisted_pypi.sources.dummywheel import build_dummy_wheel
from twisted_pypi.web.dummyfiles import DummyFilesResource

SPEC = parse_dummy_spec("torch==2.0.0")
WHEEL = build_dummy_wheel(SPEC, "2.0.0", None)


def _no_pages(project: str) -> Deferred[Lookup]:
    """
    No real page: the dummy's versions are explicit.
    """
    return fail(ProjectNotFound(project))


class DummyFilesResourceTests(SynchronousTestCase):
    """
    ``DummyFilesResource`` serves ``/<project>/<wheel>`` and its
    ``.metadata`` for the dummy projects, and nothing else.
    """

    def setUp(self) -> None:
        """
        A resource over a ``torch==2.0.0`` dummy, counting in ``stats``.
        """
        self.stats = Stats(Clock())
        dummies = Dummies([SPEC], _no_pages, LinkPrefixes(), stats=self.stats)
        self.treq: Any = StubTreq(DummyFilesResource(dummies))

    def test_wheel(self) -> None:
        """
        A dummy wheel is served whole, as an immutable zip marked ``DUMMY``,
        with a strong ETag of its SHA-256, and is counted as served.
        """
        response = result_now(
            self.treq.get(f"http://proxy.test/torch/{WHEEL.filename}")
        )
        self.assertEqual(response.code, 200)
        body = result_now(self.treq.content(response))
        self.assertEqual(body, WHEEL.content)
        headers = response.headers
        self.assertEqual(headers.getRawHeaders("x-cache"), ["DUMMY"])
        self.assertEqual(headers.getRawHeaders("content-type"), ["application/zip"])
        self.assertEqual(
            headers.getRawHeaders("cache-control"),
            ["max-age=365000000, immutable"],
        )
        etag = '"' + hashlib.sha256(WHEEL.content).hexdigest()[:32] + '"'
        self.assertEqual(headers.getRawHeaders("etag"), [etag])
        self.assertEqual(response.length, len(WHEEL.content))
        self.assertEqual(self.stats.dummy_files, 1)

    def test_metadata(self) -> None:
        """
        A dummy wheel's ``.metadata`` is its ``METADATA`` file, served as
        immutable, and is not counted as a dummy wheel served.
        """
        response = result_now(
            self.treq.get(f"http://proxy.test/torch/{WHEEL.filename}.metadata")
        )
        self.assertEqual(response.code, 200)
        self.assertEqual(result_now(self.treq.content(response)), WHEEL.metadata)
        self.assertEqual(
            response.headers.getRawHeaders("cache-control"),
            ["max-age=365000000, immutable"],
        )
        self.assertEqual(response.headers.getRawHeaders("x-cache"), ["DUMMY"])
        self.assertEqual(self.stats.dummy_files, 0)

    def test_head(self) -> None:
        """
        ``HEAD`` gives the wheel's headers without the body, and counts
        nothing as served.
        """
        response = result_now(
            self.treq.head(f"http://proxy.test/torch/{WHEEL.filename}")
        )
        self.assertEqual(response.code, 200)
        etag = '"' + hashlib.sha256(WHEEL.content).hexdigest()[:32] + '"'
        self.assertEqual(response.headers.getRawHeaders("etag"), [etag])
        self.assertEqual(response.headers.getRawHeaders("x-cache"), ["DUMMY"])
        self.assertEqual(result_now(self.treq.content(response)), b"")
        self.assertEqual(self.stats.dummy_files, 0)

    def test_not_modified(self) -> None:
        """
        A request whose ``If-None-Match`` holds the wheel's ETag is answered
        304 without the body.
        """
        etag = '"' + hashlib.sha256(WHEEL.content).hexdigest()[:32] + '"'
        response = result_now(
            self.treq.get(
                f"http://proxy.test/torch/{WHEEL.filename}",
                headers={"If-None-Match": etag},
            )
        )
        self.assertEqual(response.code, 304)
        self.assertEqual(result_now(self.treq.content(response)), b"")

    def test_unknown(self) -> None:
        """
        An unknown version, a project that is no dummy, and a path of the
        wrong depth are 404.
        """
        for path in [
            "torch/torch-9.9.9-py3-none-any.whl",
            f"numpy/{WHEEL.filename}",
            f"torch/{WHEEL.filename}/extra",
            "torch",
        ]:
            with self.subTest(path=path):
                response = result_now(self.treq.get(f"http://proxy.test/{path}"))
                self.assertEqual(response.code, 404)
                result_now(self.treq.content(response))
