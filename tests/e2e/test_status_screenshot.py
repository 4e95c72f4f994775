"""
A headless Chromium screenshot of the status page, phone-sized, from a real
proxy on 127.0.0.1 (real reactor) that has served some traffic: the page
renders in a real browser, at the requested size, and is not blank.

Skipped only where no ``chromium`` is on ``PATH``; ``scripts/test-deps``
(run by tox before the tests) installs it where it can.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections import Counter
from collections.abc import Callable

import treq
from twisted.internet import reactor, tcp
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import deferLater
from twisted.internet.utils import getProcessOutputAndValue
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, TestCase
from twisted.web.server import Request

from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import Upstream, port_of
from tests.wheels import build_wheel
from twisted_pypi.app.service import make_service
from twisted_pypi.core.config import IndexConfig, ProxyConfig, index_name_for
from twisted_pypi.core.dummyspec import DummySpec

#: A phone's viewport, in CSS pixels.
WIDTH, HEIGHT = 390, 844

OLD = build_wheel("demo", "1.0")
BIG = build_wheel("demo", "2.0", padding=300_000)

JSON: dict[bytes | str, bytes | str] = {"Accept": "application/vnd.pypi.simple.v1+json"}


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """
    Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes).

    :return: Width, height (from the IHDR chunk) and the unfiltered rows.
    :raise ValueError: If ``data`` is not such a PNG.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height, depth, color, _, _, interlace = struct.unpack(
        ">IIBBBBB", data[16:29]
    )
    if depth != 8 or color not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, color type {color}")
    bpp = 3 if color == 2 else 4
    chunks = []
    offset = 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        if data[offset + 4 : offset + 8] == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = width * bpp
    rows: list[bytes] = []
    above = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = above[i]
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                corner = above[i - bpp] if i >= bpp else 0
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                best = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + best) & 0xFF
        rows.append(bytes(line))
        above = line
    return width, height, rows


class StatusScreenshotTests(TestCase):
    """
    The status page as a phone's browser shows it.
    """

    timeout = 120

    def setUp(self) -> None:
        chromium = shutil.which("chromium")
        if chromium is None:
            raise SkipTest(
                "chromium is not on PATH (scripts/test-deps installs Debian's "
                "chromium package where it can)"
            )
        self.chromium = chromium

    async def start_proxy(self) -> tuple[str, Upstream, IListeningPort]:
        """
        A fake upstream and a proxy in front of it (and of a second index that
        refuses connections), both on 127.0.0.1, stopped at cleanup.

        :return: The proxy's URL, the upstream and the proxy's port.
        """
        index = FakeIndex()
        index.add("demo", FakeFile(OLD), FakeFile(BIG))
        upstream = Upstream(index)
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        closed = Upstream(FakeIndex())
        await closed.stop()
        config = ProxyConfig(
            listen=("tcp:0:interface=127.0.0.1",),
            indexes=(
                IndexConfig(index_name_for(upstream.url), upstream.url),
                IndexConfig("backup", closed.url),
            ),
            cache_dir=FilePath(self.mktemp()).path,
            cache_size=64 << 20,
            dummies=(DummySpec("torch"),),
            routes={"internal-tools": "backup"},
        )
        service = make_service(config, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        port = service.ports[0]
        return f"http://127.0.0.1:{port_of(port)}/", upstream, port

    async def get(self, url: str) -> tuple[int, bytes]:
        """
        GET ``url`` on a connection of its own.

        :return: The status and the body.
        """
        response = await treq.get(url, headers=JSON, persistent=False)
        body: bytes = await response.content()
        return response.code, body

    async def until(self, done: Callable[[], Deferred[bool] | bool]) -> None:
        """
        Wait (up to 5 s) until ``done()`` is true.
        """
        for _ in range(500):
            result = done()
            if await result if isinstance(result, Deferred) else result:
                return
            await deferLater(reactor, 0.01)
        raise AssertionError("gave up waiting")

    async def test_phone_screenshot(self) -> None:
        """
        Chromium, at a phone's size, renders the status page of a proxy with
        hits, misses, an upstream error and a download half done into a PNG
        of exactly that size, with plenty of different pixels.
        """
        url, upstream, port = await self.start_proxy()
        files = f"{url}files/{index_name_for(upstream.url)}/http/"
        files += upstream.url.split("/")[2] + "/packages/"
        self.assertEqual((await self.get(url + "simple/demo/"))[0], 200)
        self.assertEqual((await self.get(url + "simple/demo/"))[0], 200)
        self.assertEqual(await self.get(files + OLD.filename), (200, OLD.content))
        self.assertEqual((await self.get(url + "simple/not-anywhere/"))[0], 502)
        upstream.index.hold_files = True
        pending = treq.get(files + BIG.filename, persistent=False)
        held = await self.held(upstream)
        held.write(BIG.content[: len(BIG.content) // 2])

        async def progress_shown() -> bool:
            return b'<progress max="%d"' % len(BIG.content) in (await self.get(url))[1]

        await self.until(lambda: Deferred.fromCoroutine(progress_shown()))

        home = FilePath(self.mktemp())
        home.makedirs()
        shot = home.child("status.png")
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env["HOME"] = home.path
        out, err, code = await getProcessOutputAndValue(
            self.chromium,
            [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={home.child('profile').path}",
                f"--window-size={WIDTH},{HEIGHT}",
                f"--screenshot={shot.path}",
                url,
            ],  # fmt: skip
            env=env,
            path=home.path,
            reactor=reactor,
        )
        held.write(BIG.content[len(BIG.content) // 2 :])
        held.finish()
        response = await pending
        self.assertEqual(await response.content(), BIG.content)
        await self.until(lambda: not self.connected(port))

        self.assertTrue(shot.exists(), (code, err.decode("utf-8", "replace")))
        width, height, rows = png_pixels(shot.getContent())
        self.assertEqual((width, height), (WIDTH, HEIGHT))
        bpp = len(rows[0]) // width
        colors = Counter(
            row[x : x + 3] for row in rows for x in range(0, len(row), bpp)
        )
        background = colors.most_common(1)[0][1]
        self.assertGreater(len(colors), 50)
        self.assertLess(background, 0.9 * width * height)

    async def held(self, upstream: Upstream) -> Request:
        """
        The one file request the upstream holds, once it arrived.
        """
        await self.until(lambda: bool(upstream.index.held))
        (held,) = upstream.index.held
        return held

    def connected(self, port: IListeningPort) -> bool:
        """
        Whether any client is still connected to the proxy's ``port``.
        """
        everything = [*reactor.getReaders(), *reactor.getWriters()]
        return any(isinstance(s, tcp.Server) and s.server is port for s in everything)
