"""
End-to-end: real ``pip`` installs, through a running proxy, a pinned old
release whose only file is a legacy sdist: a ``.tar.bz2`` whose version
(``1.0-rc1``) packaging's filename parser refuses, as many old releases on
PyPI are.  The sdist builds with an in-tree backend and the standard library
alone, so pip needs nothing else from the index.
"""

from __future__ import annotations

from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, pip_argv
from tests.wheels import build_sdist, renamed_sdist

#: The legacy sdist, its version read as pip reads it: 1.0rc1.
OLDIE = renamed_sdist(
    build_sdist("tpoldie", "1.0rc1", metadata_version="2.2", buildable=True),
    "tpoldie-1.0-rc1.tar.bz2",
)


class LegacySdistTests(RealInstallTestCase):
    """
    pip through the proxy, for a file a validating proxy would drop.
    """

    async def test_pinned_legacy_sdist(self) -> None:
        """
        ``pip install tpoldie==1.0rc1`` through the proxy downloads the
        ``.tar.bz2`` from the upstream, builds it and installs it.
        """
        index = FakeIndex(mode="json")
        index.add("tpoldie", FakeFile(OLDIE))
        upstream = self.start_upstream(index)
        proxy = await self.start_proxy(upstream)
        target = self.scratch()
        code, output = await self.run_process(
            pip_argv(proxy, target, "tpoldie==1.0rc1"), self.env
        )
        self.assertEqual(code, 0, output)
        self.assertIn("tpoldie-1.0rc1.dist-info", target.listdir(), output)
        self.assertEqual(index.count(f"/packages/{OLDIE.filename}"), 1)
