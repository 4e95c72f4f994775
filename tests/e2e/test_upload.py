"""
End-to-end: real ``twine upload`` and real ``uv publish`` against the upload
resource listening on 127.0.0.1, on the real reactor, with password checks
and storing in the reactor's thread pool.

The tools run as subprocesses without blocking the reactor, in a clean
environment (no configuration of this machine, a temporary home).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import bcrypt
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThreadPool
from twisted.internet.utils import getProcessOutputAndValue
from twisted.protocols.policies import WrappingFactory
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SkipTest, TestCase
from twisted.web.resource import Resource
from twisted.web.server import Site

from tests.realinstall import clean_env, port_of, uv_binary
from tests.uploadforms import sdist_with
from tests.wheels import BuiltWheel, build_sdist, build_wheel
from twisted_pypi.web.upload import limited_request, make_upload_resource

WHEEL = build_wheel("tp-upload", "1.0")
#: An sdist twine can read (it wants more than the one PKG-INFO member).
SDIST = sdist_with(build_sdist("tp-upload", "1.0").metadata, "tp_upload-1.0.tar.gz")


def run_in_pool(work: Callable[[], Any]) -> Deferred[Any]:
    """
    Run ``work`` in the reactor's thread pool.
    """
    threaded: Any = reactor
    return deferToThreadPool(threaded, threaded.getThreadPool(), work)


class UploadToolTests(TestCase):
    """
    twine and uv upload to a local index through the upload API.
    """

    timeout = 120

    def setUp(self) -> None:
        self.home = FilePath(self.mktemp())
        self.home.makedirs()
        self.env = clean_env(self.home)
        self.index = self.home.child("private")
        self.index.makedirs()
        self.dist = self.home.child("dist")
        self.dist.makedirs()
        users = self.home.child("users")
        hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
        users.setContent(f"alice:{hashed}\n".encode())
        root = Resource()
        root.putChild(
            b"upload",
            make_upload_resource(
                {"private": self.index.path},
                users.path,
                clock=reactor,
                runner=run_in_pool,
            ),
        )
        self.connections = WrappingFactory(Site(root, requestFactory=limited_request()))
        factory: Any = self.connections
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        self.addCleanup(lambda: Deferred.fromCoroutine(self.close_connections()))
        self.url = f"http://127.0.0.1:{port_of(port)}/upload/private/"

    async def close_connections(self) -> None:
        """
        Close what the tools left open, and wait until it is closed.
        """
        for protocol in list(self.connections.protocols):
            protocol.transport.abortConnection()
        for _ in range(200):
            if not self.connections.protocols:
                return
            await deferLater(reactor, 0.01)
        raise AssertionError("connections stayed open")

    def write(self, *dists: BuiltWheel) -> list[str]:
        """
        Write ``dists`` to the dist directory; their paths.
        """
        paths = []
        for dist in dists:
            self.dist.child(dist.filename).setContent(dist.content)
            paths.append(self.dist.child(dist.filename).path)
        return paths

    async def run_tool(self, argv: list[str]) -> tuple[int, str]:
        """
        Run a command; its exit code and output.
        """
        out, err, code = await getProcessOutputAndValue(
            argv[0], argv[1:], env=self.env, path=self.home.path
        )
        return code, (out + err).decode("utf-8", "replace")

    async def twine(self, *args: str, password: str = "s3cret") -> tuple[int, str]:
        """
        Run ``twine upload`` to the local index as ``alice``.
        """
        return await self.run_tool(
            [sys.executable, "-m", "twine", "upload", "--repository-url", self.url,
             "-u", "alice", "-p", password, "--non-interactive",
             "--disable-progress-bar", *args]
        )  # fmt: skip

    async def uv(self, *args: str, password: str = "s3cret") -> tuple[int, str]:
        """
        Run ``uv publish`` to the local index as ``alice``.
        """
        uv = uv_binary()
        if uv is None:
            raise SkipTest("uv is not installed")
        return await self.run_tool(
            [uv, "publish", "--publish-url", self.url, "--username", "alice",
             "--password", password, "--no-progress", "--color", "never", *args]
        )  # fmt: skip

    def assertStored(self, *dists: BuiltWheel) -> None:
        """
        The index holds exactly ``dists``, byte for byte.
        """
        self.assertEqual(
            sorted(self.index.listdir()), sorted(d.filename for d in dists)
        )
        for dist in dists:
            self.assertEqual(self.index.child(dist.filename).getContent(), dist.content)

    async def test_twine(self) -> None:
        """
        twine uploads a wheel and an sdist; uploading one again fails with
        409 and the server's reason.  ``--skip-existing`` either skips on
        that 409 or, since twine 7, is refused by twine for any index but
        PyPI's before anything is sent.
        """
        paths = self.write(WHEEL, SDIST)
        code, output = await self.twine(*paths)
        self.assertEqual(code, 0, output)
        self.assertStored(WHEEL, SDIST)
        code, output = await self.twine(paths[0])
        self.assertNotEqual(code, 0, output)
        self.assertIn("409 Conflict", output)
        self.assertIn(f"{WHEEL.filename} already exists", " ".join(output.split()))
        code, output = await self.twine("--skip-existing", *paths)
        if code == 0:
            self.assertIn("Skipping", output)
        else:
            self.assertIn("UnsupportedConfiguration", output)
        self.assertStored(WHEEL, SDIST)

    async def test_twine_wrong_password(self) -> None:
        """
        twine with a wrong password fails with 401; nothing is stored.
        """
        code, output = await self.twine(*self.write(WHEEL), password="wrong")
        self.assertNotEqual(code, 0, output)
        self.assertIn("401", output)
        self.assertStored()

    async def test_twine_wrong_password_large(self) -> None:
        """
        twine, which sends its body without waiting for ``100 Continue``,
        gets the 401 and its reason for a 5 MB upload with a wrong password,
        not a connection error, although the proxy answers at the headers
        and closes the connection with most of the body unread.
        """
        large = build_wheel("tp-upload", "2.0", padding=5 << 20)
        code, output = await self.twine(*self.write(large), password="wrong")
        self.assertNotEqual(code, 0, output)
        self.assertIn("401 Unauthorized", output)
        self.assertIn("Wrong or missing credentials", " ".join(output.split()))
        for symptom in ("ConnectionError", "Connection aborted", "reset by peer"):
            self.assertNotIn(symptom, output)
        self.assertStored()

    async def test_uv(self) -> None:
        """
        uv publishes a wheel and an sdist; publishing them again fails with
        409 and the server's reason (uv skips existing files only with
        ``--check-url``, which asks an index for their hashes).
        """
        paths = self.write(WHEEL, SDIST)
        code, output = await self.uv(*paths)
        self.assertEqual(code, 0, output)
        self.assertStored(WHEEL, SDIST)
        code, output = await self.uv(*paths)
        self.assertNotEqual(code, 0, output)
        self.assertIn("409 Conflict", output)
        self.assertIn(f"{WHEEL.filename} already exists", output)
        self.assertStored(WHEEL, SDIST)

    async def test_uv_wrong_password(self) -> None:
        """
        uv with a wrong password fails; nothing is stored.
        """
        code, output = await self.uv(*self.write(WHEEL), password="wrong")
        self.assertNotEqual(code, 0, output)
        self.assertIn("401", output)
        self.assertStored()
