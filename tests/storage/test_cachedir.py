"""
Tests for ``pypiproxy cache list|stats|purge|verify``
(:mod:`twisted_pypi.app.cachecli` over :mod:`twisted_pypi.storage.cachedir`), on a cache
directory a proxy filled, while that proxy still runs.
"""

from __future__ import annotations

import io
import os
import sys

from twisted.python.filepath import FilePath
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from tests.apifakes import ApiProxy, JsonFakeIndex
from tests.fakeindex import FakeFile
from tests.wheels import BuiltWheel, build_wheel
from twisted_pypi.app import cli
from twisted_pypi.app.cachecli import run
from twisted_pypi.storage.cachedir import CacheDir
from twisted_pypi.storage.metacatalog import CATALOG_AREA, CATALOG_SUFFIX

DEMO = build_wheel("demo", "1.0")
OTHER = build_wheel("other", "2.0")

#: Files of ``legacy`` whose names say no project: legacy archives and a
#: version packaging refuses.
LEGACY = [
    BuiltWheel(name, f"bytes of {name}".encode(), b"")
    for name in (
        "Legacy-3.1.0-rc1.tar.gz",
        "legacy-1.0.tar.bz2",
        "legacy-0.9-py2.7.egg",
        "legacy-0.8.win32.exe",
    )
]

#: A file of another project (by its name), listed on ``demo``'s page only.
FOREIGN = build_wheel("other", "1.0")


class _Filled(SynchronousTestCase):
    """
    A cache directory holding the pages, JSON document, files and
    ``.metadata`` of ``demo`` and ``other``, and the project list, filled by
    a proxy that keeps running.
    """

    #: Whether the upstream offers core metadata (PEP 658).
    metadata = True

    def setUp(self) -> None:
        self.index = JsonFakeIndex()
        self.index.metadata = self.metadata
        self.index.add("demo", FakeFile(DEMO))
        self.index.add("other", FakeFile(OTHER))
        self.cache = FilePath(self.mktemp())
        self.cache.makedirs()
        self.proxy = ApiProxy(self.index, self.cache, synthesized=not self.metadata)
        self.proxy.get("/simple/")
        self.proxy.get("/pypi/demo/json")
        for project, wheel in (("demo", DEMO), ("other", OTHER)):
            if not self.metadata:
                # The page says the proxy serves the metadata itself.
                self.proxy.get(f"/simple/{project}/")
            path = self.proxy.file_path(wheel.filename)
            self.assertEqual(self.proxy.get(path).body, wheel.content)
            self.assertEqual(self.proxy.get(path + ".metadata").body, wheel.metadata)

    def command(self, *args: str) -> tuple[int, str]:
        """
        Run ``pypiproxy cache COMMAND --cache-dir DIR ARGS``.

        :return: The exit code and the output.
        """
        options = cli.Options()
        command, *rest = args
        options.parseOptions(["cache", command, "--cache-dir", self.cache.path, *rest])
        out = io.StringIO()
        return run(options.subOptions, out), out.getvalue()

    def on_disk(self, filename: str) -> str:
        """
        Where a file the fake index serves is cached.
        """
        path = self.proxy.file_path(filename)[len("/files/") :]
        return self.cache.child("files").preauthChild(path).path


class ListStatsTests(_Filled):
    """
    ``list`` and ``stats``.
    """

    def test_list(self) -> None:
        """
        ``list`` names every cached page and file with its index, project
        and size; with a project, only that project's.
        """
        code, out = self.command("list")
        name = self.proxy.index_name
        self.assertEqual(code, 0)
        self.assertIn(f"page  {name}  (project list)  fetched ", out)
        self.assertIn(f"page  {name}  demo  fetched ", out)
        wheel = f"file  {name}  demo  {len(DEMO.content)}  "
        self.assertIn(wheel + self.proxy.file_path(DEMO.filename)[1:] + "\n", out)
        self.assertIn(f"file  {name}  other  {len(OTHER.content)}  ", out)
        _, only = self.command("list", "Demo")
        self.assertIn("demo", only)
        self.assertNotIn("other", only)

    def test_stats(self) -> None:
        """
        ``stats`` counts files (with bytes, per index), pages, lists and
        partial downloads.
        """
        code, out = self.command("stats")
        self.assertEqual(code, 0)
        self.assertIn("files              4 (", out)
        self.assertIn(f"  {self.proxy.index_name}", out)
        self.assertIn("project pages      2\n", out)
        self.assertIn("project lists      1\n", out)
        self.assertIn("partial downloads  0\n", out)


class PurgeTests(_Filled):
    """
    ``purge``.
    """

    def test_project(self) -> None:
        """
        ``purge demo`` deletes demo's page, JSON document, files and
        ``.metadata``, and nothing of ``other``; the running proxy then
        downloads demo's file again.
        """
        code, out = self.command("purge", "demo")
        self.assertEqual(code, 0)
        self.assertIn(
            "1 pages, 1 JSON documents, 2 files, 0 core metadata records deleted", out
        )
        self.assertFalse(os.path.exists(self.on_disk(DEMO.filename)))
        self.assertFalse(os.path.exists(self.on_disk(DEMO.filename + ".metadata")))
        self.assertTrue(os.path.exists(self.on_disk(OTHER.filename)))
        remaining = {(p.index, p.key) for p in CacheDir(self.cache.path).pages()}
        self.assertEqual({key for _, key in remaining}, {"_list", "other"})
        again = self.proxy.get(self.proxy.file_path(DEMO.filename))
        self.assertEqual((again.header("x-cache"), again.body), ("MISS", DEMO.content))
        self.assertEqual(self.index.count(f"/packages/{DEMO.filename}"), 2)

    def test_lists_and_all(self) -> None:
        """
        ``purge --list`` deletes only the project lists; ``purge --all``
        deletes everything but partial downloads.
        """
        partial = self.cache.child("tmp").child("dl-1.part")
        partial.setContent(b"partial")
        _, out = self.command("purge", "--list")
        self.assertIn(
            "1 pages, 0 JSON documents, 0 files, 0 core metadata records deleted", out
        )
        self.assertEqual(len(CacheDir(self.cache.path).pages()), 2)
        _, out = self.command("purge", "--all")
        self.assertIn(
            "2 pages, 1 JSON documents, 4 files, 0 core metadata records deleted", out
        )
        cache = CacheDir(self.cache.path)
        self.assertEqual((cache.pages(), cache.files()), ([], []))
        self.assertEqual(os.listdir(self.cache.child("files").path), [])
        self.assertTrue(os.path.exists(partial.path))

    def test_arguments(self) -> None:
        """
        ``purge`` needs a project, ``--list`` or ``--all``, and not both a
        project and ``--all``; names must be valid.
        """
        for args, message in [
            (["purge"], "name a PROJECT"),
            (["purge", "--all", "demo"], "name none"),
            (["purge", "no_good!"], "not a valid project name"),
        ]:
            with self.assertRaises(UsageError, msg=args) as caught:
                self.command(*args)
            self.assertIn(message, str(caught.exception))


class PurgeMadeMetadataTests(_Filled):
    """
    ``purge`` of a cache whose upstream offers no core metadata, so that the
    proxy made the ``.metadata`` of the wheels it downloaded.
    """

    metadata = False

    def record(self, project: str) -> FilePath[str]:
        """The record of the core metadata the proxy made for ``project``."""
        area = self.cache.child(CATALOG_AREA).child(self.proxy.index_name)
        return area.child(project + CATALOG_SUFFIX)

    def test_project(self) -> None:
        """
        ``purge demo`` deletes the record of the metadata made of demo's
        wheel (a page would otherwise advertise it by its hash), and keeps
        other's.
        """
        self.assertTrue(self.record("demo").exists())
        self.assertTrue(self.record("other").exists())
        code, out = self.command("purge", "demo")
        self.assertEqual(code, 0)
        self.assertIn("2 files, 1 core metadata records deleted", out)
        self.assertFalse(self.record("demo").exists())
        self.assertTrue(self.record("other").exists())

    def test_all(self) -> None:
        """
        ``purge --all`` deletes every record of metadata the proxy made.
        """
        _, out = self.command("purge", "--all")
        self.assertIn("4 files, 2 core metadata records deleted", out)
        self.assertFalse(self.record("demo").exists())
        self.assertFalse(self.record("other").exists())


class VerifyTests(_Filled):
    """
    ``verify``.
    """

    def test_all_good(self) -> None:
        """
        Intact files all verify: exit code 0, nothing deleted.
        """
        code, out = self.command("verify")
        self.assertEqual(code, 0)
        self.assertIn("4 good, 0 corrupt (deleted), 0 unverifiable", out)
        self.assertEqual(len(CacheDir(self.cache.path).files()), 4)

    def test_corrupt_files_dropped(self) -> None:
        """
        A file whose bytes no longer match its page's sha256, and a
        ``.metadata`` whose bytes do not match its core-metadata hash, are
        deleted (exit code 1); the good files are kept, and the running
        proxy downloads the deleted file again.
        """
        damaged = self.on_disk(DEMO.filename)
        with open(damaged, "r+b") as f:
            f.write(b"X")
        with open(self.on_disk(OTHER.filename + ".metadata"), "ab") as f:
            f.write(b"Extra: line\n")
        code, out = self.command("verify")
        self.assertEqual(code, 1)
        self.assertIn("2 good, 2 corrupt (deleted), 0 unverifiable", out)
        self.assertIn(
            f"corrupt, deleted: {self.proxy.file_path(DEMO.filename)[1:]}", out
        )
        self.assertFalse(os.path.exists(damaged))
        self.assertTrue(os.path.exists(self.on_disk(OTHER.filename)))
        self.assertTrue(os.path.exists(self.on_disk(DEMO.filename + ".metadata")))
        again = self.proxy.get(self.proxy.file_path(DEMO.filename))
        self.assertEqual(again.body, DEMO.content)
        self.assertEqual(self.command("verify")[0], 0)

    def test_wrong_size(self) -> None:
        """
        A file of another size than its page says is corrupt.
        """
        with open(self.on_disk(DEMO.filename), "ab") as f:
            f.write(b"more")
        code, out = self.command("verify")
        self.assertEqual(code, 1)
        self.assertIn(f"{len(DEMO.content) + 4} bytes, the index says", out)

    def test_unverifiable_kept(self) -> None:
        """
        Files whose page is gone are reported as unverifiable and kept.
        """
        self.cache.child("pages").child(self.proxy.index_name).child(
            "demo.page"
        ).remove()
        code, out = self.command("verify")
        self.assertEqual(code, 0)
        self.assertIn("2 good, 0 corrupt (deleted), 2 unverifiable", out)
        self.assertIn("no cached page of demo on", out)
        self.assertTrue(os.path.exists(self.on_disk(DEMO.filename)))

    def test_exit_code_through_main(self) -> None:
        """
        ``pypiproxy cache verify`` exits with 1 when it deleted a file.
        """
        with open(self.on_disk(DEMO.filename), "r+b") as f:
            f.write(b"X")
        self.patch(sys, "stdout", io.StringIO())
        with self.assertRaises(SystemExit) as caught:
            cli.main(["cache", "verify", "--cache-dir", self.cache.path])
        self.assertEqual(caught.exception.code, 1)


class NamesTests(_Filled):
    """
    Files are the projects' whose cached pages list them, whatever their
    names say: legacy names, and another project's file.
    """

    def setUp(self) -> None:
        """
        A cache holding the four files of ``legacy`` and ``demo``'s page
        listing a file named for ``other``, each fetched once.
        """
        self.index = JsonFakeIndex()
        self.index.add("legacy", *(FakeFile(w) for w in LEGACY))
        self.index.add("demo", FakeFile(FOREIGN))
        self.cache = FilePath(self.mktemp())
        self.cache.makedirs()
        self.proxy = ApiProxy(self.index, self.cache, synthesized=not self.metadata)
        for project in ("legacy", "demo"):
            self.assertEqual(self.proxy.get(f"/simple/{project}/").code, 200)
        for file, project in [*((w, "legacy") for w in LEGACY), (FOREIGN, "demo")]:
            # Files whose names do not say the page's project are linked
            # with the page's name after the index's.
            path = self.proxy.file_path(file.filename)
            head, index, rest = path.split("/", 3)[1:]
            listed = f"/{head}/{index}/~{project}/{rest}"
            self.assertEqual(self.proxy.get(listed).body, file.content)

    def test_verify(self) -> None:
        """
        Every file is verified against the page that lists it; a damaged
        legacy file is found corrupt and deleted.
        """
        code, out = self.command("verify")
        self.assertEqual(code, 0, out)
        self.assertIn("5 good, 0 corrupt (deleted), 0 unverifiable", out)
        with open(self.on_disk(LEGACY[1].filename), "r+b") as f:
            f.write(b"X")
        code, out = self.command("verify")
        self.assertEqual(code, 1)
        self.assertIn("4 good, 1 corrupt (deleted), 0 unverifiable", out)
        self.assertFalse(os.path.exists(self.on_disk(LEGACY[1].filename)))

    def test_purge(self) -> None:
        """
        Purging a project deletes every file its page lists, whatever their
        names, and only those.
        """
        code, out = self.command("purge", "legacy")
        self.assertEqual(code, 0)
        self.assertIn(
            "1 pages, 0 JSON documents, 4 files, 0 core metadata records deleted", out
        )
        for file in LEGACY:
            self.assertFalse(os.path.exists(self.on_disk(file.filename)))
        self.assertTrue(os.path.exists(self.on_disk(FOREIGN.filename)))
        code, out = self.command("purge", "demo")
        self.assertIn(
            "1 pages, 0 JSON documents, 1 files, 0 core metadata records deleted", out
        )
        self.assertEqual(CacheDir(self.cache.path).files(), [])

    def test_list(self) -> None:
        """
        ``list`` names the project whose page lists each file, and lists a
        project's files whatever their names.
        """
        name = self.proxy.index_name
        _, out = self.command("list", "legacy")
        for file in LEGACY:
            self.assertIn(f"file  {name}  legacy  {len(file.content)}  ", out)
            self.assertIn(file.filename, out)
        self.assertNotIn(FOREIGN.filename, out)
        _, out = self.command("list", "demo")
        self.assertIn(f"file  {name}  demo  {len(FOREIGN.content)}  ", out)
