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

from treq.testing import StubTreq
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
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
