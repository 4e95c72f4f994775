"""
End-to-end: ``Range`` requests for files the proxy does not hold, on
127.0.0.1, through a proxy on the real reactor in front of a fake upstream
that honours ranges and logs them.  A range of a wheel neither cached nor
being downloaded is passed to the upstream as that range only; a range of a
wheel being downloaded is answered from the download's spool; and real
``uv``, resolving against an index without PEP 658 metadata, is given the
core metadata the proxy reads by ranges of the upstream's wheels, so the
wheels it rejects reach the upstream as ranges only, never downloaded
whole.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urljoin

from treq import content
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.web.client import Agent, HTTPConnectionPool
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, uv_argv
from tests.wheels import build_wheel

#: A wheel large enough that fetching it whole would show.
BIG = build_wheel("tpbig", "1.0", padding=1 << 20)

#: The app: it needs the lib and the other project.
APP = build_wheel("tpapp", "1.0", requires=["tplib", "tpother>=1"])
#: The newest lib, which uv looks at first and must reject: it needs a
#: ``tpother`` older than any there is.  A few MB, never to be fetched whole.
LIB_REJECTED = build_wheel("tplib", "3.0", requires=["tpother<1"], padding=3 << 20)
#: The lib uv must choose.
LIB_CHOSEN = build_wheel("tplib", "2.0")
OTHER = build_wheel("tpother", "1.0")

#: The JSON form of the simple API.
_JSON = "application/vnd.pypi.simple.v1+json"


class RangeTests(RealInstallTestCase):
    """
    Ranges of files not cached, through a proxy on 127.0.0.1.
    """

    def setUp(self) -> None:
        """The installer environment, and a client without kept connections."""
        super().setUp()
        self.agent = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))

    async def get(
        self, url: str, headers: dict[str, str] | None = None
    ) -> tuple[IResponse, bytes]:
        """A ``GET`` of ``url``: the response and its whole body."""
        raw = Headers({k: [v] for k, v in (headers or {}).items()})
        response = await self.agent.request(b"GET", url.encode("ascii"), raw)
        return response, await content(response)

    async def file_url(self, proxy: str, project: str) -> str:
        """The proxy's URL of the first file its page of ``project`` lists."""
        response, body = await self.get(proxy + project + "/", {"Accept": _JSON})
        self.assertEqual(response.code, 200)
        url: str = json.loads(body)["files"][0]["url"]
        return urljoin(proxy + project + "/", url)

    async def test_range_passed_through(self) -> None:
        """
        A range of a wheel neither cached nor being downloaded is a 206
        with exactly those bytes; the upstream's only request for the wheel
        is a ``GET`` of that range.
        """
        index = FakeIndex(mode="json")
        index.add("tpbig", FakeFile(BIG))
        upstream = self.start_upstream(index)
        proxy = await self.start_proxy(upstream)
        url = await self.file_url(proxy, "tpbig")
        response, body = await self.get(url, {"Range": "bytes=-1000"})
        size = len(BIG.content)
        self.assertEqual(response.code, 206)
        self.assertEqual(body, BIG.content[-1000:])
        self.assertEqual(
            response.headers.getRawHeaders("content-range"),
            [f"bytes {size - 1000}-{size - 1}/{size}"],
        )
        path = f"/packages/{BIG.filename}"
        self.assertEqual(upstream.file_requests(), {("GET", path): 1})
        self.assertEqual(index.ranged, [(path, f"bytes={size - 1000}-{size - 1}")])

    async def test_range_from_spool(self) -> None:
        """
        A range of a wheel being downloaded is a 206 from the download as
        soon as those bytes arrived; the upstream is not asked again.
        """
        index = FakeIndex(mode="json", hold_files=True)
        index.add("tpbig", FakeFile(BIG))
        upstream = self.start_upstream(index)
        proxy = await self.start_proxy(upstream)
        url = await self.file_url(proxy, "tpbig")
        whole = self.agent.request(b"GET", url.encode("ascii"))
        for _ in range(500):
            if index.held:
                break
            await deferLater(reactor, 0.01)
        [held] = index.held
        held.write(BIG.content[:5000])
        response, body = await self.get(url, {"Range": "bytes=1000-3999"})
        self.assertEqual(response.code, 206)
        self.assertEqual(body, BIG.content[1000:4000])
        self.assertEqual(index.ranged, [])
        held.write(BIG.content[5000:])
        held.finish()
        self.assertEqual(await content(await whole), BIG.content)
        path = f"/packages/{BIG.filename}"
        self.assertEqual(upstream.file_requests(), {("GET", path): 1})

    async def test_uv_without_metadata(self) -> None:
        """
        uv resolves against an index that gives no core metadata: the proxy
        advertises its own (read by ranges of the upstream's wheels, which
        reach the upstream as ranges), so the lib uv must reject is never
        fetched whole, and no ``.metadata`` is asked of the upstream; the
        install has the right versions.
        """
        assert self.uv is not None
        index = FakeIndex(mode="json", metadata=False)
        index.add("tpapp", FakeFile(APP))
        index.add("tplib", FakeFile(LIB_CHOSEN), FakeFile(LIB_REJECTED))
        index.add("tpother", FakeFile(OTHER))
        upstream = self.start_upstream(index)
        proxy = await self.start_proxy(upstream)
        target = self.scratch()
        code, output = await self.run_process(
            uv_argv(self.uv, proxy, target, "tpapp"), self.env
        )
        self.assertEqual(code, 0, output)
        installed = {c.basename() for c in target.children()}
        self.assertIn("tplib-2.0.dist-info", installed, output)
        self.assertIn("tpother-1.0.dist-info", installed, output)
        rejected = f"/packages/{LIB_REJECTED.filename}"
        reads = [asked for path, asked in index.ranged if path == rejected]
        self.assertTrue(reads, (index.ranged, output))
        self.assertEqual(upstream.file_requests()[("GET", rejected)], len(reads))
        self.assertEqual(index.whole_downloads(LIB_REJECTED.filename), 0)
        asked = [p for _, p in index.requests if p.endswith(".metadata")]
        self.assertEqual(asked, [])
        response, body = await self.get(proxy + "tplib/", {"Accept": _JSON})
        listed = {f["filename"]: f for f in json.loads(body)["files"]}
        digest = hashlib.sha256(LIB_REJECTED.metadata).hexdigest()
        self.assertEqual(
            listed[LIB_REJECTED.filename]["core-metadata"], {"sha256": digest}
        )
        url = urljoin(proxy + "tplib/", listed[LIB_REJECTED.filename]["url"])
        response, body = await self.get(url + ".metadata")
        self.assertEqual((response.code, body), (200, LIB_REJECTED.metadata))
        self.assertEqual(index.whole_downloads(LIB_REJECTED.filename), 0)
