"""
End to end through the whole proxy: a real ``twine upload`` to a local
index, then real ``pip`` and ``uv`` installs of the uploaded package, whose
dependency comes from the remote index.
"""

from __future__ import annotations

import sys

import bcrypt
from twisted.python.filepath import FilePath

from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, pip_argv, uv_argv
from tests.wheels import build_wheel
from twisted_pypi.core.config import IndexConfig, LocalConfig, index_name_for

PRIVATE = build_wheel("acme-private", "1.0", requires=["dep-lib>=1"])
PUBLIC = build_wheel("dep-lib", "1.5")


class PublishThenInstallTests(RealInstallTestCase):
    """
    Upload to the proxy, then install from it.
    """

    async def start_private_proxy(
        self, upstream_index: FakeIndex
    ) -> tuple[FilePath[str], str]:
        """
        A proxy in front of ``upstream_index`` with an empty local index
        ``private`` that ``alice`` (password ``s3cret``) may upload to.

        :return: The local index's directory and the proxy's index URL.
        """
        upstream = self.start_upstream(upstream_index)
        private = self.scratch()
        private.makedirs()
        users = self.home.child("users")
        hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
        users.setContent(f"alice:{hashed}\n".encode())
        index_url = await self.start_proxy_with(
            [IndexConfig(index_name_for(upstream.url), upstream.url)],
            local=[LocalConfig("private", private.path)],
            upload_users=users.path,
        )
        return private, index_url

    async def test_upload_then_install(self) -> None:
        """
        A wheel uploaded with twine to ``/upload/private/`` is listed on its
        project page at once and installs with pip and uv, its dependency
        coming from the remote index; the uploaded bytes are what was sent.
        """
        upstream_index = FakeIndex()
        upstream_index.add("dep-lib", FakeFile(PUBLIC))
        private, index_url = await self.start_private_proxy(upstream_index)
        dist = self.scratch()
        dist.makedirs()
        wheel = dist.child(PRIVATE.filename)
        wheel.setContent(PRIVATE.content)
        upload_url = index_url.replace("/simple/", "/upload/private/")
        code, output = await self.run_process(
            [sys.executable, "-m", "twine", "upload", "--non-interactive",
             "--disable-progress-bar", "--repository-url", upload_url,
             "-u", "alice", "-p", "s3cret", wheel.path],
            self.env,
        )  # fmt: skip
        self.assertEqual(code, 0, output)
        self.assertEqual(private.child(PRIVATE.filename).getContent(), PRIVATE.content)

        for name, argv in [
            ("pip", pip_argv(index_url, self.scratch(), "acme-private")),
            ("uv", uv_argv(self.uv or "uv", index_url, self.scratch(), "acme-private")),
        ]:
            code, output = await self.run_process(argv, self.env)
            self.assertEqual(code, 0, f"{name}: {output}")
            target = FilePath(argv[argv.index("--target") + 1])
            installed = sorted(p.basename() for p in target.children())
            self.assertIn("acme_private-1.0.dist-info", installed, name)
            self.assertIn("dep_lib-1.5.dist-info", installed, name)

    async def test_wrong_password_uploads_nothing(self) -> None:
        """
        twine with a wrong password fails and the local index stays empty.
        """
        private, index_url = await self.start_private_proxy(FakeIndex())
        wheel = self.home.child(PRIVATE.filename)
        wheel.setContent(PRIVATE.content)
        code, output = await self.run_process(
            [sys.executable, "-m", "twine", "upload", "--non-interactive",
             "--disable-progress-bar",
             "--repository-url", index_url.replace("/simple/", "/upload/private/"),
             "-u", "alice", "-p", "wrong", wheel.path],
            self.env,
        )  # fmt: skip
        self.assertNotEqual(code, 0)
        self.assertIn("401", output)
        self.assertEqual(private.children(), [])
