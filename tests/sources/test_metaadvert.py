"""
Tests for :mod:`twisted_pypi.sources.metaadvert`: what pages advertise of
the core metadata the proxy makes for wheels whose index offers none.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.config import IndexConfig
from twisted_pypi.core.lookup import PageEntry
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.sources.metaadvert import (
    PROBE_RETRY,
    PROBE_WAIT,
    Advert,
    MetadataAdvertiser,
)
from twisted_pypi.storage.metacatalog import (
    CATALOG_SUFFIX,
    EXTRACTED,
    MetadataCatalog,
    Synthesized,
    file_key,
)
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.upstream.ranged import RangeSupport

RANGED_HOST = "https://ranged.example"
PLAIN_HOST = "https://plain.example"
HASH = "ab" * 32


def wheel(host: str, version: str, **kwargs: Any) -> DistFile:
    """A wheel of ``demo`` on ``host``."""
    name = f"demo-{version}-py3-none-any.whl"
    return DistFile(name, f"{host}/p/{name}", project="demo", **kwargs)


def segments(dist: DistFile) -> tuple[str, ...]:
    """The place in the store of a wheel of these tests."""
    return ("pypi", "https", dist.url.split("/")[2], "p", dist.filename)


class _Probes:
    """A probe function that records and holds its calls."""

    def __init__(self, support: RangeSupport) -> None:
        self.support = support
        self.calls: list[tuple[DistFile, tuple[str, ...]]] = []
        self.pending: list[Deferred[None]] = []

    def __call__(self, dist: DistFile, at: tuple[str, ...]) -> Deferred[None]:
        self.calls.append((dist, at))
        d: Deferred[None] = Deferred()
        self.pending.append(d)
        return d


class EnrichTests(SynchronousTestCase):
    """
    :meth:`MetadataAdvertiser.enrich`.
    """

    def setUp(self) -> None:
        self.catalog = MetadataCatalog(
            LocalRecords(FilePath(self.mktemp()), CATALOG_SUFFIX)
        )
        self.support = RangeSupport()
        self.support.learn(RANGED_HOST, True)
        self.support.learn(PLAIN_HOST, False)
        self.advertiser = MetadataAdvertiser(self.catalog, self.support)

    def test_advertised(self) -> None:
        """
        A wheel the catalog knows is advertised with its hash, a wheel of an
        origin that honours ranges with ``true``, a wheel of one that does
        not with nothing; each advertised one is marked as the proxy's.
        """
        known = wheel(PLAIN_HOST, "1.0")
        entry = Synthesized(HASH, EXTRACTED, 10)
        self.catalog.put("pypi", "demo", file_key(segments(known)), entry)
        ranged, plain = wheel(RANGED_HOST, "2.0"), wheel(PLAIN_HOST, "3.0")
        page = ProjectPage("demo", (known, ranged, plain))
        enriched, advert = self.advertiser.enrich("pypi", page)
        files = enriched.files
        self.assertEqual(files[0].core_metadata, {"sha256": HASH})
        self.assertEqual(files[1].core_metadata, True)
        self.assertIsNone(files[2].core_metadata)
        self.assertEqual([f.synthesized_metadata for f in files], [True, True, False])
        self.assertEqual(advert, Advert(self.advertiser.stamp("pypi", "demo")))
        self.assertIsNone(advert.probe)

    def test_untouched(self) -> None:
        """
        Files whose index offers metadata, and sdists, are left as they
        are; a page with nothing to change is the same page.
        """
        offered = wheel(RANGED_HOST, "1.0", core_metadata={"sha256": HASH})
        sdist = DistFile("demo-1.0.tar.gz", f"{RANGED_HOST}/p/demo-1.0.tar.gz")
        page = ProjectPage("demo", (offered, sdist))
        enriched, _ = self.advertiser.enrich("pypi", page)
        self.assertIs(enriched, page)
        self.assertFalse(enriched.files[0].synthesized_metadata)

    def test_again(self) -> None:
        """
        A page enriched before is enriched as if new: what changed since
        shows (a hash replaces ``true``), what no longer holds goes.
        """
        dist = wheel(RANGED_HOST, "1.0")
        page, _ = self.advertiser.enrich("pypi", ProjectPage("demo", (dist,)))
        self.assertEqual(page.files[0].core_metadata, True)
        entry = Synthesized(HASH, EXTRACTED, 10)
        self.catalog.put("pypi", "demo", file_key(segments(dist)), entry)
        page, _ = self.advertiser.enrich("pypi", page, fresh=False)
        self.assertEqual(page.files[0].core_metadata, {"sha256": HASH})
        self.catalog.put("pypi", "demo", file_key(segments(dist)), None)
        self.support.learn(RANGED_HOST, False)
        page, _ = self.advertiser.enrich("pypi", page, fresh=False)
        self.assertIsNone(page.files[0].core_metadata)
        self.assertFalse(page.files[0].synthesized_metadata)

    def test_probe_candidate(self) -> None:
        """
        A page listing wheels of an origin not known yet names the last of
        them, with its place, to probe the origin with.
        """
        first = wheel("https://new.example", "1.0")
        last = wheel("https://new.example", "2.0")
        page = ProjectPage("demo", (first, last, wheel(RANGED_HOST, "3.0")))
        enriched, advert = self.advertiser.enrich("pypi", page)
        self.assertEqual(advert.probe, last)
        self.assertEqual(advert.probe_at, segments(last))
        self.assertIsNone(enriched.files[1].core_metadata)

    def test_stale(self) -> None:
        """
        A page's advert is out of date once its project's catalog record,
        or what is known of origins, changed.
        """
        page = ProjectPage("demo", (wheel(RANGED_HOST, "1.0"),))
        _, advert = self.advertiser.enrich("pypi", page)
        self.assertFalse(self.advertiser.stale("pypi", "demo", advert))
        self.catalog.put("pypi", "other", "x.whl", Synthesized(HASH, EXTRACTED, 1))
        self.assertFalse(self.advertiser.stale("pypi", "demo", advert))
        self.catalog.put("pypi", "demo", "x.whl", Synthesized(HASH, EXTRACTED, 1))
        self.assertTrue(self.advertiser.stale("pypi", "demo", advert))
        _, advert = self.advertiser.enrich("pypi", page)
        self.support.learn("https://else.example", True)
        self.assertTrue(self.advertiser.stale("pypi", "demo", advert))


class ProbeTests(SynchronousTestCase):
    """
    :meth:`MetadataAdvertiser.wants_probe` and
    :meth:`MetadataAdvertiser.probe_origin`.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.support = RangeSupport()
        self.probes = _Probes(self.support)
        catalog = MetadataCatalog(LocalRecords(FilePath(self.mktemp()), CATALOG_SUFFIX))
        self.advertiser = MetadataAdvertiser(
            catalog, self.support, self.probes, self.clock
        )
        self.dist = wheel("https://new.example", "1.0")
        self.advert = Advert((0, 0), self.dist, segments(self.dist))

    def probe(self) -> Deferred[None]:
        """Probe the origin of the test's advert."""
        return Deferred.fromCoroutine(self.advertiser.probe_origin(self.advert))

    def test_wants(self) -> None:
        """
        A probe is wanted for a wheel of an origin not known yet; not once
        the origin is known, nor without a wheel or a probe function.
        """
        self.assertTrue(self.advertiser.wants_probe(self.advert))
        self.assertFalse(self.advertiser.wants_probe(Advert((0, 0))))
        quiet = MetadataAdvertiser(self.advertiser.catalog, self.support)
        self.assertFalse(quiet.wants_probe(self.advert))
        self.support.learn(self.dist.url, False)
        self.assertFalse(self.advertiser.wants_probe(self.advert))

    def test_one_per_origin(self) -> None:
        """
        Pages waiting for one origin share one probe; they go on when it
        ended.
        """
        first, second = self.probe(), self.probe()
        self.assertEqual(self.probes.calls, [(self.dist, segments(self.dist))])
        self.assertNoResult(first)
        self.support.learn(self.dist.url, True)
        self.probes.pending[0].callback(None)
        self.successResultOf(first)
        self.successResultOf(second)

    def test_timeout(self) -> None:
        """
        A page waits for a probe at most :data:`PROBE_WAIT` seconds; the
        probe goes on.
        """
        waiting = self.probe()
        self.clock.advance(PROBE_WAIT)
        self.successResultOf(waiting)
        self.assertFalse(self.probes.pending[0].called)

    def test_retry(self) -> None:
        """
        An origin whose probe taught nothing is not probed again for
        :data:`PROBE_RETRY` seconds.
        """
        waiting = self.probe()
        self.probes.pending[0].callback(None)
        self.successResultOf(waiting)
        self.assertFalse(self.advertiser.wants_probe(self.advert))
        self.clock.advance(PROBE_RETRY)
        self.assertTrue(self.advertiser.wants_probe(self.advert))

    def test_current(self) -> None:
        """
        :meth:`current` gives an up-to-date entry as it is, and builds an
        out-of-date one again, once for all who ask at once (the old one
        when it cannot be built again).
        """
        entry = _entry(Advert(self.advertiser.stamp("pypi", "demo")))
        rebuilt = _entry(None)
        builds: list[Deferred[PageEntry | None]] = []

        def rebuild() -> Deferred[PageEntry | None]:
            builds.append(Deferred())
            return builds[-1]

        def current() -> Deferred[PageEntry]:
            return Deferred.fromCoroutine(
                self.advertiser.current("pypi", "demo", entry, rebuild, probe=False)
            )

        self.assertIs(self.successResultOf(current()), entry)
        self.support.learn("https://x.example", True)
        first, second = current(), current()
        self.assertEqual(len(builds), 1)
        builds[0].callback(rebuilt)
        self.assertIs(self.successResultOf(first), rebuilt)
        self.assertIs(self.successResultOf(second), rebuilt)
        third = current()
        builds[1].callback(None)
        self.assertIs(self.successResultOf(third), entry)


def _entry(advert: Advert | None) -> PageEntry:
    """An entry of a page of ``demo`` built with ``advert``."""
    return PageEntry(
        index=IndexConfig("pypi", "https://index.example/simple/"),
        page=ProjectPage("demo"),
        fetched_at=0.0,
        upstream_etag=None,
        file_link=lambda dist: dist.url,
        project_link=lambda name: name,
        advert=advert,
    )
