"""
Tests for :mod:`twisted_pypi.sources.local`: a directory of wheels and sdists served
as an index of its own, directly and through the proxy's resource tree in
memory (``/simple/`` and ``/local/<name>/<file>``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from typing import Any

from twisted.internet.defer import Deferred
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import Answer, MemoryProxy, parse_raw, result_now
from tests.web.test_simple import Anchors, json_files
from tests.wheels import BuiltWheel, build_sdist, build_wheel
from twisted_pypi.core.config import LocalConfig
from twisted_pypi.core.links import RELATIVE, LinkPrefixes
from twisted_pypi.core.lookup import (
    CacheStatus,
    Lookup,
    LookupFailed,
    ProjectNotFound,
    UpstreamUnavailable,
)
from twisted_pypi.core.model import DistFile, ProjectList, ProjectPage
from twisted_pypi.sources.local import LocalFile, LocalIndex
from twisted_pypi.storage import privateplace as local_module

JSON = "application/vnd.pypi.simple.v1+json"

#: The wheel of the private project, with requirements of its own.
WHEEL = build_wheel(
    "Private.Lib", "1.0", requires=["tplib>=1.0"], requires_python=">=3.8"
)
#: An sdist of the same project.
SDIST = build_sdist("private-lib", "0.9")
#: A later wheel, dropped into the directory while the proxy runs.
LATER = build_wheel("private-lib", "2.0")
#: A wheel of another local project.
OTHER = build_wheel("other-tool", "0.1")

#: Seconds in the past that "settled" files and directories were changed.
LONG_AGO = 3600


def sha256(data: bytes) -> str:
    """
    The hex sha256 of ``data``.
    """
    return hashlib.sha256(data).hexdigest()


def corrupt_wheel(name: str, version: str) -> BuiltWheel:
    """
    A wheel whose compressed ``METADATA`` is garbage (reading it fails with a
    ``zlib.error``) although the archive's directory is intact.
    """
    wheel = build_wheel(name, version)
    data = bytearray(wheel.content)
    with zipfile.ZipFile(io.BytesIO(wheel.content)) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("METADATA"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start : start + info.compress_size] = b"\xff" * info.compress_size
    return BuiltWheel(wheel.filename, bytes(data), wheel.metadata)


class LocalTestCase(SynchronousTestCase):
    """
    A temporary directory holding :data:`WHEEL` and :data:`SDIST`, and a
    :class:`LocalIndex` named ``private`` over it.
    """

    def setUp(self) -> None:
        self.dir = FilePath(self.mktemp())
        self.dir.makedirs()
        self.put(WHEEL)
        self.put(SDIST)
        self.index = LocalIndex(LocalConfig("private", self.dir.path), RELATIVE)

    def put(self, dist: BuiltWheel, content: bytes | None = None) -> FilePath[str]:
        """
        Write a distribution file into the directory (its own bytes unless
        ``content`` is given).
        """
        path = self.dir.child(dist.filename)
        path.setContent(dist.content if content is None else content)
        return path

    def settle(self) -> int:
        """
        Date every file and the directory an hour back, as if nothing had
        changed for long.

        :return: The directory's new modification time in nanoseconds.
        """
        then = time.time_ns() - LONG_AGO * 10**9
        for child in self.dir.children():
            os.utime(child.path, ns=(then, then))
        os.utime(self.dir.path, ns=(then, then))
        return then

    def page(self, index: LocalIndex | None = None) -> ProjectPage:
        """
        The page of ``private-lib`` that the local index gives now.
        """
        lookup = result_now((index or self.index).get_project("private-lib"))
        assert isinstance(lookup, Lookup) and lookup.entry is not None, lookup
        self.assertIs(lookup.status, CacheStatus.LOCAL)
        page = lookup.entry.page
        assert isinstance(page, ProjectPage)
        return page

    def files(self, index: LocalIndex | None = None) -> dict[str, DistFile]:
        """
        The files of ``private-lib``, by filename.
        """
        return {f.filename: f for f in self.page(index).files}

    def failure(self, project: str) -> LookupFailed:
        """
        How the local index fails for ``project`` now.
        """
        failed = self.failureResultOf(self.index.get_project(project), LookupFailed)
        assert isinstance(failed.value, LookupFailed)
        return failed.value


class PageTests(LocalTestCase):
    """
    The project page of a local index.
    """

    def test_lists_wheel_and_sdist(self) -> None:
        """
        The page lists the wheel and the sdist in filename order, each with
        the sha256 and the size of its bytes, and names the project by its
        normalized name.
        """
        page = self.page()
        self.assertEqual(page.name, "private-lib")
        self.assertEqual(
            [f.filename for f in page.files], [SDIST.filename, WHEEL.filename]
        )
        for dist in (WHEEL, SDIST):
            listed = self.files()[dist.filename]
            self.assertEqual(dict(listed.hashes), {"sha256": dist.sha256})
            self.assertEqual(listed.size, len(dist.content))

    def test_core_metadata_only_for_the_wheel(self) -> None:
        """
        The wheel's core metadata is offered with the sha256 of its
        ``METADATA``; the sdist's (whose ``PKG-INFO`` may be unreliable) is
        not.
        """
        files = self.files()
        self.assertEqual(
            files[WHEEL.filename].core_metadata, {"sha256": sha256(WHEEL.metadata)}
        )
        self.assertIsNone(files[SDIST.filename].core_metadata)

    def test_requires_python_from_metadata(self) -> None:
        """
        ``requires-python`` comes from the file's metadata: the wheel's
        ``Requires-Python``; the sdist declares none.
        """
        files = self.files()
        self.assertEqual(files[WHEEL.filename].requires_python, ">=3.8")
        self.assertIsNone(files[SDIST.filename].requires_python)

    def test_upload_time_from_mtime(self) -> None:
        """
        A file's upload time is its modification time, in the PEP 700 form.
        """
        moment = 1704164645  # 2024-01-02T03:04:05Z
        os.utime(self.dir.child(WHEEL.filename).path, (moment, moment))
        self.assertEqual(
            self.files()[WHEEL.filename].upload_time, "2024-01-02T03:04:05.000000Z"
        )

    def test_unknown_project(self) -> None:
        """
        A project with no file in the directory is "not found", not an
        error.
        """
        failure = self.failure("nothing-here")
        self.assertIsInstance(failure, ProjectNotFound)
        self.assertNotIsInstance(failure, UpstreamUnavailable)

    def test_project_list(self) -> None:
        """
        The project list names each project of the directory once, sorted
        and normalized.
        """
        self.put(OTHER)
        self.put(LATER)
        lookup = result_now(self.index.get_list())
        assert lookup.entry is not None
        page = lookup.entry.page
        assert isinstance(page, ProjectList)
        self.assertEqual(page.names, ("other-tool", "private-lib"))
        self.assertIs(lookup.status, CacheStatus.LOCAL)

    def test_project_list_kept(self) -> None:
        """
        While the directory does not change, the project list is the same
        page every time (a router merging it with a large remote list need
        not merge again).
        """
        self.settle()
        first = result_now(self.index.get_list()).entry
        second = result_now(self.index.get_list()).entry
        self.assertIsNotNone(first)
        self.assertIs(first, second)

    def test_project_list_links(self) -> None:
        """
        The project list links each project to its page, in JSON and HTML.
        """
        entry = result_now(self.index.get_list()).entry
        data = json.loads(entry.rendition(True).body)
        self.assertEqual(data["projects"], [{"name": "private-lib"}])
        anchors = Anchors(entry.rendition(False).body).by_text()
        self.assertEqual(anchors["private-lib"]["href"], "private-lib/")
        based = LocalIndex(
            LocalConfig("private", self.dir.path),
            LinkPrefixes.for_base_url("https://p.example/"),
        )
        entry = result_now(based.get_list()).entry
        anchors = Anchors(entry.rendition(False).body).by_text()
        self.assertEqual(
            anchors["private-lib"]["href"], "https://p.example/simple/private-lib/"
        )

    def test_ignores_other_files(self) -> None:
        """
        Hidden files (an upload in progress, a hidden wheel), files that are
        not wheels or sdists, names that are not valid distribution names and
        directories are not listed.
        """
        self.dir.child(".upload-tmp-1234").setContent(LATER.content)
        self.dir.child("." + LATER.filename).setContent(LATER.content)
        self.dir.child("README.txt").setContent(b"read me")
        self.dir.child("private-lib.whl").setContent(LATER.content)
        self.dir.child("private_lib-3.0-py3-none-any.whl").makedirs()
        self.assertEqual(set(self.files()), {WHEEL.filename, SDIST.filename})
        names = result_now(self.index.get_list()).entry.page.names
        self.assertEqual(names, ("private-lib",))

    def test_corrupt_wheel_listed_without_metadata(self) -> None:
        """
        A wheel whose metadata cannot be decompressed is still listed, with
        its hash and without core metadata, and does not hide the other files.
        """
        broken = corrupt_wheel("private-lib", "1.5")
        self.put(broken)
        files = self.files()
        self.assertEqual(set(files), {WHEEL.filename, SDIST.filename, broken.filename})
        self.assertEqual(dict(files[broken.filename].hashes), {"sha256": broken.sha256})
        self.assertIsNone(files[broken.filename].core_metadata)

    def test_hashes_once(self) -> None:
        """
        Each file is read (hashed, its metadata extracted) once, not again
        on later requests while it is unchanged.
        """
        inspected: list[str] = []
        real = local_module.inspect_file

        def counting(path: str, filename: str, project: str) -> LocalFile:
            inspected.append(filename)
            return real(path, filename, project)

        self.patch(local_module, "inspect_file", counting)
        self.page()
        self.page()
        self.put(LATER)
        self.page()
        self.assertEqual(
            sorted(inspected), sorted([WHEEL.filename, SDIST.filename, LATER.filename])
        )


class ChangeTests(LocalTestCase):
    """
    Files added, completed and removed while the proxy runs.
    """

    def test_new_file_appears(self) -> None:
        """
        A file dropped into the directory is listed on the next request, by
        the same index (no restart).
        """
        self.settle()
        self.assertNotIn(LATER.filename, self.files())
        self.put(LATER)
        listed = self.files()[LATER.filename]
        self.assertEqual(dict(listed.hashes), {"sha256": LATER.sha256})

    def test_new_file_within_the_same_tick(self) -> None:
        """
        A file added so soon after a request that the directory's
        modification time did not change (a coarse file system timestamp) is
        still listed on the next request.
        """
        before = os.stat(self.dir.path).st_mtime_ns
        self.page()
        self.put(LATER)
        os.utime(self.dir.path, ns=(before, before))
        self.assertIn(LATER.filename, self.files())

    def test_file_completed_in_place(self) -> None:
        """
        A file seen while it was being copied (half its bytes) is read again
        once complete, though the directory did not change: the page gives
        the whole file's hash and size.
        """
        path = self.put(LATER, LATER.content[: len(LATER.content) // 2])
        before = os.stat(self.dir.path).st_mtime_ns
        self.assertEqual(self.files()[LATER.filename].size, len(LATER.content) // 2)
        with open(path.path, "ab") as f:
            f.write(LATER.content[len(LATER.content) // 2 :])
        os.utime(self.dir.path, ns=(before, before))
        listed = self.files()[LATER.filename]
        self.assertEqual(listed.size, len(LATER.content))
        self.assertEqual(dict(listed.hashes), {"sha256": LATER.sha256})

    def test_settled_directory_not_read_again(self) -> None:
        """
        A directory that has not changed for a while is not read again while
        its modification time stays the same; a new modification time makes
        the next request read it.
        """
        then = self.settle()
        self.page()
        self.put(LATER)
        os.utime(self.dir.path, ns=(then, then))
        self.assertNotIn(LATER.filename, self.files())
        os.utime(self.dir.path, ns=(then + 10**9, then + 10**9))
        self.assertIn(LATER.filename, self.files())

    def test_removed_file_disappears(self) -> None:
        """
        A removed file is no longer listed; once the project's last file is
        gone the project is "not found".
        """
        self.settle()
        self.page()
        self.dir.child(SDIST.filename).remove()
        self.assertEqual(set(self.files()), {WHEEL.filename})
        self.dir.child(WHEEL.filename).remove()
        self.assertIsInstance(self.failure("private-lib"), ProjectNotFound)

    def test_concurrent_first_look(self) -> None:
        """
        While the directory is being read (hashing in a thread), a second
        request waits for that look to finish rather than answering from an
        empty index: both get the project, neither "not found".
        """
        pending: list[tuple[Deferred[object], Any]] = []

        def later(work: Any) -> Deferred[object]:
            d: Deferred[object] = Deferred()
            pending.append((d, work))
            return d

        index = LocalIndex(LocalConfig("private", self.dir.path), RELATIVE, run=later)
        first = index.get_project("private-lib")
        second = index.get_project("private-lib")
        results: list[Lookup] = []
        first.addCallback(results.append)
        second.addCallback(results.append)
        while pending:
            d, work = pending.pop(0)
            self.assertEqual(results, [])
            d.callback(work())
        self.assertEqual(len(results), 2)
        for lookup in results:
            assert isinstance(lookup.entry.page, ProjectPage)
            self.assertEqual(len(lookup.entry.page.files), 2)


class UnreadableTests(LocalTestCase):
    """
    A local index that cannot read its directory or a file answers with an
    error instead of "not found" (which would let a remote index answer).
    """

    def test_directory_never_read(self) -> None:
        """
        A directory that is gone before it was ever read gives an error for
        every project and for the project list, naming the directory.
        """
        self.dir.remove()
        failure = self.failure("private-lib")
        assert isinstance(failure, UpstreamUnavailable)
        self.assertIn(self.dir.path, failure.reason)
        self.assertIsInstance(self.failure("anything"), UpstreamUnavailable)
        self.failureResultOf(self.index.get_list(), UpstreamUnavailable)

    def test_directory_gone_after_read(self) -> None:
        """
        A directory that was read once and is gone now still answers from
        what it held.
        """
        self.page()
        self.dir.remove()
        self.assertEqual(set(self.files()), {WHEEL.filename, SDIST.filename})
        self.assertIsInstance(self.failure("other-tool"), ProjectNotFound)

    def test_unreadable_file(self) -> None:
        """
        A project whose only file cannot be read gives an error naming the
        file; other projects are not affected.
        """
        self.put(OTHER)
        real = local_module.inspect_file

        def denied(path: str, filename: str, project: str) -> LocalFile:
            if filename == OTHER.filename:
                raise PermissionError(13, "Permission denied", path)
            return real(path, filename, project)

        self.patch(local_module, "inspect_file", denied)
        failure = self.failure("other-tool")
        assert isinstance(failure, UpstreamUnavailable)
        self.assertIn(OTHER.filename, failure.reason)
        self.assertEqual(set(self.files()), {WHEEL.filename, SDIST.filename})


class ServeTests(LocalTestCase):
    """
    The local index through the proxy's resource tree: its pages under
    ``/simple/`` and its files under ``/local/<name>/``.
    """

    def setUp(self) -> None:
        super().setUp()
        self.remote = FakeIndex()
        self.remote.add("tplib", FakeFile(build_wheel("tplib", "1.0")))
        self.proxy = self.proxy_with()

    def proxy_with(self, base_url: str | None = None) -> MemoryProxy:
        """
        A proxy over :attr:`remote` and the directory as the local index
        ``private``.
        """
        return MemoryProxy(
            self.remote,
            FilePath(self.mktemp()),
            base_url=base_url,
            local=[LocalConfig("private", self.dir.path)],
        )

    def get(self, path: str, **headers: str) -> Answer:
        """
        GET ``path`` from the proxy with ``headers`` (``_`` for ``-``).
        """
        return self.proxy.get(
            path, headers={k.replace("_", "-"): v for k, v in headers.items()}
        )

    def test_json_page(self) -> None:
        """
        The JSON page links each file below ``/local/private/`` with its
        hash, size and (for the wheel only) core metadata, says it comes
        from the index ``private`` and from no cache; the remote index is
        not asked.
        """
        answer = self.get("/simple/private-lib/", accept=JSON)
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.header("x-pypi-index"), "private")
        self.assertEqual(answer.header("x-cache"), "LOCAL")
        files = json_files(answer)
        wheel, sdist = files[WHEEL.filename], files[SDIST.filename]
        self.assertEqual(wheel["url"], f"../../local/private/{WHEEL.filename}")
        self.assertEqual(sdist["url"], f"../../local/private/{SDIST.filename}")
        self.assertEqual(wheel["hashes"], {"sha256": WHEEL.sha256})
        self.assertEqual(wheel["size"], len(WHEEL.content))
        self.assertEqual(wheel["requires-python"], ">=3.8")
        self.assertEqual(wheel["core-metadata"], {"sha256": sha256(WHEEL.metadata)})
        self.assertNotIn("core-metadata", sdist)
        self.assertNotIn("requires-python", sdist)
        self.assertEqual(self.remote.requests, [])

    def test_html_page(self) -> None:
        """
        The HTML page gives the same: links with the sha256 fragment,
        ``data-requires-python`` and ``data-dist-info-metadata`` on the
        wheel only.
        """
        answer = self.get("/simple/private-lib/", accept="text/html")
        anchors = Anchors(answer.body).by_text()
        wheel, sdist = anchors[WHEEL.filename], anchors[SDIST.filename]
        self.assertEqual(
            wheel["href"],
            f"../../local/private/{WHEEL.filename}#sha256={WHEEL.sha256}",
        )
        self.assertEqual(wheel["data-requires-python"], ">=3.8")
        self.assertEqual(
            wheel["data-dist-info-metadata"], f"sha256={sha256(WHEEL.metadata)}"
        )
        self.assertNotIn("data-dist-info-metadata", sdist)

    def test_base_url_links(self) -> None:
        """
        Behind a ``--base-url`` the links are absolute, below that URL.
        """
        self.proxy = self.proxy_with("https://pypi.example/mirror/")
        files = json_files(self.get("/simple/private-lib/", accept=JSON))
        self.assertEqual(
            files[WHEEL.filename]["url"],
            f"https://pypi.example/mirror/local/private/{WHEEL.filename}",
        )

    def test_serves_file(self) -> None:
        """
        A file is served whole with its type, an ETag and an immutable
        ``Cache-Control``, marked as local.
        """
        answer = self.get(f"/local/private/{WHEEL.filename}")
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.body, WHEEL.content)
        self.assertEqual(answer.header("content-type"), "application/zip")
        self.assertEqual(answer.header("x-cache"), "LOCAL")
        self.assertIn("immutable", answer.header("cache-control") or "")
        self.assertIsNotNone(answer.header("etag"))
        sdist = self.get(f"/local/private/{SDIST.filename}")
        self.assertEqual(sdist.body, SDIST.content)
        self.assertEqual(sdist.header("content-type"), "application/gzip")
        self.assertIsNone(sdist.header("content-encoding"))

    def test_range_and_etag(self) -> None:
        """
        A range is answered with 206 and those bytes; a request with the
        file's ETag in ``If-None-Match`` with 304 and no body.
        """
        path = f"/local/private/{WHEEL.filename}"
        part = self.get(path, range="bytes=10-19")
        self.assertEqual(part.code, 206)
        self.assertEqual(part.body, WHEEL.content[10:20])
        self.assertEqual(
            part.header("content-range"), f"bytes 10-19/{len(WHEEL.content)}"
        )
        etag = self.get(path).header("etag")
        assert etag is not None
        again = self.get(path, if_none_match=etag)
        self.assertEqual(again.code, 304)
        self.assertEqual(again.body, b"")

    def test_head(self) -> None:
        """
        ``HEAD`` of a file and of a wheel's metadata gives the length and no
        body.
        """
        for name, size in (
            (WHEEL.filename, len(WHEEL.content)),
            (WHEEL.filename + ".metadata", len(WHEEL.metadata)),
        ):
            transport = self.proxy.raw(
                f"HEAD /local/private/{name} HTTP/1.1\r\n"
                "Host: proxy.test\r\n\r\n".encode()
            )
            status, headers, body = parse_raw(transport.value())
            self.assertEqual(status, 200, name)
            self.assertEqual(headers[b"content-length"], str(size).encode(), name)
            self.assertEqual(body, b"", name)

    def test_metadata(self) -> None:
        """
        ``<wheel>.metadata`` is the wheel's ``METADATA``, whose sha256 is the
        one the page gives.
        """
        answer = self.get(f"/local/private/{WHEEL.filename}.metadata")
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.body, WHEEL.metadata)
        self.assertEqual(answer.header("content-type"), "text/plain; charset=utf-8")
        files = json_files(self.get("/simple/private-lib/", accept=JSON))
        self.assertEqual(
            files[WHEEL.filename]["core-metadata"]["sha256"], sha256(answer.body)
        )

    def test_sdist_metadata_not_served(self) -> None:
        """
        ``<sdist>.metadata``, which the page does not offer, is a 404.
        """
        answer = self.get(f"/local/private/{SDIST.filename}.metadata")
        self.assertEqual(answer.code, 404)

    def test_new_file_served(self) -> None:
        """
        A file dropped into the directory is served at once.
        """
        self.get(f"/local/private/{WHEEL.filename}")
        self.put(LATER)
        answer = self.get(f"/local/private/{LATER.filename}")
        self.assertEqual((answer.code, answer.body), (200, LATER.content))

    def test_not_found(self) -> None:
        """
        Unknown, removed, hidden and unsafe names, an unknown local index,
        and paths with too few or too many segments are 404s; nothing outside
        the directory is read.
        """
        self.dir.sibling("secret-1.0.tar.gz").setContent(b"secret")
        self.dir.child(".hidden-1.0.tar.gz").setContent(b"hidden")
        self.dir.child("notes.txt").setContent(b"notes")
        self.dir.child(SDIST.filename).remove()
        for path in (
            "/local/private/nothing-1.0.tar.gz",
            f"/local/private/{SDIST.filename}",
            "/local/private/.hidden-1.0.tar.gz",
            "/local/private/notes.txt",
            "/local/private/..%2Fsecret-1.0.tar.gz",
            "/local/private/%2E%2E/secret-1.0.tar.gz",
            "/local/private/",
            "/local/private",
            f"/local/elsewhere/{WHEEL.filename}",
            f"/local/private/sub/{WHEEL.filename}",
            f"/local/private/{WHEEL.filename}/",
        ):
            answer = self.get(path)
            self.assertEqual(answer.code, 404, path)
            self.assertNotIn(b"secret", answer.body, path)

    def test_project_list(self) -> None:
        """
        ``/simple/`` names the local projects and the remote ones.
        """
        self.put(OTHER)
        answer = self.get("/simple/", accept=JSON)
        names = {p["name"] for p in json.loads(answer.body)["projects"]}
        self.assertEqual(names, {"private-lib", "other-tool", "tplib"})
