"""
Tests for :mod:`twisted_pypi.files.metadata` (and the keeping of what it
makes, :mod:`twisted_pypi.files.metakeep`): the ``.metadata`` of wheels
whose index offers none, read from the cached wheel, by ranges of the
upstream's, or from the wheel's download.
"""

from __future__ import annotations

import hashlib
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.logger import LogLevel, capturedLogs
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeorigin import FakeOrigin
from tests.wheels import build_wheel
from twisted_pypi.core.links import metadata_segments
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.runner import run_now
from twisted_pypi.files.download import Downloads, FileSpec
from twisted_pypi.files.metadata import (
    EXTRACTED,
    RANGED,
    UPSTREAM,
    MetadataFiles,
    MetadataUnreachable,
    Obtained,
    synthesizes,
)
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.interfaces import StoreFull
from twisted_pypi.storage.metacatalog import (
    CATALOG_SUFFIX,
    MetadataCatalog,
    Synthesized,
    file_key,
)
from twisted_pypi.storage.readout import read_bytes
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.upstream.ranged import RangeSupport
from twisted_pypi.upstream.stream import streaming

WHEEL = build_wheel("demo", "1.0", padding=300_000)
#: The same wheel's name, other metadata: what a stale copy holds.
STALE = build_wheel("demo", "1.0", requires=["gone>=1"], padding=300_000)
URL = f"https://files.example/p/{WHEEL.filename}"
KEY = ("pypi", "https", "files.example", "p", WHEEL.filename)
DIST = DistFile(WHEEL.filename, URL, {"sha256": WHEEL.sha256}, project="demo")


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class _FullCache(FileCache):
    """A file cache whose commits find the disk full."""

    def commit(self, spool: Any, key: Any) -> Deferred[Any]:
        return fail(StoreFull("full"))


class MetadataFilesTests(SynchronousTestCase):
    """
    :class:`MetadataFiles` over a cache on disk, an origin in memory and a
    runner that runs at once.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.origin = FakeOrigin({URL: WHEEL.content})
        self.support = RangeSupport()
        self.counted: list[str] = []
        self.make(FileCache(FilePath(self.mktemp()), None, self.clock))

    def make(self, cache: FileCache) -> None:
        """The service over ``cache``, with its downloads."""
        self.cache = cache
        cache.scan()
        self.records = LocalRecords(FilePath(self.mktemp()), CATALOG_SUFFIX)
        self.catalog = MetadataCatalog(self.records)
        self.files = MetadataFiles(
            cache,
            self.catalog,
            self.origin,
            self.clock,
            run_now,
            self.support,
            self.counted.append,
        )
        self.downloads = Downloads(cache, streaming(self.origin), self.clock)
        self.downloads.committed = self.files.committed
        self.files.downloads = self.downloads

    def obtain(self, **kwargs: Any) -> Obtained:
        """The wheel's metadata, had at once."""
        return self.successResultOf(self.files.obtain(DIST, KEY, "demo", **kwargs))

    def stored(self) -> bytes | None:
        """The ``.metadata`` the store keeps for the wheel."""
        kept = Deferred.fromCoroutine(read_bytes(self.cache, metadata_segments(KEY)))
        result: bytes | None = self.successResultOf(kept)
        return result

    def entry(self) -> Synthesized | None:
        """The catalog's entry of the wheel."""
        return self.catalog.get("pypi", "demo", file_key(KEY))

    def download(self) -> None:
        """Download the wheel whole (committed, its metadata read)."""
        spec = FileSpec.of_file(DIST, KEY)
        self.successResultOf(self.downloads.start_or_join(spec).when_done())

    def test_synthesizes(self) -> None:
        """
        The proxy makes the metadata of wheels whose index offers none, or
        whose metadata it made itself; not of sdists, nor of wheels whose
        index offers it.
        """
        self.assertTrue(synthesizes(DIST))
        mine = DistFile(
            WHEEL.filename, URL, core_metadata=True, synthesized_metadata=True
        )
        self.assertTrue(synthesizes(mine))
        self.assertFalse(synthesizes(DistFile(WHEEL.filename, URL, core_metadata=True)))
        self.assertFalse(synthesizes(DistFile("demo-1.0.tar.gz", URL)))

    def test_by_ranges(self) -> None:
        """
        The metadata of an uncached wheel of an origin that honours ranges
        is read by a few ranged requests (never the whole wheel), kept in
        the store beside the wheel's place and recorded with its hash.
        """
        got = self.obtain()
        self.assertEqual(got, Obtained(WHEEL.metadata, RANGED, True))
        self.assertEqual(self.origin.whole(URL), 0)
        self.assertGreater(self.origin.ranged(URL), 0)
        self.assertEqual(self.stored(), WHEEL.metadata)
        self.assertEqual(
            self.entry(),
            Synthesized(sha256(WHEEL.metadata), RANGED, len(WHEEL.metadata)),
        )
        self.assertIs(self.support.honours(URL), True)

    def test_single_flight(self) -> None:
        """
        However many ask at once, one wheel's metadata is read once;
        cancelling one wait leaves the others.
        """
        self.origin.hold = True
        first = self.files.obtain(DIST, KEY, "demo")
        second = self.files.obtain(DIST, KEY, "demo")
        third = self.files.obtain(DIST, KEY, "demo")
        third.cancel()
        self.failureResultOf(third)
        while self.origin.held:
            self.origin.release()
        self.assertEqual(self.successResultOf(first).data, WHEEL.metadata)
        self.assertEqual(self.successResultOf(second).data, WHEEL.metadata)
        self.assertEqual(self.origin.ranged(URL), 1)

    def test_kept(self) -> None:
        """
        Metadata the store keeps is given without asking the upstream.
        """
        self.obtain()
        asked = len(self.origin.log)
        self.assertEqual(self.obtain().data, WHEEL.metadata)
        self.assertEqual(len(self.origin.log), asked)

    def test_commit_reads_metadata(self) -> None:
        """
        A wheel's download, once committed, has its metadata read and kept
        with its hash; the upstream is asked for no range.
        """
        self.download()
        self.assertEqual(self.stored(), WHEEL.metadata)
        self.assertEqual(
            self.entry(),
            Synthesized(sha256(WHEEL.metadata), EXTRACTED, len(WHEEL.metadata)),
        )
        self.assertEqual(self.origin.ranged(URL), 0)

    def test_commit_checks_ranged(self) -> None:
        """
        Metadata read by ranges that is not the downloaded wheel's is caught
        when the wheel is committed: logged, and replaced by the wheel's.
        """
        self.origin.ranged_files[URL] = STALE.content
        self.assertEqual(self.obtain().data, STALE.metadata)
        with capturedLogs() as events:
            self.download()
        warnings = [e for e in events if e["log_level"] is LogLevel.warn]
        self.assertEqual(len(warnings), 1)
        self.assertEqual(warnings[0]["old"], sha256(STALE.metadata))
        self.assertEqual(self.stored(), WHEEL.metadata)
        entry = self.entry()
        assert entry is not None
        self.assertEqual(
            (entry.sha256, entry.source), (sha256(WHEEL.metadata), EXTRACTED)
        )

    def test_commit_confirms_ranged(self) -> None:
        """
        Metadata read by ranges that is the wheel's stays as it was.
        """
        self.obtain()
        version = self.catalog.version("pypi", "demo")
        with capturedLogs() as events:
            self.download()
        self.assertEqual([e for e in events if e["log_level"] is LogLevel.warn], [])
        self.assertEqual(self.catalog.version("pypi", "demo"), version)
        entry = self.entry()
        assert entry is not None
        self.assertEqual(entry.source, RANGED)

    def test_commit_others(self) -> None:
        """
        Nothing is read from a committed wheel whose index offers its
        metadata, nor from an sdist, nor from a file not listed on a page.
        """
        listed = DistFile(WHEEL.filename, URL, core_metadata={"sha256": "0" * 64})
        spec = FileSpec.of_file(listed, KEY)
        self.successResultOf(self.downloads.start_or_join(spec).when_done())
        self.assertIsNone(self.stored())
        sdist_url = "https://files.example/p/demo-1.0.tar.gz"
        self.origin.files[sdist_url] = b"not really"
        sdist = DistFile("demo-1.0.tar.gz", sdist_url)
        key = (*KEY[:-1], "demo-1.0.tar.gz")
        self.successResultOf(
            self.downloads.start_or_join(FileSpec.of_file(sdist, key)).when_done()
        )
        self.assertIsNone(self.cache.stat(metadata_segments(key)))
        other = (*KEY[:-1], "other-1.0-py3-none-any.whl")
        self.successResultOf(
            self.downloads.start_or_join(FileSpec(URL, other)).when_done()
        )
        self.assertIsNone(self.cache.stat(metadata_segments(other)))

    def test_cached_wheel(self) -> None:
        """
        A wheel cached without its metadata (cached before the proxy made
        any) has it read from the store, without the upstream.
        """
        self.downloads.committed = None
        self.download()
        self.assertIsNone(self.stored())
        asked = len(self.origin.log)
        got = self.obtain()
        self.assertEqual(got, Obtained(WHEEL.metadata, EXTRACTED, True))
        self.assertEqual(len(self.origin.log), asked)

    def test_no_ranges(self) -> None:
        """
        An uncached wheel of an origin that ignores ranges has no metadata
        to give (its page did not advertise any): no download is started,
        and the origin is known not to honour ranges.
        """
        self.origin.ranges = False
        self.failureResultOf(self.files.obtain(DIST, KEY, "demo"), MetadataUnreachable)
        self.assertIs(self.support.honours(URL), False)
        self.assertEqual(self.downloads.in_flight(), [])
        self.failureResultOf(self.files.obtain(DIST, KEY, "demo"), MetadataUnreachable)
        self.assertEqual(self.origin.ranged(URL), 1, "not asked again")

    def test_no_ranges_in_flight(self) -> None:
        """
        For a wheel of an origin that ignores ranges whose download is in
        flight, the download is waited for.
        """
        self.origin.ranges = False
        self.support.learn(URL, False)
        self.origin.hold = True
        self.downloads.start_or_join(FileSpec.of_file(DIST, KEY))
        waiting = self.files.obtain(DIST, KEY, "demo")
        self.assertNoResult(waiting)
        self.origin.release()
        self.assertEqual(self.successResultOf(waiting).data, WHEEL.metadata)
        self.assertEqual(self.origin.ranged(URL), 0)

    def test_advertised_downloads(self) -> None:
        """
        A wheel whose metadata a page advertised with its hash, but which
        the store no longer keeps (nor the wheel), of an origin that ignores
        ranges, is downloaded to read it: what is advertised is served.
        """
        self.origin.ranges = False
        self.support.learn(URL, False)
        entry = Synthesized(sha256(WHEEL.metadata), EXTRACTED, len(WHEEL.metadata))
        self.catalog.put("pypi", "demo", file_key(KEY), entry)
        self.assertEqual(self.obtain().data, WHEEL.metadata)
        self.assertEqual(self.origin.whole(URL), 1)

    def test_ranges_fail(self) -> None:
        """
        When the ranged read of a wheel of an origin known to honour ranges
        fails (its page advertised the metadata), the wheel is downloaded.
        """
        self.support.learn(URL, True)
        self.origin.ranged_files[URL] = b"not a zip"
        self.assertEqual(self.obtain().data, WHEEL.metadata)
        self.assertEqual(self.origin.whole(URL), 1)

    def test_local_only(self) -> None:
        """
        Asked for ``local_only``, the upstream is never asked: an uncached
        wheel has none.
        """
        self.failureResultOf(
            self.files.obtain(DIST, KEY, "demo", local_only=True), MetadataUnreachable
        )
        self.assertEqual(self.origin.log, [])

    def test_probe(self) -> None:
        """
        A probe reads the wheel's metadata by ranges, teaching whether the
        origin honours them; it never fails.
        """
        self.successResultOf(self.files.probe(DIST, KEY))
        self.assertIs(self.support.honours(URL), True)
        self.assertEqual(self.stored(), WHEEL.metadata)
        self.origin.failing.add(URL)
        other = (*KEY[:-1], "x-1.0-py3-none-any.whl")
        self.assertIsNone(self.successResultOf(self.files.probe(DIST, other)))

    def test_store_full(self) -> None:
        """
        Metadata the store could not keep is still given, and not recorded
        in the catalog: no page advertises a hash the store cannot serve.
        """
        self.make(_FullCache(FilePath(self.mktemp()), None, self.clock))
        self.assertEqual(self.obtain(), Obtained(WHEEL.metadata, RANGED, False))
        self.assertIsNone(self.entry())

    def test_served_counts(self) -> None:
        """
        What is served is counted by source: the catalog says which cached
        ``.metadata`` is the proxy's and how it was had (read from the
        record store when not in memory); the others are the index's.
        """
        self.obtain()
        meta = metadata_segments(KEY)
        self.files.served_cached(meta, "demo")
        self.files.served_cached(meta, None)
        self.files.served_cached((*KEY[:-1], "up-1.0-py3-none-any.whl.metadata"), None)
        self.files.served_cached((*KEY[:-1], "odd.metadata"), None)
        self.files.served(UPSTREAM)
        self.assertEqual(self.counted, [RANGED, RANGED, UPSTREAM, UPSTREAM, UPSTREAM])
        counted: list[str] = []
        restarted = MetadataFiles(
            self.cache,
            MetadataCatalog(self.records),
            self.origin,
            self.clock,
            run_now,
            self.support,
            counted.append,
        )
        restarted.served_cached(meta, "demo")
        self.assertEqual(counted, [RANGED])
