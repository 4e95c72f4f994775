"""
End-to-end several indexes: real ``pip`` and real ``uv`` install through a
proxy in front of two fake upstreams and a local directory, all on
127.0.0.1 with the real reactor:

- ``pypi`` (first) has the public ``tplib`` and a ``fastmath``;
- ``corp`` (second, which wants HTTP basic auth for pages and files) has the
  ``fastmath`` that ``--route fastmath=corp`` sends installers to, and an
  impostor publishing the private project's name with a higher version;
- the local directory ``private`` has the private ``acme-private``, which
  needs ``tplib`` and ``fastmath``.

The installers must get files from all three, and the local
``acme-private`` rather than the impostor (dependency confusion).
"""

from __future__ import annotations

import base64
from collections import Counter

from twisted.python.filepath import FilePath

from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, Upstream, pip_argv, uv_argv
from tests.wheels import build_wheel
from twisted_pypi.core.config import IndexConfig, LocalConfig

#: The private project, only in the local directory.
PRIVATE = build_wheel(
    "acme-private",
    "1.0",
    requires=["tplib>=1.0", "fastmath"],
    modules={"acme_private.py": "WHERE = 'local'\n"},
)
#: The impostor on the second upstream: same name, higher version.
IMPOSTOR = build_wheel(
    "acme-private", "99.0", modules={"acme_private.py": "WHERE = 'impostor'\n"}
)
#: The public dependency, on the first upstream.
TPLIB = build_wheel("tplib", "2.0")
#: ``fastmath`` on the first upstream: newer, but the route excludes it.
FASTMATH_PYPI = build_wheel(
    "fastmath", "9.0", modules={"fastmath.py": "WHERE = 'pypi'\n"}
)
#: ``fastmath`` on the second upstream, where the route sends installers.
FASTMATH_CORP = build_wheel(
    "fastmath", "1.0+cpu", modules={"fastmath.py": "WHERE = 'corp'\n"}
)

#: The second upstream's credentials.
USER, PASSWORD = "ci-bot", "t0ken:with=odd,chars"

#: What a successful install leaves in the target directory.
INSTALLED = {
    "acme_private-1.0.dist-info",
    "tplib-2.0.dist-info",
    "fastmath-1.0+cpu.dist-info",
}


def make_pypi() -> FakeIndex:
    """
    The first upstream: the public dependency and a ``fastmath``.
    """
    index = FakeIndex()
    index.add("tplib", FakeFile(TPLIB))
    index.add("fastmath", FakeFile(FASTMATH_PYPI))
    return index


def make_corp() -> FakeIndex:
    """
    The second upstream, behind basic auth: the routed ``fastmath`` and the
    impostor.
    """
    credentials = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    index = FakeIndex(require_auth=f"Basic {credentials}")
    index.add("fastmath", FakeFile(FASTMATH_CORP))
    index.add("acme-private", FakeFile(IMPOSTOR))
    return index


class MultiIndexInstallTests(RealInstallTestCase):
    """
    pip and uv, each through its own proxy over two upstreams and a local
    directory.
    """

    timeout = 60

    async def start(self) -> str:
        """
        Start both upstreams, the local directory and a proxy over them with
        ``--route fastmath=corp``.

        :return: The proxy's index URL.
        """
        self.pypi = self.start_upstream(make_pypi())
        self.corp = self.start_upstream(make_corp())
        local = self.scratch()
        local.makedirs()
        local.child(PRIVATE.filename).setContent(PRIVATE.content)
        # An upload in progress, which must be ignored.
        local.child(".upload-tmp-1").setContent(IMPOSTOR.content)
        return await self.start_proxy_with(
            [
                IndexConfig("pypi", self.pypi.url),
                IndexConfig("corp", self.corp.url, username=USER, password=PASSWORD),
            ],
            local=[LocalConfig("private", local.path)],
            routes={"fastmath": "corp"},
        )

    def assert_installed(self, target: FilePath[str], output: str) -> None:
        """
        The target holds the local ``acme-private``, ``tplib`` from the first
        upstream and the routed ``fastmath`` from the second; the impostor
        was never asked for.
        """
        dist_infos = {
            c.basename()
            for c in target.children()
            if c.basename().endswith(".dist-info")
        }
        self.assertEqual(dist_infos, INSTALLED, output)
        self.assertEqual(
            target.child("acme_private.py").getContent(), b"WHERE = 'local'\n"
        )
        self.assertEqual(target.child("fastmath.py").getContent(), b"WHERE = 'corp'\n")
        self.assertEqual(target.child("tplib.py").getContent(), b"VERSION = '2.0'\n")
        self.assert_requests()

    def assert_requests(self) -> None:
        """
        No upstream was asked for the private project's page or the
        impostor; ``pypi`` was not asked for ``fastmath``; each upstream
        served its own distribution file once (its ``.metadata`` at most once
        too); every ``corp`` request carried the credentials (none was
        refused).
        """
        for upstream in (self.pypi, self.corp):
            pages = [p for _, p in upstream.index.requests if p.startswith("/simple/")]
            self.assertNotIn("/simple/acme-private/", pages)
            self.assertNotIn(
                ("GET", f"/packages/{IMPOSTOR.filename}"), upstream.file_requests()
            )
        self.assertNotIn("/simple/fastmath/", [p for _, p in self.pypi.index.requests])
        self.assertEqual(
            files_got(self.pypi), Counter({f"/packages/{TPLIB.filename}": 1})
        )
        self.assertEqual(
            files_got(self.corp), Counter({f"/packages/{FASTMATH_CORP.filename}": 1})
        )
        for upstream in (self.pypi, self.corp):
            self.assertEqual(set(upstream.file_requests().values()), {1})
        refused = [p for p, auth in self.corp.index.authorizations if auth is None]
        self.assertEqual(refused, [])
        self.assertTrue(self.corp.index.authorizations)

    async def test_pip(self) -> None:
        """
        pip installs the private project from the local directory, its
        public dependency from the first upstream and the routed project
        from the second; the impostor's higher version is never seen.
        """
        proxy = await self.start()
        target = self.scratch()
        code, output = await self.run_process(
            pip_argv(proxy, target, "acme-private"), self.env
        )
        self.assertEqual(code, 0, output)
        self.assert_installed(target, output)

    async def test_uv(self) -> None:
        """
        uv does the same.
        """
        assert self.uv is not None
        proxy = await self.start()
        target = self.scratch()
        code, output = await self.run_process(
            uv_argv(self.uv, proxy, target, "acme-private"), self.env
        )
        self.assertEqual(code, 0, output)
        self.assert_installed(target, output)


def files_got(upstream: Upstream) -> Counter[str]:
    """
    The paths of the distribution files (not ``.metadata``) ``upstream`` was
    asked to GET, counted.
    """
    return Counter(
        {
            path: n
            for (method, path), n in upstream.file_requests().items()
            if method == "GET" and not path.endswith(".metadata")
        }
    )
