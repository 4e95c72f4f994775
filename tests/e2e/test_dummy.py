"""
End-to-end dummies: real ``pip`` and real ``uv`` install an app that needs
torch through a proxy started with ``--dummy torch``, in front of a fake
upstream whose real torch wheels are large, both on 127.0.0.1; the installers
end with the right version of the placeholder, and the upstream is never
asked for a torch file.

(What importing an installed dummy does is tested in
``tests/test_dummy_install.py``.)
"""

from __future__ import annotations

from collections import Counter
from typing import cast

from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.python.filepath import FilePath

from tests.fakeindex import FakeFile, FakeIndex
from tests.realinstall import RealInstallTestCase, Upstream, pip_argv, uv_argv
from tests.wheels import BuiltWheel, build_wheel
from twisted_pypi.core.dummyspec import DummySpec, parse_dummy_spec

#: Bytes of padding in each real torch wheel: a download would show.
PADDING = 2 << 20


def torch(version: str, requires_python: str | None = None) -> BuiltWheel:
    """
    A large real torch wheel.
    """
    return build_wheel(
        "torch", version, requires_python=requires_python, padding=PADDING
    )


#: The real torch: 2.3.1 is what ``torch>=2`` must get, as the newest
#: version that is neither a pre-release (2.4.0rc1), yanked (2.3.2) nor for
#: another Python (2.5.0); installers see the last two only if the dummy
#: mirrors the yank and the ``requires-python``.
TORCH = [
    FakeFile(torch("1.13.1", ">=3.7"), requires_python=">=3.7"),
    FakeFile(torch("2.0.0", ">=3.8"), requires_python=">=3.8"),
    FakeFile(torch("2.3.1", ">=3.8"), requires_python=">=3.8"),
    FakeFile(torch("2.3.2", ">=3.8"), requires_python=">=3.8", yanked="broken"),
    FakeFile(torch("2.4.0rc1", ">=3.8"), requires_python=">=3.8"),
    FakeFile(torch("2.5.0", ">=4"), requires_python=">=4"),
]

#: An app that takes any torch 2, and one pinned to 2.0.0.
APP = build_wheel("app", "1.0", requires=["torch>=2"])
APP2 = build_wheel("app2", "1.0", requires=["torch==2.0.0"])


def make_index() -> FakeIndex:
    """
    The fake upstream: the real torch and the two apps.
    """
    index = FakeIndex(mode="json")
    index.add("torch", *TORCH)
    index.add("app", FakeFile(APP))
    index.add("app2", FakeFile(APP2))
    return index


class DummyInstallTests(RealInstallTestCase):
    """
    pip and uv through a proxy with torch as a dummy.
    """

    async def install(
        self, installer: str, index_url: str, requirement: str
    ) -> FilePath[str]:
        """
        Install ``requirement`` with ``installer`` (``"pip"`` or ``"uv"``)
        from ``index_url`` into a new target directory; fails the test if
        the installer fails.
        """
        target = self.scratch()
        if installer == "pip":
            argv = pip_argv(index_url, target, requirement)
        else:
            assert self.uv is not None
            argv = uv_argv(self.uv, index_url, target, requirement)
        code, output = await self.run_process(argv, self.env)
        self.assertEqual(code, 0, output)
        return target

    def assert_dummy(
        self, target: FilePath[str], app: str, version: str, who: str
    ) -> None:
        """
        ``target`` holds the app and torch ``version`` as the placeholder:
        its ``.dist-info`` and nothing importable.
        """
        dist_infos = {c.basename() for c in target.children()
                      if c.basename().endswith(".dist-info")}  # fmt: skip
        self.assertEqual(
            dist_infos, {f"{app}-1.0.dist-info", f"torch-{version}.dist-info"}, who
        )
        self.assertTrue(target.child(f"{app}.py").exists(), who)
        self.assertFalse(target.child("torch").exists(), who)
        self.assertFalse(target.child("torch.py").exists(), who)
        self.assertFalse(target.child("torch_data.bin").exists(), who)
        metadata = (
            target.child(f"torch-{version}.dist-info").child("METADATA").getContent()
        )
        self.assertIn(
            f"\nSummary: Placeholder for torch {version} served by the twisted-pypi"
            " proxy".encode(),
            metadata,
            who,
        )
        self.assertIn(f"\nVersion: {version}\n".encode(), metadata, who)

    def assert_no_torch_file(self, upstream: Upstream) -> None:
        """
        The upstream was asked for the apps' files but never for a torch
        file.
        """
        files = upstream.file_requests()
        self.assertIn(("GET", f"/packages/{APP.filename}"), files)
        self.assertEqual(
            [path for _, path in files if path.startswith("/packages/torch")],
            [],
        )

    async def start(
        self, index: FakeIndex, dummies: tuple[DummySpec, ...]
    ) -> tuple[Upstream, str]:
        """
        ``index`` on 127.0.0.1 and a proxy with ``dummies`` in front of it.

        :return: The upstream and the proxy's index URL.
        """
        upstream = self.start_upstream(index)
        proxy = await self.start_proxy(upstream, dummies=dummies)
        return upstream, proxy

    def log_requests(self) -> list[LogEvent]:
        """
        The proxy's request log events from now until the test ends.
        """
        events: list[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        return events

    async def test_auto(self) -> None:
        """
        With ``--dummy torch``, pip and uv install ``app`` (``torch>=2``)
        with the placeholder of torch 2.3.1, not the pre-release, the yanked
        version or the one for Python 4, and ``app2`` (``torch==2.0.0``)
        with the placeholder of 2.0.0. Every torch request is answered 200
        as DUMMY, and the upstream is asked for torch's page but never for a
        torch file.
        """
        events = self.log_requests()
        upstream, proxy = await self.start(make_index(), (parse_dummy_spec("torch"),))
        for installer in ("pip", "uv"):
            target = await self.install(installer, proxy, "app")
            self.assert_dummy(target, "app", "2.3.1", installer)
            target = await self.install(installer, proxy, "app2")
            self.assert_dummy(target, "app2", "2.0.0", installer)
        self.assert_no_torch_file(upstream)
        self.assertIn(("GET", "/simple/torch/"), upstream.index.requests)
        answers = [(e["method"], e["path"], e["code"], e["cache"]) for e in events
                   if e.get("log_namespace") == "twisted_pypi.web.site"
                   and "torch" in e["path"]]  # fmt: skip
        paths = Counter(path for _, path, _, _ in answers)
        for version in ("2.3.1", "2.0.0"):
            # pip and uv fetch the wheel; the .metadata is fetched by uv
            # and, depending on its version, pip.
            wheel = f"/dummy/torch/torch-{version}-py3-none-any.whl"
            self.assertGreaterEqual(paths[wheel], 2, answers)
        for method, path, code, cache in answers:
            self.assertEqual((code, cache), (200, "DUMMY"), (method, path))

    async def test_explicit_without_upstream(self) -> None:
        """
        With ``--dummy torch==2.3.1`` the upstream is not needed for torch:
        pip installs ``app`` with the placeholder of 2.3.1 while the
        upstream fails every torch request, and the upstream gets none; then,
        with the upstream stopped, uv installs the same from the proxy.
        """
        index = make_index()
        for path in ["/simple/torch/"] + [
            f"/packages/{f.wheel.filename}" for f in TORCH
        ]:
            index.fail[path] = 500
        upstream, proxy = await self.start(index, (parse_dummy_spec("torch==2.3.1"),))
        self.assert_dummy(
            await self.install("pip", proxy, "app"), "app", "2.3.1", "pip"
        )
        self.assertEqual([path for _, path in index.requests if "torch" in path], [])
        self.assertIn(("GET", "/simple/app/"), index.requests)
        await upstream.stop()
        self.assert_dummy(await self.install("uv", proxy, "app"), "app", "2.3.1", "uv")
