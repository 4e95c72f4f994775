"""
End-to-end: real ``pip`` and real ``uv`` resolve through the proxy from a
fake upstream that offers no PEP 658 metadata at all (HTML and JSON, with
and without ``Range`` support), where the resolver must look at several
versions of a project: ``tpa`` 4.0 and 3.0 need a ``tpb`` that does not
exist, so the resolvers go back to ``tpa`` 2.0.

The proxy gives every wheel its core metadata: read by ranges of the
upstream's wheels (the versions not installed are never downloaded whole),
or, where the upstream ignores ranges, read from the wheels once cached.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast
from urllib.parse import urljoin

from treq import content
from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.logger import ILogObserver, LogEvent, LogLevel, globalLogPublisher
from twisted.python.filepath import FilePath
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers

from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, pip_argv, uv_argv
from tests.wheels import BuiltWheel, build_wheel

#: The padding that makes each wheel larger than the proxy's first ranged
#: read of it.
_PAD = 300_000

#: ``tpa`` in four versions: 4.0 and 3.0 need ``tpb>=9``, which no index has.
TPA = {
    v: build_wheel(
        "tpa",
        f"{v}.0",
        requires=["tpb>=9"] if v >= 3 else ["tpb>=1"],
        padding=_PAD,
    )
    for v in (1, 2, 3, 4)
}
TPB = build_wheel("tpb", "1.0", padding=_PAD)
#: What ranged reads of ``tpb`` see: a stale copy on a CDN, other metadata.
TPB_STALE = build_wheel("tpb", "1.0", requires_python=">=3.0", padding=_PAD)

#: The versions the resolvers look at but do not install.
EXAMINED = (TPA[4], TPA[3])
#: What they install.
INSTALLED = (TPA[2], TPB)


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class CoreMetadataTests(RealInstallTestCase):
    """
    pip and uv through a proxy in front of an index with no PEP 658
    metadata.
    """

    def setUp(self) -> None:
        super().setUp()
        self.events: list[LogEvent] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        pool = HTTPConnectionPool(reactor)
        self.addCleanup(pool.closeCachedConnections)
        self.client = HTTPClient(Agent(reactor, pool=pool))

    async def start(
        self, mode: str = "json", ranges: bool = True, stale: bool = False
    ) -> tuple[FakeIndex, str]:
        """
        The fake index (no metadata) and a proxy in front of it.

        :param stale: Ranged reads of ``tpb`` see a stale copy.
        """
        index = FakeIndex(mode=mode, metadata=False, ranges=ranges)
        index.add("tpa", *(FakeFile(w) for w in TPA.values()))
        index.add("tpb", FakeFile(TPB, ranged_wheel=TPB_STALE if stale else None))
        upstream = self.start_upstream(index)
        return index, await self.start_proxy(upstream)

    async def install(self, url: str, tool: str) -> FilePath[str]:
        """Install ``tpa`` with ``tool``; fails the test if it fails."""
        target = self.scratch()
        if tool == "pip":
            argv = pip_argv(url, target, "tpa")
        else:
            assert self.uv is not None
            argv = uv_argv(self.uv, url, target, "tpa")
        code, output = await self.run_process(argv, self.env)
        self.assertEqual(code, 0, output)
        self.assertEqual(target.child("tpa.py").getContent(), b"VERSION = '2.0'\n")
        return target

    async def fetch(self, url: str, accept: str | None = None) -> tuple[int, bytes]:
        """GET ``url`` (from the proxy): its status and body."""
        headers = Headers({"Accept": [accept]} if accept else {})
        response = await self.client.get(url, headers=headers)
        return response.code, await content(response)

    async def page(self, proxy: str, project: str) -> dict[str, Any]:
        """A project's JSON page from the proxy, its files by filename."""
        code, body = await self.fetch(
            f"{proxy}{project}/", "application/vnd.pypi.simple.v1+json"
        )
        self.assertEqual(code, 200)
        return {f["filename"]: f for f in json.loads(body)["files"]}

    async def check_metadata(self, proxy: str, wheels: tuple[BuiltWheel, ...]) -> None:
        """
        Each wheel's ``.metadata`` through the proxy is exactly its
        ``METADATA``, and its page then advertises that hash.
        """
        for wheel in wheels:
            project = wheel.filename.split("-")[0]
            listed = (await self.page(proxy, project))[wheel.filename]
            link = urljoin(f"{proxy}{project}/", listed["url"])
            code, body = await self.fetch(link + ".metadata")
            self.assertEqual((code, body), (200, wheel.metadata), wheel.filename)
            listed = (await self.page(proxy, project))[wheel.filename]
            self.assertEqual(listed["core-metadata"], {"sha256": sha256(body)})

    def assert_only_ranges(self, index: FakeIndex) -> None:
        """
        The versions looked at but not installed were read by ranges only;
        the installed ones were downloaded whole once; no ``.metadata`` was
        asked of the upstream.
        """
        for wheel in EXAMINED:
            self.assertEqual(index.whole_downloads(wheel.filename), 0, wheel.filename)
            self.assertGreater(index.ranged_reads(wheel.filename), 0, wheel.filename)
        for wheel in INSTALLED:
            self.assertEqual(index.whole_downloads(wheel.filename), 1, wheel.filename)
        asked = [p for _, p in index.requests if p.endswith(".metadata")]
        self.assertEqual(asked, [])

    async def test_pip_json(self) -> None:
        """
        pip, JSON upstream with ranges: resolved from the proxy's metadata,
        the versions not installed never downloaded whole.
        """
        index, proxy = await self.start("json")
        await self.install(proxy, "pip")
        self.assert_only_ranges(index)
        await self.check_metadata(proxy, (*TPA.values(), TPB))

    async def test_pip_html(self) -> None:
        """
        pip, HTML upstream with ranges: the same.
        """
        index, proxy = await self.start("html")
        await self.install(proxy, "pip")
        self.assert_only_ranges(index)
        await self.check_metadata(proxy, (*TPA.values(), TPB))

    async def test_uv(self) -> None:
        """
        uv, JSON upstream with ranges: it reads the advertised ``.metadata``
        (no ranged reads of its own), the versions not installed never
        downloaded whole.
        """
        index, proxy = await self.start("json")
        await self.install(proxy, "uv")
        self.assert_only_ranges(index)
        await self.check_metadata(proxy, (*TPA.values(), TPB))

    async def test_uv_html(self) -> None:
        """
        uv, HTML upstream with ranges: the same.
        """
        index, proxy = await self.start("html")
        await self.install(proxy, "uv")
        self.assert_only_ranges(index)

    async def test_no_ranges(self) -> None:
        """
        pip, upstream without ranges: nothing is advertised at first (pip
        downloads the wheels it looks at); once cached, every one of them is
        advertised with the hash of its ``METADATA``, which it is served,
        and a second install (pip's cache empty) succeeds from it.
        """
        index, proxy = await self.start("json", ranges=False)
        listed = await self.page(proxy, "tpa")
        self.assertEqual({f.get("core-metadata") for f in listed.values()}, {None})
        await self.install(proxy, "pip")
        await self.settled(proxy, "tpa", EXAMINED + (TPA[2],))
        await self.check_metadata(proxy, (*EXAMINED, *INSTALLED))
        before = list(index.file_log)
        await self.install(proxy, "pip")
        self.assertEqual(index.file_log, before, "nothing asked of the upstream")

    async def test_mismatch(self) -> None:
        """
        Metadata read by ranges of a stale copy of a wheel is caught when
        the wheel itself is downloaded: logged, replaced by the wheel's own,
        whose hash the page then advertises, so the next install gets
        consistent metadata (pip 26.2 and later refuse the first one, as they
        compare the two; older ones install it).
        """
        index, proxy = await self.start("json", stale=True)
        target = self.scratch()
        code, output = await self.run_process(pip_argv(proxy, target, "tpa"), self.env)
        if code != 0:
            # pip 26.2 and later compare the .metadata with the wheel's own
            # METADATA and stop; older ones install the wheel regardless.
            self.assertIn("inconsistent", output)
        for _ in range(200):
            if any(self._mismatch(e) for e in self.events):
                break
            await deferLater(reactor, 0.05)
        self.assertTrue(any(self._mismatch(e) for e in self.events))
        await self.check_metadata(proxy, (TPB,))
        await self.install(proxy, "pip")  # the replaced metadata: consistent

    def _mismatch(self, event: LogEvent) -> bool:
        """Whether ``event`` is the warning of ``tpb``'s stale metadata."""
        return (
            event.get("log_level") is LogLevel.warn
            and event.get("file") == TPB.filename
            and event.get("old") == sha256(TPB_STALE.metadata)
        )

    async def settled(
        self, proxy: str, project: str, wheels: tuple[BuiltWheel, ...]
    ) -> None:
        """
        Wait until the page advertises the metadata of ``wheels`` (read from
        them once committed, in a thread).
        """
        for _ in range(200):
            listed = await self.page(proxy, project)
            if all(listed[w.filename].get("core-metadata") for w in wheels):
                return
            await deferLater(reactor, 0.05)
        self.fail(f"{project}'s page never advertised the metadata")
