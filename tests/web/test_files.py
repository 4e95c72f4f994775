"""
Tests for the ``/files/`` part of the proxy (:mod:`twisted_pypi.web.files`),
through the real resource tree: a fake upstream index serving real wheels
(pages through ``StubTreq``, files through the proxy's own fetcher over
``RequestTraversalAgent``), the proxy's tree, a ``Clock``, and a cache
directory on disk.
"""

from __future__ import annotations

import hashlib
import json
import os

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy, parse_raw, result_now
from tests.wheels import build_sdist, build_wheel

OLD = build_wheel("demo", "1.0")
NEW = build_wheel("demo", "2.0", requires=["other>=1"])
SDIST = build_sdist("demo", "2.0")
#: Served by the upstream (under another project's page) but never listed
#: on ``demo``'s page.
UNLISTED = build_wheel("demo", "9.0")
BAD_HASH = build_wheel("broken", "1.0")
BAD_SIZE = build_wheel("short", "1.0")

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


def make_index() -> FakeIndex:
    """
    A fake upstream: ``demo`` (two wheels and an sdist), a project
    advertising a wrong hash, one advertising a wrong size, and a file
    the upstream serves that no page of its project lists.
    """
    index = FakeIndex()
    index.add("demo", FakeFile(OLD), FakeFile(NEW), FakeFile(SDIST))
    index.add("broken", FakeFile(BAD_HASH, hash_override="0" * 64))
    index.add("short", FakeFile(BAD_SIZE, size_override=len(BAD_SIZE.content) + 1))
    index.add("elsewhere", FakeFile(UNLISTED))
    return index


def sha256(data: bytes) -> str:
    """
    The hex sha256 of ``data``.
    """
    return hashlib.sha256(data).hexdigest()


class FilesTestCase(SynchronousTestCase):
    """
    A :class:`MemoryProxy` with its cache directory inside a directory of its
    own (``self.base``), so that anything written beside it shows.
    """

    def setUp(self) -> None:
        self.index = make_index()
        self.base = FilePath(self.mktemp())
        self.base.makedirs()
        self.cache_dir = self.base.child("cache")
        self.proxy = MemoryProxy(self.index, self.cache_dir)

    def upstream_gets(self, filename: str) -> int:
        """
        How many ``GET`` requests the upstream had for a file.
        """
        return self.index.count(f"/packages/{filename}")

    def cached_files(self) -> list[str]:
        """
        Every file under the cache's ``files`` and ``tmp`` directories,
        relative to the cache directory.
        """
        found = []
        for area in ("files", "tmp"):
            top = self.cache_dir.child(area).path
            for dirpath, _, filenames in os.walk(top):
                for name in filenames:
                    path = os.path.join(dirpath, name)
                    found.append(os.path.relpath(path, self.cache_dir.path))
        return sorted(found)


class DownloadTests(FilesTestCase):
    """
    Listed files: downloaded once, then served from disk.
    """

    def test_download_once_then_hit(self) -> None:
        """
        The first ``GET`` downloads the file (MISS) with the index's sha256;
        the next is a HIT from disk without asking the upstream again.
        """
        path = self.proxy.file_path(NEW.filename)
        first = self.proxy.get(path)
        self.assertEqual(first.code, 200)
        self.assertEqual(first.header("x-cache"), "MISS")
        self.assertEqual(first.length, len(NEW.content))
        self.assertEqual(sha256(first.body), NEW.sha256)
        second = self.proxy.get(path)
        self.assertEqual(second.code, 200)
        self.assertEqual(second.header("x-cache"), "HIT")
        self.assertEqual(second.body, NEW.content)
        self.assertEqual(self.upstream_gets(NEW.filename), 1)
        self.assertEqual(self.index.count("/simple/demo/"), 1)
        cached = self.proxy.cache.lookup(path.split("/")[2:])
        assert cached is not None
        self.assertEqual(cached.getContent(), NEW.content)

    def test_sha256_matches_page(self) -> None:
        """
        The bytes served hash to what the proxy's own page advertises.
        """
        page = json.loads(self.proxy.get("/simple/demo/", headers=JSON).body)
        advertised = {f["filename"]: f["hashes"]["sha256"] for f in page["files"]}
        for wheel in (OLD, NEW, SDIST):
            answer = self.proxy.get(self.proxy.file_path(wheel.filename))
            self.assertEqual(sha256(answer.body), advertised[wheel.filename])

    def test_metadata(self) -> None:
        """
        ``<file>.metadata`` serves the wheel's METADATA, whose sha256 is the
        ``core-metadata`` hash the page advertises, without downloading the
        wheel; it is then cached too.
        """
        page = json.loads(self.proxy.get("/simple/demo/", headers=JSON).body)
        files = {f["filename"]: f for f in page["files"]}
        path = self.proxy.file_path(NEW.filename) + ".metadata"
        answer = self.proxy.get(path)
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.body, NEW.metadata)
        self.assertEqual(
            sha256(answer.body), files[NEW.filename]["core-metadata"]["sha256"]
        )
        self.assertIn(b"Requires-Dist: other>=1", answer.body)
        self.assertEqual(self.upstream_gets(NEW.filename), 0)
        again = self.proxy.get(path)
        self.assertEqual((again.header("x-cache"), again.body), ("HIT", NEW.metadata))
        self.assertEqual(self.upstream_gets(NEW.filename + ".metadata"), 1)

    def test_sdist_not_encoded(self) -> None:
        """
        A ``.tar.gz`` is served as opaque bytes: no ``Content-Encoding``,
        whether downloading or cached, even to a client that accepts gzip.
        """
        path = self.proxy.file_path(SDIST.filename)
        for expected in ("MISS", "HIT"):
            answer = self.proxy.get(path, headers={"Accept-Encoding": "gzip"})
            self.assertEqual(answer.header("x-cache"), expected)
            self.assertIsNone(answer.header("content-encoding"), expected)
            self.assertEqual(answer.header("content-type"), "application/gzip")
            self.assertEqual(answer.body, SDIST.content)

    def test_cache_headers(self) -> None:
        """
        Files are immutable for clients, downloading or cached.
        """
        path = self.proxy.file_path(OLD.filename)
        for _ in range(2):
            answer = self.proxy.get(path)
            self.assertEqual(
                answer.header("cache-control"), "max-age=365000000, immutable"
            )

    def test_stale_page_upstream_down(self) -> None:
        """
        A cached file is served (HIT) while its page is stale and the upstream
        fails everything: a cached file never depends on a fresh page.
        """
        path = self.proxy.file_path(OLD.filename)
        self.proxy.get(path)
        self.proxy.clock.advance(1000)
        for failing in ("/simple/demo/", f"/packages/{OLD.filename}"):
            self.index.fail[failing] = 500
        requests = len(self.index.requests)
        answer = self.proxy.get(path)
        self.assertEqual((answer.code, answer.header("x-cache")), (200, "HIT"))
        self.assertEqual(answer.body, OLD.content)
        self.assertEqual(len(self.index.requests), requests)

    def test_page_unavailable(self) -> None:
        """
        An uncached file whose page cannot be fetched is a 502, and the file
        is not requested.
        """
        self.index.fail["/simple/demo/"] = 500
        answer = self.proxy.get(self.proxy.file_path(OLD.filename))
        self.assertEqual(answer.code, 502)
        self.assertEqual(self.upstream_gets(OLD.filename), 0)

    def test_page_timeout(self) -> None:
        """
        An uncached file whose page does not come within the timeout is a
        504 saying so, and the file is not requested; a file its page does
        not list is a 404.
        """
        self.index.hold_paths.add("/simple/demo/")
        d = self.proxy.request(self.proxy.file_path(OLD.filename))
        self.proxy.flush()
        self.proxy.clock.advance(self.proxy.config.connect_timeout)
        self.proxy.flush()
        answer = self.proxy.answer(self.successResultOf(d))
        self.assertEqual(answer.code, 504, answer.body)
        self.assertIn(b"Upstream timed out: no answer from", answer.body)
        self.assertEqual(self.upstream_gets(OLD.filename), 0)
        self.index.hold_paths.clear()
        missing = self.proxy.get(self.proxy.file_path("demo-9.9-py3-none-any.whl"))
        self.assertEqual(missing.code, 404)
        self.assertIn(b"No such file on the index.", missing.body)


class HeadTests(FilesTestCase):
    """
    ``HEAD`` never downloads.
    """

    def head(self, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
        """
        The status, headers and any body bytes of a ``HEAD`` for ``path``, as
        sent on the wire (Twisted's client would hide a body and a length).
        """
        transport = self.proxy.raw(
            f"HEAD {path} HTTP/1.1\r\nHost: proxy.test\r\n\r\n".encode()
        )
        return parse_raw(transport.value())

    def test_uncached(self) -> None:
        """
        ``HEAD`` on an uncached file answers the index's size as
        ``Content-Length``, with no body, and downloads nothing.
        """
        status, headers, body = self.head(self.proxy.file_path(NEW.filename))
        self.assertEqual(status, 200)
        self.assertEqual(headers[b"content-length"], str(len(NEW.content)).encode())
        self.assertEqual(headers[b"content-type"], b"application/zip")
        self.assertEqual(headers[b"x-cache"], b"MISS")
        self.assertEqual(body, b"")
        self.assertEqual(self.upstream_gets(NEW.filename), 0)
        self.assertEqual(self.index.count(f"/packages/{NEW.filename}", "HEAD"), 0)
        self.assertEqual(self.cached_files(), [])

    def test_cached(self) -> None:
        """
        ``HEAD`` on a cached file is a HIT with the file's length and no body.
        """
        path = self.proxy.file_path(OLD.filename)
        self.proxy.get(path)
        status, headers, body = self.head(path)
        self.assertEqual((status, headers[b"x-cache"]), (200, b"HIT"))
        self.assertEqual(headers[b"content-length"], str(len(OLD.content)).encode())
        self.assertEqual(body, b"")
        self.assertEqual(self.upstream_gets(OLD.filename), 1)


class RefusalTests(FilesTestCase):
    """
    The proxy fetches only what a page lists, and never leaves its cache.
    """

    def test_unlisted(self) -> None:
        """
        A file the upstream has but the project's page does not list is a
        404, and the upstream is never asked for it: not an open proxy.
        """
        answer = self.proxy.get(self.proxy.file_path(UNLISTED.filename))
        self.assertEqual(answer.code, 404)
        self.assertEqual(self.index.count("/simple/demo/"), 1)
        self.assertEqual(self.upstream_gets(UNLISTED.filename), 0)
        self.assertEqual(self.cached_files(), [])

    def test_other_host(self) -> None:
        """
        A listed filename under another host or path is a 404 with no file
        request anywhere.
        """
        name = self.proxy.index_name
        for path in (
            f"/files/{name}/http/evil.test/packages/{OLD.filename}",
            f"/files/{name}/https/upstream.test/packages/{OLD.filename}",
            f"/files/{name}/http/upstream.test/elsewhere/{OLD.filename}",
        ):
            self.assertEqual(self.proxy.get(path).code, 404, path)
        self.assertEqual(
            [p for _, p in self.index.requests if not p.startswith("/simple/")], []
        )

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """
        Every path under ``self.base`` except the cache's ``pages``, with
        size and modification time.
        """
        found = {}
        for dirpath, dirnames, filenames in os.walk(self.base.path):
            dirnames[:] = [d for d in dirnames if d != "pages"]
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                relative = os.path.relpath(path, self.base.path)
                found[relative] = (st.st_size, st.st_mtime_ns)
        return found

    def test_unsafe_paths(self) -> None:
        """
        Paths with ``..``, encoded slashes or backslashes, NUL, hidden
        segments, an unknown index name or too few segments are 404s: the
        upstream is not asked for any file and nothing is written outside
        (or inside) the cache.
        """
        self.base.child("secret-1.0-py3-none-any.whl").setContent(b"secret")
        before = self.snapshot()
        name = self.proxy.index_name
        good = f"http/upstream.test/packages/{OLD.filename}"
        paths = [
            f"/files/{name}/http/upstream.test/../../../secret-1.0-py3-none-any.whl",
            f"/files/{name}/http/upstream.test/packages/../{OLD.filename}",
            f"/files/{name}/http/upstream.test/%2E%2E/%2E%2E/{OLD.filename}",
            f"/files/{name}/http/upstream.test/packages%2F..%2F..%2F/{OLD.filename}",
            f"/files/{name}/http/upstream.test/..%5C..%5C{OLD.filename}",
            f"/files/{name}/http/upstream.test/packages/demo%00-1.0-py3-none-any.whl",
            f"/files/{name}/http/upstream.test/.hidden/{OLD.filename}",
            f"/files/{name}/http/upstream.test/packages/.{OLD.filename}",
            f"/files/{name}/http/upstream.test/packages/{OLD.filename}/..",
            f"/files/%2E%2E/{good}",
            f"/files/unknown-index/{good}",
            f"/files/{name}/http/{OLD.filename}",
            f"/files/{name}/{OLD.filename}",
            f"/files/{name}",
            "/files/",
            "/files",
        ]
        for path in paths:
            transport = self.proxy.raw(
                f"GET {path} HTTP/1.1\r\nHost: proxy.test\r\n\r\n".encode()
            )
            status, _, _ = parse_raw(transport.value())
            self.assertEqual(status, 404, path)
        self.assertEqual(
            [p for _, p in self.index.requests if not p.startswith("/simple/")], []
        )
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.cached_files(), [])


class VerificationTests(FilesTestCase):
    """
    Files that do not match what the index says are never cached.
    """

    def test_wrong_hash(self) -> None:
        """
        A body whose sha256 differs from the advertised one is not cached and
        the client's connection is aborted rather than finished; the next
        request downloads it again.
        """
        path = self.proxy.file_path(BAD_HASH.filename)
        request = f"GET {path} HTTP/1.1\r\nHost: proxy.test\r\n\r\n".encode()
        for attempt in (1, 2):
            transport = self.proxy.raw(request)
            status, _, _ = parse_raw(transport.value())
            self.assertIn(status, (200, 502))
            if status == 200:
                self.assertTrue(transport.disconnected, "connection not aborted")
            self.assertEqual(self.cached_files(), [])
            self.assertEqual(self.upstream_gets(BAD_HASH.filename), attempt)

    def test_wrong_size(self) -> None:
        """
        An upstream length that differs from the index's size is a 502 before
        anything is sent, and nothing is cached.
        """
        answer = self.proxy.get(self.proxy.file_path(BAD_SIZE.filename))
        self.assertEqual(answer.code, 502)
        self.assertEqual(self.cached_files(), [])
        self.assertEqual(self.upstream_gets(BAD_SIZE.filename), 1)


class ConcurrencyTests(FilesTestCase):
    """
    Many clients, one download.
    """

    def test_one_upstream_request(self) -> None:
        """
        Several concurrent ``GET`` requests for an uncached file make exactly
        one upstream request, and every client receives the identical, full
        bytes as they arrive.
        """
        self.index.hold_files = True
        path = self.proxy.file_path(NEW.filename)
        pending = [self.proxy.request(path) for _ in range(4)]
        self.proxy.flush()
        self.assertEqual(len(self.index.held), 1)
        self.assertEqual(self.upstream_gets(NEW.filename), 1)
        upstream = self.index.held[0]
        half = len(NEW.content) // 2
        upstream.write(NEW.content[:half])
        self.proxy.flush()
        responses = [result_now(d) for d in pending]
        self.assertEqual([r.code for r in responses], [200] * 4)
        late = self.proxy.request(path)
        upstream.write(NEW.content[half:])
        upstream.finish()
        self.proxy.flush()
        answers = [self.proxy.answer(r) for r in [*responses, result_now(late)]]
        for answer in answers:
            self.assertEqual(answer.body, NEW.content)
            self.assertEqual(answer.length, len(NEW.content))
        self.assertEqual(self.upstream_gets(NEW.filename), 1)
        self.assertEqual(self.proxy.get(path).header("x-cache"), "HIT")


class TimeoutTests(FilesTestCase):
    """
    An upstream that never answers a file request.
    """

    def test_no_headers(self) -> None:
        """
        When the upstream sends no response headers within the timeout, the
        client gets a 504 saying so (not before), and nothing is cached.
        """
        self.index.hold_paths.add(f"/packages/{OLD.filename}")
        d = self.proxy.request(self.proxy.file_path(OLD.filename))
        self.proxy.flush()
        self.assertEqual(self.upstream_gets(OLD.filename), 1)
        self.proxy.clock.advance(self.proxy.config.connect_timeout - 0.5)
        self.proxy.flush()
        self.assertNoResult(d)
        self.proxy.clock.advance(0.5)
        self.proxy.flush()
        answer = self.proxy.answer(self.successResultOf(d))
        self.assertEqual(answer.code, 504, answer.body)
        self.assertIn(b"no response headers within 10 s", answer.body)
        self.assertEqual(self.cached_files(), [])
