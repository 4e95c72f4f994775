"""
Tests for :mod:`twisted_pypi.resolve.metadata`: fetching core metadata from
an index (a :class:`FakeIndex` behind ``StubTreq``) and from the file cache.
Parsing it is tested in ``tests/core/test_metadata.py``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any, cast

from treq.testing import RequestTraversalAgent, StubTreq
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers

from tests.fakeindex import FakeFile, FakeIndex
from tests.rangedindex import RangedIndex
from tests.storage.fakes3 import FakeS3
from tests.wheels import BuiltWheel, build_sdist, build_wheel
from twisted_pypi.core.metadata import (
    MetadataError,
    MetadataUnavailable,
)
from twisted_pypi.core.model import DistFile
from twisted_pypi.resolve.metadata import CachedMetadataSource, IndexMetadataSource
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace

WHEEL = build_wheel("demo", "1.0", requires=["lib>=1", "extra-dep; extra == 'x'"])
SDIST = build_sdist("demo", "1.0", requires=["lib>=1"], metadata_version="2.2")
BASE = "http://upstream.test/packages/"


class IndexMetadataSourceTests(SynchronousTestCase):
    """
    :class:`IndexMetadataSource` against a fake index.
    """

    def setUp(self) -> None:
        self.index = FakeIndex()
        self.index.add("demo", FakeFile(WHEEL), FakeFile(SDIST))
        self.stub = StubTreq(self.index)
        self.progress: list[str] = []
        self.source = IndexMetadataSource(
            cast(Any, self.stub), Clock(), progress=self.progress.append
        )

    def fetch(self, dist: DistFile) -> Deferred[bytes]:
        """
        Ask for ``dist``'s metadata and let the fake index answer.
        """
        d = Deferred.fromCoroutine(self.source.metadata(dist))
        self.stub.flush()
        return d

    def dist(self, built: BuiltWheel, **kwargs: Any) -> DistFile:
        """
        A page's record of a file the fake index serves.
        """
        return DistFile(
            built.filename,
            BASE + built.filename,
            hashes={"sha256": built.sha256},
            size=len(built.content),
            **kwargs,
        )

    def test_pep658(self) -> None:
        """
        Advertised ``.metadata`` is fetched and checked; the file is not.
        """
        meta = {"sha256": hashlib.sha256(WHEEL.metadata).hexdigest()}
        result = self.fetch(self.dist(WHEEL, core_metadata=meta))
        self.assertEqual(self.successResultOf(result), WHEEL.metadata)
        self.assertEqual(self.index.count(f"/packages/{WHEEL.filename}.metadata"), 1)
        self.assertEqual(self.index.count(f"/packages/{WHEEL.filename}"), 0)
        self.assertEqual(self.progress, [])

    def test_pep658_hash_mismatch(self) -> None:
        """
        ``.metadata`` that does not match the advertised hash is an error.
        """
        result = self.fetch(self.dist(WHEEL, core_metadata={"sha256": "0" * 64}))
        failure = self.failureResultOf(result, MetadataError)
        self.assertIn("does not match", failure.getErrorMessage())

    def test_pep658_missing(self) -> None:
        """
        Advertised ``.metadata`` that is not there falls back to the file.
        """
        self.index.fail[f"/packages/{WHEEL.filename}.metadata"] = 404
        result = self.fetch(self.dist(WHEEL, core_metadata=True))
        self.assertEqual(self.successResultOf(result), WHEEL.metadata)
        self.assertEqual(self.index.count(f"/packages/{WHEEL.filename}"), 1)

    def test_wheel_download(self) -> None:
        """
        Without ``.metadata``, the wheel is downloaded, checked, and its
        ``METADATA`` read; progress says so.
        """
        result = self.fetch(self.dist(WHEEL))
        self.assertEqual(self.successResultOf(result), WHEEL.metadata)
        self.assertEqual(self.index.count(f"/packages/{WHEEL.filename}.metadata"), 0)
        self.assertEqual(len(self.progress), 1)
        self.assertIn(f"downloading {WHEEL.filename}", self.progress[0])

    def test_link_credentials(self) -> None:
        """
        A file whose link carried credentials is fetched with them as basic
        auth, its ``.metadata`` too, and a failure does not show them.
        """
        secret = "Basic " + base64.b64encode(b"u:s3cret").decode()
        self.index.require_auth = secret
        meta = {"sha256": hashlib.sha256(WHEEL.metadata).hexdigest()}
        dist = self.dist(WHEEL, core_metadata=meta, credentials=("u", "s3cret"))
        self.assertEqual(self.successResultOf(self.fetch(dist)), WHEEL.metadata)
        self.assertEqual(self.index.authorizations[-1][1], secret)
        self.index.fail[f"/packages/{WHEEL.filename}"] = 500
        self.index.fail[f"/packages/{WHEEL.filename}.metadata"] = 404
        failure = self.failureResultOf(self.fetch(dist), MetadataError)
        self.assertNotIn("s3cret", failure.getErrorMessage())

    def test_sdist_download(self) -> None:
        """
        Without ``.metadata``, an sdist's ``PKG-INFO`` is read.
        """
        result = self.fetch(self.dist(SDIST))
        self.assertEqual(self.successResultOf(result), SDIST.metadata)

    def test_too_large(self) -> None:
        """
        A file larger than the download cap is not downloaded: its metadata
        is unavailable, saying why.
        """
        dist = DistFile(WHEEL.filename, BASE + WHEEL.filename, size=2 << 30)
        failure = self.failureResultOf(self.fetch(dist), MetadataUnavailable)
        self.assertIn("2.0 GiB", failure.getErrorMessage())
        self.assertIn("100.0 MiB", failure.getErrorMessage())
        self.assertEqual(self.index.requests, [])

    def test_file_hash_mismatch(self) -> None:
        """
        A downloaded file that does not match its hash is an error.
        """
        dist = DistFile(WHEEL.filename, BASE + WHEEL.filename, {"sha256": "0" * 64})
        self.failureResultOf(self.fetch(dist), MetadataError)

    def test_upstream_error(self) -> None:
        """
        An error status is an error naming the file.
        """
        self.index.fail[f"/packages/{WHEEL.filename}"] = 503
        failure = self.failureResultOf(self.fetch(self.dist(WHEEL)), MetadataError)
        self.assertIn("503", failure.getErrorMessage())
        self.assertIn(WHEEL.filename, failure.getErrorMessage())


class CachedMetadataSourceTests(SynchronousTestCase):
    """
    :class:`CachedMetadataSource`: metadata from the proxy's file cache.
    """

    def setUp(self) -> None:
        self.index = FakeIndex()
        self.index.add("demo", FakeFile(WHEEL))
        self.stub = StubTreq(self.index)
        self.cache = FileCache(FilePath(self.mktemp()), None, Clock())
        upstream = IndexMetadataSource(cast(Any, self.stub), Clock())
        self.source = CachedMetadataSource(self.cache, "upstream.test", upstream)
        segments = ("upstream.test", "http", "upstream.test", "packages")
        self.wheel_path = self.cache.path_for((*segments, WHEEL.filename))
        self.wheel_path.parent().makedirs()
        self.metadata_path = self.wheel_path.siblingExtension(".metadata")

    def fetch(self, **kwargs: Any) -> Deferred[bytes]:
        """
        Ask for the demo wheel's metadata and let the fake index answer.
        """
        dist = DistFile(WHEEL.filename, BASE + WHEEL.filename, **kwargs)
        d = Deferred.fromCoroutine(self.source.metadata(dist))
        self.stub.flush()
        return d

    def test_cached_metadata(self) -> None:
        """
        A cached ``.metadata`` matching the advertised hash is used without
        asking the upstream.
        """
        self.metadata_path.setContent(WHEEL.metadata)
        meta = {"sha256": hashlib.sha256(WHEEL.metadata).hexdigest()}
        self.assertEqual(
            self.successResultOf(self.fetch(core_metadata=meta)), WHEEL.metadata
        )
        self.assertEqual(self.index.requests, [])

    def test_cached_metadata_mismatch(self) -> None:
        """
        A cached ``.metadata`` that does not match is ignored in favour of
        the upstream's.
        """
        self.metadata_path.setContent(b"Name: other\n")
        meta = {"sha256": hashlib.sha256(WHEEL.metadata).hexdigest()}
        self.assertEqual(
            self.successResultOf(self.fetch(core_metadata=meta)), WHEEL.metadata
        )
        self.assertEqual(len(self.index.requests), 1)

    def test_cached_wheel(self) -> None:
        """
        A cached wheel's ``METADATA`` is read when no ``.metadata`` is.
        """
        self.wheel_path.setContent(WHEEL.content)
        self.assertEqual(
            self.successResultOf(self.fetch(core_metadata=True)), WHEEL.metadata
        )
        self.assertEqual(self.index.requests, [])

    def test_not_cached(self) -> None:
        """
        Metadata the cache lacks comes from the upstream.
        """
        self.assertEqual(self.successResultOf(self.fetch()), WHEEL.metadata)
        self.assertEqual(self.index.count(f"/packages/{WHEEL.filename}"), 1)

    def test_metadata_in_shared_store(self) -> None:
        """
        A ``.metadata`` a shared store holds is used though this node has
        no copy of it (read through the store).
        """
        s3 = FakeS3()
        place = BucketPlace("b", "")
        segments = ("upstream.test", "http", "upstream.test", "packages")
        key = (*segments, WHEEL.filename + ".metadata")
        s3.objects["b", place.file_key(key)] = WHEEL.metadata
        store = S3FileStore(
            cast(Any, s3), place, FilePath(self.mktemp()), None, Clock()
        )
        upstream = IndexMetadataSource(cast(Any, self.stub), Clock())
        self.source = CachedMetadataSource(store, "upstream.test", upstream)
        meta = {"sha256": hashlib.sha256(WHEEL.metadata).hexdigest()}
        self.assertEqual(
            self.successResultOf(self.fetch(core_metadata=meta)), WHEEL.metadata
        )
        self.assertEqual(self.index.requests, [])

    def test_wheel_in_shared_store(self) -> None:
        """
        A wheel a shared store holds gives its ``METADATA`` though this
        node has no copy of it (read through the store into a temporary
        copy, by the runner given): the upstream is not asked.
        """
        s3 = FakeS3()
        place = BucketPlace("b", "")
        segments = ("upstream.test", "http", "upstream.test", "packages")
        s3.objects["b", place.file_key((*segments, WHEEL.filename))] = WHEEL.content
        store = S3FileStore(
            cast(Any, s3), place, FilePath(self.mktemp()), None, Clock()
        )
        upstream = IndexMetadataSource(cast(Any, self.stub), Clock())
        ran: list[object] = []

        def run(work: Callable[[], Any]) -> Deferred[Any]:
            ran.append(work)
            return succeed(work())

        self.source = CachedMetadataSource(store, "upstream.test", upstream, run)
        self.assertEqual(self.successResultOf(self.fetch()), WHEEL.metadata)
        self.assertEqual(self.index.requests, [])
        self.assertTrue(ran)


#: A wheel larger than :data:`LIMIT`, its ``METADATA`` near its end.
BIG = build_wheel("big", "1.0", requires=["dep>=2"], padding=150_000)

#: The download limit of the ranged tests.
LIMIT = 20_000


def traversal_fetch(agent: RequestTraversalAgent) -> Any:
    """
    A file fetcher (``fetch(url, method, extra)``) over an in-memory agent.
    """

    def fetch(
        url: str, method: bytes = b"GET", extra: dict[bytes, bytes] | None = None
    ) -> Deferred[Any]:
        headers = Headers({name: [value] for name, value in (extra or {}).items()})
        response: Deferred[Any] = agent.request(method, url.encode(), headers)
        return response

    return fetch


class RangedMetadataTests(SynchronousTestCase):
    """
    :class:`IndexMetadataSource` with a file fetcher, against an index with
    no PEP 658 metadata: wheels are read by ranges.
    """

    def setUp(self) -> None:
        self.index = RangedIndex()
        self.index.add("big", FakeFile(BIG))
        self.index.add("demo", FakeFile(WHEEL), FakeFile(SDIST))
        self.stub = StubTreq(self.index)
        self.fetched: list[str] = []
        agent = RequestTraversalAgent(self.index)
        fetch = traversal_fetch(agent)

        def recording(url: str, *args: Any) -> Deferred[Any]:
            self.fetched.append(url)
            return cast(Deferred[Any], fetch(url, *args))

        self.progress: list[str] = []
        self.ran: list[object] = []

        def run(work: Callable[[], Any]) -> Deferred[Any]:
            self.ran.append(work)
            return succeed(work())

        self.source = IndexMetadataSource(
            cast(Any, self.stub),
            Clock(),
            max_download=LIMIT,
            progress=self.progress.append,
            fetch=recording,
            run=run,
        )

    def fetch(self, built: BuiltWheel, **kwargs: Any) -> Deferred[bytes]:
        """
        Ask for ``built``'s metadata, its size and hash listed.
        """
        dist = DistFile(
            built.filename,
            BASE + built.filename,
            hashes={"sha256": built.sha256},
            size=len(built.content),
            **kwargs,
        )
        d = Deferred.fromCoroutine(self.source.metadata(dist))
        self.stub.flush()
        return d

    def test_over_the_limit(self) -> None:
        """
        A wheel larger than the download limit gives its ``METADATA``, read
        by ranges of it (the zip is read by the runner): the wheel is never
        sent whole, nothing is said of a download.
        """
        self.assertGreater(len(BIG.content), LIMIT)
        self.assertEqual(self.successResultOf(self.fetch(BIG)), BIG.metadata)
        self.assertEqual(self.index.whole, [])
        self.assertTrue(self.index.ranged)
        self.assertEqual({name for name, _ in self.index.ranged}, {BIG.filename})
        self.assertLess(sum(len(r) for r in self.index.ranged), len(BIG.content))
        self.assertTrue(self.ran)
        self.assertEqual(self.progress, [])
        self.assertIs(self.source.ranges.honours(BASE), True)

    def test_link_credentials(self) -> None:
        """
        A file whose link carried credentials is read by ranges at its URL
        with them (the file fetcher sends them as basic auth).
        """
        dist = DistFile(BIG.filename, BASE + BIG.filename, credentials=("u", "s3cret"))
        d = Deferred.fromCoroutine(self.source.metadata(dist))
        self.assertEqual(self.successResultOf(d), BIG.metadata)
        self.assertEqual(
            self.fetched[0], "http://u:s3cret@upstream.test/packages/" + BIG.filename
        )

    def test_not_found(self) -> None:
        """
        A wheel that is not there is an error naming it.
        """
        self.index.projects["big"] = []
        failure = self.failureResultOf(self.fetch(BIG), MetadataError)
        self.assertIn(BIG.filename, failure.getErrorMessage())
        self.assertIn("404", failure.getErrorMessage())

    def test_sdist_whole(self) -> None:
        """
        An sdist is downloaded whole (within the limit), not read by ranges.
        """
        self.assertEqual(self.successResultOf(self.fetch(SDIST)), SDIST.metadata)
        self.assertEqual(self.index.ranged, [])
        self.assertEqual(self.index.whole, [SDIST.filename])

    def test_not_honoured_falls_back(self) -> None:
        """
        When the origin answers a range with the whole file, a wheel within
        the limit is downloaded whole (checked against its hash, read by the
        runner), progress saying why; the origin is not asked for ranges
        again.
        """
        self.index.honour_ranges = False
        self.assertEqual(self.successResultOf(self.fetch(WHEEL)), WHEEL.metadata)
        self.assertIn("does not honour ranges", self.progress[-1])
        self.assertIs(self.source.ranges.honours(BASE), False)
        asked = len(self.fetched)
        self.assertEqual(self.successResultOf(self.fetch(WHEEL)), WHEEL.metadata)
        self.assertEqual(len(self.fetched), asked)
        self.assertEqual(self.index.ranged, [])
        self.assertTrue(self.ran)

    def test_not_honoured_hash_mismatch(self) -> None:
        """
        A wheel downloaded whole for lack of ranges that does not match its
        hash is an error.
        """
        self.index.honour_ranges = False
        dist = DistFile(WHEEL.filename, BASE + WHEEL.filename, {"sha256": "0" * 64})
        failure = self.failureResultOf(
            Deferred.fromCoroutine(self.source.metadata(dist)), MetadataError
        )
        self.assertIn("does not match", failure.getErrorMessage())
        self.assertEqual(self.index.ranged, [])

    def test_not_honoured_over_the_limit(self) -> None:
        """
        When the origin does not honour ranges, a wheel larger than the
        limit is not downloaded: its metadata is unavailable, saying why.
        """
        self.index.honour_ranges = False
        failure = self.failureResultOf(self.fetch(BIG), MetadataUnavailable)
        self.assertIn("does not honour ranges", failure.getErrorMessage())
        self.assertIn(BIG.filename, failure.getErrorMessage())
        self.assertEqual(self.index.ranged, [])
