"""
Tests for ``pypiproxy export`` (:mod:`twisted_pypi.mirror.export`): the static
tree's layout, links and hashes, hard links, incrementality, dummies, the
supply-chain policy (the command and its options are tested in
``tests/app/test_exportcli.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, cast
from urllib.parse import unquote, urljoin, urlsplit

from attrs import evolve
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy
from tests.policyfakes import DAY, NEWEST, NOW, OLD, RECENT, PolicyProxyCase
from tests.simplepages import LEGACY_FILENAMES
from tests.storage.fakes3 import FakeS3, at_once
from tests.wheels import BuiltWheel, build_wheel
from twisted_pypi.app.compose import make_page_caches
from twisted_pypi.app.metacompose import core_metadata
from twisted_pypi.core.dummyspec import parse_dummy_spec
from twisted_pypi.core.policy import Policy, parse_deny
from twisted_pypi.core.runner import run_now
from twisted_pypi.mirror.export import (
    MANIFEST,
    ExportReport,
    export_tree,
)
from twisted_pypi.mirror.findlinks import FIND_LINKS
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace
from twisted_pypi.upstream.offline import OfflineClient, offline_fetch

APP_OLD = build_wheel("app", "1.0")
APP_NEW = build_wheel("app", "2.0")
LIB = build_wheel("lib", "1.0")
JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}


class ExportTests(SynchronousTestCase):
    """
    :func:`export_tree` over a cache that an online proxy filled: app 1.0
    with its ``.metadata``, lib 1.0 without; app 2.0 is on the upstream but
    not cached.
    """

    def setUp(self) -> None:
        """
        Fill a cache through an online proxy with a dummy.
        """
        index = FakeIndex(mode="json")
        index.add("app", FakeFile(APP_OLD), FakeFile(APP_NEW))
        index.add("lib", FakeFile(LIB))
        self.cache_dir = FilePath(self.mktemp())
        self.online = MemoryProxy(
            index, self.cache_dir, dummies=(parse_dummy_spec("ghost==1.0"),)
        )
        for path in ("/simple/app/", "/simple/lib/"):
            self.assertEqual(self.online.get(path).code, 200)
        self.fetch(APP_OLD.filename, APP_OLD.filename + ".metadata", LIB.filename)
        self.out = FilePath(self.mktemp())

    def fetch(self, *filenames: str) -> None:
        """
        Have the online proxy cache these files of the upstream.
        """
        for filename in filenames:
            answer = self.online.get(self.online.file_path(filename))
            self.assertEqual(answer.code, 200, filename)

    def export(self) -> ExportReport:
        """
        Export the cache to :attr:`out`, as ``pypiproxy export`` does.
        """
        online = self.online
        pages = make_page_caches(
            online.config, OfflineClient(), online.clock, online.cache
        )
        work = export_tree(self.out, pages, online.cache, [], online.config)
        report: ExportReport = self.successResultOf(Deferred.fromCoroutine(work))
        return report

    def page(self, project: str) -> dict[str, object]:
        """
        The exported JSON page of ``project``.
        """
        path = self.out.child("simple").child(project).child("index.v1_json")
        page: dict[str, object] = json.loads(path.getContent())
        return page

    def test_layout(self) -> None:
        """
        The tree holds both formats of the project list and of each project
        page, the cached files and the cached ``.metadata``; the list names
        every exported project.
        """
        report = self.export()
        self.assertEqual(report.projects, ["app", "ghost", "lib"])
        simple = self.out.child("simple")
        for name in ("index.html", "index.v1_json"):
            self.assertTrue(simple.child(name).exists())
            for project in ("app", "lib", "ghost"):
                self.assertTrue(simple.child(project).child(name).exists())
        listed = json.loads(simple.child("index.v1_json").getContent())
        self.assertEqual([p["name"] for p in listed["projects"]], report.projects)
        self.assertIn(b'href="app/"', simple.child("index.html").getContent())
        packages = self.out.child("packages")
        self.assertEqual(
            sorted(packages.child("app").listdir()),
            [APP_OLD.filename, APP_OLD.filename + ".metadata"],
        )
        self.assertEqual(packages.child("lib").listdir(), [LIB.filename])
        self.assertTrue(self.out.child(MANIFEST).exists())

    def test_links_and_hashes(self) -> None:
        """
        Every link on a JSON page is relative and leads, from the page's own
        URL, to a file with the advertised sha256; core metadata is
        advertised only where the ``.metadata`` was exported, with its hash.
        """
        self.export()
        base = "http://mirror.test/simple/app/"
        files = self.page("app")["files"]
        assert isinstance(files, list)
        self.assertEqual([f["filename"] for f in files], [APP_OLD.filename])
        for entry in files:
            self.assertFalse(entry["url"].startswith(("http", "/")), entry["url"])
            path = unquote(urljoin(base, entry["url"])[len("http://mirror.test/") :])
            data = self.out.preauthChild(path).getContent()
            self.assertEqual(
                hashlib.sha256(data).hexdigest(), entry["hashes"]["sha256"]
            )
            meta = self.out.preauthChild(path + ".metadata").getContent()
            self.assertEqual(
                hashlib.sha256(meta).hexdigest(), entry["core-metadata"]["sha256"]
            )
        lib = self.page("lib")["files"]
        assert isinstance(lib, list)
        self.assertNotIn("core-metadata", lib[0])
        html = self.out.child("simple").child("app").child("index.html").getContent()
        link = f'href="../../packages/app/{APP_OLD.filename}#sha256={APP_OLD.sha256}"'
        self.assertIn(link.encode(), html)

    def test_find_links_page(self) -> None:
        """
        ``find-links.html`` at the tree's root links every exported file,
        relative to the page, with its sha256; a later export adds a newly
        cached file to it.
        """
        self.export()
        page = self.out.child(FIND_LINKS)
        html = page.getContent()
        for project, wheel in (("app", APP_OLD), ("lib", LIB)):
            link = f'href="packages/{project}/{wheel.filename}#sha256={wheel.sha256}"'
            self.assertIn(link.encode(), html)
            exported = self.out.preauthChild(f"packages/{project}/{wheel.filename}")
            self.assertEqual(exported.getContent(), wheel.content)
        self.assertIn(b'href="packages/ghost/', html)
        self.assertNotIn(APP_NEW.filename.encode(), html)
        self.fetch(APP_NEW.filename)
        self.export()
        self.assertIn(
            f'href="packages/app/{APP_NEW.filename}#sha256='.encode(),
            page.getContent(),
        )

    def test_hard_links(self) -> None:
        """
        Files are hard links to the cache's copies (same file system); a
        dummy's wheel is written.
        """
        report = self.export()
        exported = self.out.child("packages").child("lib").child(LIB.filename)
        inodes = {
            os.stat(p.path).st_ino
            for p in self.cache_dir.child("files").walk()
            if p.basename() == LIB.filename
        }
        self.assertEqual(inodes, {os.stat(exported.path).st_ino})
        self.assertEqual(report.linked, 2)
        self.assertEqual(report.copied, 1)

    def test_unchanged_not_rewritten(self) -> None:
        """
        A second export with nothing changed rewrites no page and no file.
        """
        self.export()
        pages = list(self.out.child("simple").walk())
        before = {p.path: os.stat(p.path).st_ino for p in pages if p.isfile()}
        report = self.export()
        self.assertEqual(report.written, [])
        self.assertEqual((report.linked, report.copied), (0, 0))
        after = {p: os.stat(p).st_ino for p in before}
        self.assertEqual(after, before)

    def test_changed_project_rewritten(self) -> None:
        """
        When a project gains a cached file, only its pages are rewritten and
        the new file is exported; the other projects' pages stay as they
        were.
        """
        self.export()
        lib_page = self.out.child("simple").child("lib").child("index.v1_json")
        lib_inode = os.stat(lib_page.path).st_ino
        self.fetch(APP_NEW.filename)
        report = self.export()
        self.assertEqual(report.written, ["app"])
        self.assertEqual(os.stat(lib_page.path).st_ino, lib_inode)
        files = self.page("app")["files"]
        assert isinstance(files, list)
        self.assertEqual(
            [f["filename"] for f in files], [APP_OLD.filename, APP_NEW.filename]
        )
        exported = self.out.child("packages").child("app").child(APP_NEW.filename)
        self.assertEqual(exported.getContent(), APP_NEW.content)

    def test_gone_removed(self) -> None:
        """
        A project whose files left the cache is removed from the tree, the
        list and the manifest.
        """
        self.export()
        for path in self.cache_dir.child("files").walk():
            if path.basename() == LIB.filename:
                path.remove()
        report = self.export()
        self.assertEqual(report.removed, ["lib"])
        self.assertFalse(self.out.child("simple").child("lib").exists())
        self.assertFalse(self.out.child("packages").child("lib").exists())
        listed = json.loads(
            self.out.child("simple").child("index.v1_json").getContent()
        )
        self.assertNotIn("lib", [p["name"] for p in listed["projects"]])
        manifest = json.loads(self.out.child(MANIFEST).getContent())
        self.assertNotIn("lib", manifest["projects"])

    def test_dummy_exported(self) -> None:
        """
        A dummy's wheel and ``.metadata`` are written, matching its page.
        """
        self.export()
        files = self.page("ghost")["files"]
        assert isinstance(files, list)
        folder = self.out.child("packages").child("ghost")
        wheel = folder.child(files[0]["filename"]).getContent()
        self.assertEqual(
            hashlib.sha256(wheel).hexdigest(), files[0]["hashes"]["sha256"]
        )
        self.assertTrue(folder.child(files[0]["filename"] + ".metadata").exists())


class PolicyExportTests(PolicyProxyCase):
    """
    :func:`export_tree` under the supply-chain policy, over a cache holding
    ``demo`` 1.0 (a month old), 2.0 (three days old) and 3.0 (an hour old).
    """

    def setUp(self) -> None:
        """
        Cache the three releases through a proxy with no policy.
        """
        super().setUp()
        self.online = self.proxy()
        self.online.get("/simple/demo/")
        for wheel in (OLD, RECENT, NEWEST):
            answer = self.online.get(self.online.file_path(wheel.filename))
            self.assertEqual(answer.code, 200, wheel.filename)
        self.out = FilePath(self.mktemp())

    def export(
        self, policy: Policy | None = None, snapshot: float | None = None
    ) -> ExportReport:
        """
        Export the cache to :attr:`out` under ``policy`` (at the online
        proxy's time) and ``snapshot``.
        """
        online = self.online
        config = evolve(online.config, policy=policy or Policy())
        pages = make_page_caches(config, OfflineClient(), online.clock, online.cache)
        work = export_tree(self.out, pages, online.cache, [], config, snapshot=snapshot)
        report: ExportReport = self.successResultOf(Deferred.fromCoroutine(work))
        return report

    def exported(self) -> tuple[list[str], list[str]]:
        """
        The wheels in the tree, and those its JSON page lists.
        """
        folder = self.out.child("packages").child("demo")
        files = sorted(f for f in folder.listdir() if f.endswith(".whl"))
        page = self.out.descendant(["simple", "demo", "index.v1_json"])
        listed = [f["filename"] for f in json.loads(page.getContent())["files"]]
        return files, listed

    def test_min_age(self) -> None:
        """
        With ``--min-age 7d`` only the month-old release is exported; an
        export once the 3-day-old release is a week old adds it.
        """
        self.export(Policy(min_age=7 * DAY))
        self.assertEqual(self.exported(), ([OLD.filename], [OLD.filename]))
        self.online.clock.advance(4 * DAY + 1)
        report = self.export(Policy(min_age=7 * DAY))
        self.assertEqual(report.written, ["demo"])
        both = [OLD.filename, RECENT.filename]
        self.assertEqual(self.exported(), (both, both))

    def test_held_back_removed(self) -> None:
        """
        Files an earlier export wrote are removed from the tree by an
        export whose policy holds them back.
        """
        self.export()
        self.assertEqual(len(self.exported()[0]), 3)
        self.export(Policy(deny=(parse_deny("demo>=2"),)))
        self.assertEqual(self.exported(), ([OLD.filename], [OLD.filename]))

    def test_snapshot(self) -> None:
        """
        A snapshot two days ago exports the releases uploaded before it.
        """
        self.export(snapshot=NOW - 2 * DAY)
        both = [OLD.filename, RECENT.filename]
        self.assertEqual(self.exported(), (both, both))

    def test_denied_project(self) -> None:
        """
        A project ``--deny`` holds back entirely is not exported.
        """
        report = self.export(Policy(deny=(parse_deny("demo"),)))
        self.assertEqual(report.projects, [])
        self.assertFalse(self.out.descendant(["simple", "demo"]).exists())


class LegacyExportTests(SynchronousTestCase):
    """
    :func:`export_tree` keeps files whatever their names.
    """

    def test_legacy_and_foreign_files(self) -> None:
        """
        Cached files with legacy names, unparseable versions or another
        project's name are exported under the project whose page listed
        them, and its exported pages list them.
        """
        legacy = [
            BuiltWheel(name, f"bytes of {name}".encode(), b"")
            for name in LEGACY_FILENAMES
        ]
        index = FakeIndex(mode="json")
        index.add("old", *(FakeFile(f) for f in (*legacy, LIB)))
        online = MemoryProxy(index, FilePath(self.mktemp()))
        page = json.loads(online.get("/simple/old/", headers=JSON).body)
        for entry in page["files"]:
            url = urljoin(online.ORIGIN + "/simple/old/", entry["url"])
            self.assertEqual(online.get(urlsplit(url).path).code, 200, url)
        out = FilePath(self.mktemp())
        pages = make_page_caches(
            online.config, OfflineClient(), online.clock, online.cache
        )
        work = export_tree(out, pages, online.cache, [], online.config)
        self.successResultOf(Deferred.fromCoroutine(work))
        expected = sorted([*LEGACY_FILENAMES, LIB.filename])
        folder = out.child("packages").child("old")
        self.assertEqual(sorted(folder.listdir()), expected)
        for f in (*legacy, LIB):
            self.assertEqual(folder.child(f.filename).getContent(), f.content)
        exported = json.loads(
            out.child("simple").child("old").child("index.v1_json").getContent()
        )
        self.assertEqual(sorted(f["filename"] for f in exported["files"]), expected)


class StoreExportTests(SynchronousTestCase):
    """
    :func:`export_tree` on a shared store, from a node whose disk holds none
    of the files.
    """

    def test_files_read_through_the_store(self) -> None:
        """
        The files another node cached in the store are exported (copied
        through the store, with their ``.metadata``) by a node with an
        empty disk, with the hashes its pages advertise.
        """
        s3 = FakeS3()
        index = FakeIndex(mode="json")
        index.add("app", FakeFile(APP_OLD))
        cache_dir = FilePath(self.mktemp())
        online = MemoryProxy(index, cache_dir, cache=_store(s3, cache_dir))
        for path in (
            "/simple/app/",
            online.file_path(APP_OLD.filename),
            online.file_path(APP_OLD.filename + ".metadata"),
        ):
            self.assertEqual(online.get(path).code, 200, path)
        empty = _store(s3, FilePath(self.mktemp()))
        pages = make_page_caches(online.config, OfflineClient(), online.clock, empty)
        out = FilePath(self.mktemp())
        work = export_tree(out, pages, empty, [], online.config)
        report = self.successResultOf(Deferred.fromCoroutine(work))
        self.assertEqual(report.projects, ["app"])
        self.assertEqual(report.copied, 1)
        folder = out.child("packages").child("app")
        self.assertEqual(folder.child(APP_OLD.filename).getContent(), APP_OLD.content)
        meta = folder.child(APP_OLD.filename + ".metadata").getContent()
        self.assertIn(b"Name: app", meta)
        self.assertEqual(empty.tmp_dir.listdir() if empty.tmp_dir.exists() else [], [])


def _store(s3: FakeS3, root: FilePath[str]) -> S3FileStore:
    """A node's store of ``s3://b/team/`` with its disk at ``root``."""
    return S3FileStore(
        cast(Any, s3),
        BucketPlace("b", "team/"),
        root,
        None,
        Clock(),
        cooperator=at_once,
    )


class SynthesizedExportTests(SynchronousTestCase):
    """
    :func:`export_tree` of a cache filled through a proxy that gave every
    wheel core metadata, in front of an index offering none.
    """

    def test_metadata_exported(self) -> None:
        """
        The ``.metadata`` the proxy made is exported and advertised with its
        hash; a wheel cached without one (cached before the proxy made
        them) has it read from the cached wheel by the export.
        """
        index = FakeIndex(mode="json", metadata=False)
        index.add("app", FakeFile(APP_OLD), FakeFile(APP_NEW))
        index.add("lib", FakeFile(LIB))
        online = MemoryProxy(index, FilePath(self.mktemp()), synthesized=True)
        for path in ("/simple/app/", "/simple/lib/"):
            self.assertEqual(online.get(path).code, 200)
        self.assertEqual(online.get(online.file_path(APP_OLD.filename)).code, 200)
        assert online.metadata is not None
        online.downloads.committed = None
        self.assertEqual(online.get(online.file_path(LIB.filename)).code, 200)
        parts = core_metadata(
            online.config,
            online.cache,
            offline_fetch,
            online.clock,
            run_now,
            probe=False,
        )
        pages = make_page_caches(
            online.config,
            OfflineClient(),
            online.clock,
            online.cache,
            advertiser=parts.advertiser,
        )
        out = FilePath(self.mktemp())
        work = export_tree(out, pages, online.cache, [], online.config, parts.files)
        self.successResultOf(Deferred.fromCoroutine(work))
        for project, wheel in (("app", APP_OLD), ("lib", LIB)):
            folder = out.child("packages").child(project)
            meta = folder.child(wheel.filename + ".metadata").getContent()
            self.assertEqual(meta, wheel.metadata)
            page = json.loads(
                out.child("simple").child(project).child("index.v1_json").getContent()
            )
            (listed,) = page["files"]
            self.assertEqual(
                listed["core-metadata"],
                {"sha256": hashlib.sha256(wheel.metadata).hexdigest()},
            )
