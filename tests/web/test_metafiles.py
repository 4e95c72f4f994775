"""
Tests for the core metadata of wheels whose index offers none, through the
proxy's real resource tree (:mod:`twisted_pypi.web.metafiles` and its call
in :mod:`twisted_pypi.web.files`, with the page cache, the advertiser and
the metadata service): a fake upstream with no PEP 658 metadata, with and
without ``Range`` support.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from twisted.logger import LogLevel, capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy, parse_raw
from tests.wheels import BuiltWheel, build_sdist, build_wheel

WHEELS = [build_wheel("demo", f"{v}.0", padding=150_000) for v in (1, 2, 3)]
SDIST = build_sdist("demo", "3.0")
#: A stale copy of the newest wheel, with other metadata.
STALE = build_wheel("demo", "3.0", requires=["gone>=9"], padding=150_000)

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class MetadataFilesTests(SynchronousTestCase):
    """
    A :class:`MemoryProxy` giving every wheel core metadata, in front of a
    fake index offering none.
    """

    def start(self, ranges: bool = True, **files: Any) -> MemoryProxy:
        """The proxy in front of ``demo``'s three wheels and an sdist."""
        self.index = FakeIndex(metadata=False, ranges=ranges)
        self.index.add("demo", *(FakeFile(w, **files) for w in WHEELS), FakeFile(SDIST))
        self.proxy = MemoryProxy(self.index, FilePath(self.mktemp()), synthesized=True)
        return self.proxy

    def page(self) -> dict[str, Any]:
        """``demo``'s JSON page, by filename."""
        answer = self.proxy.get("/simple/demo/", headers=JSON)
        self.assertEqual(answer.code, 200)
        return {f["filename"]: f for f in json.loads(answer.body)["files"]}

    def html_metadata(self) -> dict[str, tuple[str, str]]:
        """Each HTML link's ``data-core-metadata`` and ``data-dist-info-metadata``."""
        body = self.proxy.get("/simple/demo/", headers={"Accept": "text/html"}).body
        found = re.findall(
            rb'/([^/"#]+)#sha256=[0-9a-f]+"[^>]*?'
            rb'data-core-metadata="([^"]*)" data-dist-info-metadata="([^"]*)"',
            body,
        )
        return {n.decode(): (a.decode(), b.decode()) for n, a, b in found}

    def metadata(self, wheel: BuiltWheel, method: str = "GET") -> Any:
        """Ask the proxy for a wheel's ``.metadata``."""
        return self.proxy.get(
            self.proxy.file_path(wheel.filename) + ".metadata", method
        )

    def test_ranged(self) -> None:
        """
        With an upstream that honours ranges, every wheel is advertised in
        both formats (the sdist is not), its ``.metadata`` is exactly its
        ``METADATA``, read by ranges (no wheel downloaded whole, no
        ``.metadata`` asked of the upstream), and the hashes the page then
        advertises are those of the bytes served.
        """
        self.start()
        listed = self.page()
        self.assertIsNone(listed[SDIST.filename].get("core-metadata"))
        for wheel in WHEELS:
            self.assertIn(
                listed[wheel.filename]["core-metadata"],
                (True, {"sha256": sha256(wheel.metadata)}),
            )
        html = self.html_metadata()
        self.assertEqual(sorted(html), sorted(w.filename for w in WHEELS))
        for wheel in WHEELS:
            answer = self.metadata(wheel)
            self.assertEqual(answer.code, 200)
            self.assertEqual(answer.body, wheel.metadata)
            self.assertEqual(self.index.whole_downloads(wheel.filename), 0)
        listed = self.page()
        for wheel in WHEELS:
            self.assertEqual(
                listed[wheel.filename]["core-metadata"],
                {"sha256": sha256(wheel.metadata)},
            )
            self.assertEqual(
                listed[wheel.filename]["data-dist-info-metadata"],
                {"sha256": sha256(wheel.metadata)},
            )
        for value in self.html_metadata().values():
            self.assertTrue(value[0].startswith("sha256="))
            self.assertEqual(value[0], value[1])
        self.assertEqual(
            [p for _, p in self.index.requests if p.endswith(".metadata")], []
        )
        served = self.proxy.stats.metadata_served
        self.assertEqual(served.get("ranged"), 3)

    def test_probe_once(self) -> None:
        """
        The first page reads the newest wheel's metadata by ranges before it
        is served (the origin is then known to honour them): that wheel is
        advertised with its hash at once, and its ``.metadata`` is a hit.
        """
        self.start()
        listed = self.page()
        newest = WHEELS[-1]
        self.assertEqual(
            listed[newest.filename]["core-metadata"],
            {"sha256": sha256(newest.metadata)},
        )
        self.assertEqual(listed[WHEELS[0].filename]["core-metadata"], True)
        self.assertEqual(self.metadata(newest).header("x-cache"), "HIT")
        self.page()
        self.assertEqual(self.index.ranged_reads(WHEELS[0].filename), 0)
        self.assertEqual(self.index.ranged_reads(newest.filename), 1)

    def test_no_ranges(self) -> None:
        """
        With an upstream that ignores ranges, no wheel is advertised, and a
        ``.metadata`` asked for anyway is 404, starting no download; once a
        wheel was downloaded, it is advertised with the hash of its
        ``METADATA``, served from the cache.
        """
        self.start(ranges=False)
        listed = self.page()
        self.assertEqual([f.get("core-metadata") for f in listed.values()], [None] * 4)
        self.assertEqual(self.html_metadata(), {})
        wheel = WHEELS[0]
        self.assertEqual(self.metadata(wheel).code, 404)
        self.assertEqual(self.index.whole_downloads(wheel.filename), 0)
        self.assertEqual(self.proxy.get(self.proxy.file_path(wheel.filename)).code, 200)
        listed = self.page()
        self.assertEqual(
            listed[wheel.filename]["core-metadata"], {"sha256": sha256(wheel.metadata)}
        )
        self.assertIsNone(listed[WHEELS[1].filename].get("core-metadata"))
        answer = self.metadata(wheel)
        self.assertEqual((answer.code, answer.header("x-cache")), (200, "HIT"))
        self.assertEqual(answer.body, wheel.metadata)
        self.assertEqual(self.proxy.stats.metadata_served, {"extracted": 1})

    def test_head(self) -> None:
        """
        ``HEAD`` for a ``.metadata`` not cached yet gives its length and
        no body.
        """
        self.start()
        wheel = WHEELS[0]
        path = self.proxy.file_path(wheel.filename) + ".metadata"
        transport = self.proxy.raw(
            f"HEAD {path} HTTP/1.1\r\nHost: proxy.test\r\n\r\n".encode()
        )
        status, headers, body = parse_raw(transport.value())
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(headers[b"content-length"], b"%d" % (len(wheel.metadata),))

    def test_mismatch(self) -> None:
        """
        Metadata read by ranges of a stale copy of a wheel is caught when
        the wheel itself is downloaded: logged, replaced by the wheel's, and
        the page advertises the new hash.
        """
        self.start()
        self.index.projects["demo"][2].ranged_wheel = STALE
        wheel = WHEELS[2]
        self.assertEqual(self.metadata(wheel).body, STALE.metadata)
        with capturedLogs() as events:
            self.assertEqual(
                self.proxy.get(self.proxy.file_path(wheel.filename)).code, 200
            )
        warned = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual([e["file"] for e in warned], [wheel.filename])
        self.assertEqual(self.metadata(wheel).body, wheel.metadata)
        listed = self.page()
        self.assertEqual(
            listed[wheel.filename]["core-metadata"], {"sha256": sha256(wheel.metadata)}
        )

    def test_upstream_metadata(self) -> None:
        """
        A wheel whose index offers its ``.metadata`` has it passed through
        (counted as the upstream's), as the page advertises it.
        """
        self.start()
        self.index.metadata = True
        self.proxy.clock.advance(1000)
        listed = self.page()
        wheel = WHEELS[0]
        self.assertEqual(
            listed[wheel.filename]["core-metadata"], {"sha256": sha256(wheel.metadata)}
        )
        self.assertEqual(self.metadata(wheel).body, wheel.metadata)
        self.assertEqual(self.metadata(wheel).header("x-cache"), "HIT")
        self.assertEqual(self.proxy.stats.metadata_served, {"upstream": 2})

    def test_metrics(self) -> None:
        """
        ``/-/metrics`` counts the ``.metadata`` served by source.
        """
        self.start()
        self.metadata(WHEELS[0])
        body = self.proxy.get("/-/metrics").body.decode()
        self.assertIn('pypiproxy_core_metadata_served_total{source="ranged"} 1.0', body)
        self.assertIn(
            'pypiproxy_core_metadata_served_total{source="upstream"} 0.0', body
        )
