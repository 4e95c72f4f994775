"""
End-to-end: an upstream that sends a wheel with wrong bytes (the right
length) or cuts it off half-way, to real pip and real uv through the real
``twistd -n pypiproxy`` process.  Both installers fail cleanly (an error,
not a hang, not a broken install), the proxy keeps nothing of the bad
download, and once the upstream is repaired the same request gets the right
file.
"""

from __future__ import annotations

from attrs import define, field
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.python.filepath import FilePath
from twisted.web.server import NOT_DONE_YET, Request

from tests.e2e.proxyprocess import ProxyProcess, start_twistd_proxy
from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, pip_argv, uv_argv
from tests.wheels import build_wheel
from twisted_pypi.storage.layout import TMP_DIR

#: The wheel the upstream breaks: large enough to arrive in several chunks.
WHEEL = build_wheel("tpbroken", "1.0", padding=256 << 10)

#: What the installers say of a download cut off (the proxy aborts the
#: response rather than send a bad last byte) or of a bad hash.  pip 25
#: retries a cut-off download by ranges and then says it is incomplete.
FAILURE_WORDS = (
    "connection broken",
    "connection reset",
    "connection interrupted",
    "incomplete-download",
    "hash",
)


def corrupted(content: bytes) -> bytes:
    """
    ``content`` with one byte in the middle changed: the same length, the
    wrong hash.
    """
    bad = bytearray(content)
    bad[len(bad) // 2] ^= 0xFF
    return bytes(bad)


@define
class BreakingIndex(FakeIndex):
    """
    A fake index that breaks the wheels named in ``broken``: ``"corrupt"``
    sends wrong bytes of the right length, ``"truncate"`` announces the
    whole length, sends half, and closes the connection.
    """

    broken: dict[str, str] = field(factory=dict)

    def _file(self, request: Request, filename: str) -> bytes | int:
        """
        Serve a file, broken if ``broken`` names it.
        """
        how = self.broken.get(filename)
        if how is None:
            return super()._file(request, filename)
        content = next(
            f.wheel.content
            for files in self.projects.values()
            for f in files
            if f.wheel.filename == filename
        )
        request.setHeader(b"content-type", b"application/octet-stream")
        if how == "corrupt":
            return corrupted(content)
        request.setHeader(b"content-length", b"%d" % (len(content),))
        request.write(content[: len(content) // 2])
        request.loseConnection()
        return NOT_DONE_YET


class BrokenFileTests(RealInstallTestCase):
    """
    Broken upstream files through the proxy process.
    """

    async def start(
        self, how: str
    ) -> tuple[BreakingIndex, ProxyProcess, FilePath[str]]:
        """
        An index that breaks :data:`WHEEL` as ``how`` says, and the proxy
        process in front of it.

        :return: The index, the proxy, and its cache directory.
        """
        index = BreakingIndex(mode="json", broken={WHEEL.filename: how})
        index.add("tpbroken", FakeFile(WHEEL))
        upstream = self.start_upstream(index)
        cache = self.scratch()
        proxy = await start_twistd_proxy(
            self, self.home, ["--index", upstream.url, "--cache-dir", cache.path]
        )
        # uv would ask again after a failure: once is enough here.
        self.env["UV_HTTP_RETRIES"] = "0"
        return index, proxy, cache

    async def install(
        self, installer: str, proxy: ProxyProcess
    ) -> tuple[int, str, FilePath[str]]:
        """
        Install :data:`WHEEL`'s project with ``installer`` (``"pip"`` or
        ``"uv"``) into a new directory through ``proxy``.

        :return: The exit code, the output, and the target directory.
        """
        target = self.scratch()
        if installer == "pip":
            argv = pip_argv(proxy.url, target, "tpbroken")
        else:
            assert self.uv is not None
            argv = uv_argv(self.uv, proxy.url, target, "tpbroken")
        code, output = await self.run_process(argv, self.env)
        return code, output, target

    async def assert_fails_cleanly(self, installer: str, proxy: ProxyProcess) -> None:
        """
        ``installer`` fails with a message about the download, and installs
        nothing.
        """
        code, output, target = await self.install(installer, proxy)
        self.assertNotEqual(code, 0, output)
        lowered = output.lower()
        self.assertTrue(any(word in lowered for word in FAILURE_WORDS), output)
        self.assertFalse(target.child("tpbroken.py").exists(), output)

    async def assert_nothing_cached(self, cache: FilePath[str]) -> None:
        """
        The cache holds no file named like the wheel, and no partial
        download once the proxy has cleaned up after the failure.
        """
        named = [p.path for p in cache.walk() if p.basename() == WHEEL.filename]
        self.assertEqual(named, [])
        tmp = cache.child(TMP_DIR)
        for _ in range(100):
            if not (tmp.exists() and tmp.children()):
                break
            await deferLater(reactor, 0.05)
        self.assertEqual(tmp.children() if tmp.exists() else [], [])

    async def repaired(
        self,
        installer: str,
        index: BreakingIndex,
        proxy: ProxyProcess,
        cache: FilePath[str],
    ) -> None:
        """
        Once the upstream sends the right bytes, ``installer`` installs the
        wheel through the same proxy, which caches the right file.
        """
        index.broken.clear()
        code, output, target = await self.install(installer, proxy)
        self.assertEqual(code, 0, output)
        self.assertEqual(target.child("tpbroken.py").getContent(), b"VERSION = '1.0'\n")
        [cached] = [p for p in cache.walk() if p.basename() == WHEEL.filename]
        self.assertEqual(cached.getContent(), WHEEL.content)

    def assert_logged(self, proxy: ProxyProcess, why: str) -> None:
        """
        The proxy logged why the download failed, naming the file and the
        upstream host, in words: no traceback, no ``repr`` of a failure.
        """
        log = proxy.log.decode("utf-8", "replace")
        self.assertIn(f"Download of {WHEEL.filename} from 127.0.0.1:", log)
        self.assertIn(why, log)
        self.assertNotIn("Traceback", log)
        self.assertNotIn("<twisted.python.failure", log)

    async def test_corrupted(self) -> None:
        """
        A wheel with wrong bytes of the right length fails pip and uv
        cleanly, is not cached, and is served right once repaired.
        """
        index, proxy, cache = await self.start("corrupt")
        await self.assert_fails_cleanly("pip", proxy)
        await self.assert_fails_cleanly("uv", proxy)
        await self.assert_nothing_cached(cache)
        await self.repaired("pip", index, proxy, cache)
        self.assert_logged(proxy, "sha256 mismatch")

    async def test_truncated(self) -> None:
        """
        A wheel cut off half-way by the upstream fails pip and uv cleanly, is
        not cached, and is served right once repaired.
        """
        index, proxy, cache = await self.start("truncate")
        await self.assert_fails_cleanly("pip", proxy)
        await self.assert_fails_cleanly("uv", proxy)
        await self.assert_nothing_cached(cache)
        await self.repaired("uv", index, proxy, cache)
        self.assert_logged(proxy, "the upstream closed the connection after")
