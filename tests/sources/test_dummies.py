"""
Tests for dummy projects (:mod:`twisted_pypi.sources.dummies`): the versions an
"auto" dummy mirrors, and the dummy pages and wheels served through the real
resource tree, in memory, in front of a fake upstream index.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any, cast
from urllib.parse import urljoin, urlsplit

from twisted.logger import ILogObserver, LogEvent, globalLogPublisher
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import Answer, MemoryProxy, parse_raw
from tests.web.test_simple import Anchors, json_files
from tests.wheels import build_sdist, build_wheel
from twisted_pypi.core.dummyspec import parse_dummy_spec
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.sources.dummies import DummyVersion, mirrored_versions
from twisted_pypi.sources.dummywheel import build_dummy_wheel

JSON = {"Accept": "application/vnd.pypi.simple.v1+json"}
HTML = {"Accept": "text/html"}

#: The base URL used when the proxy sits behind another server.
BASE = "https://pypi.example/mirror/"

# The real torch, as the fake upstream offers it.
TORCH_1_13_1 = build_wheel("torch", "1.13.1", requires_python=">=3.7")
TORCH_2_0_0 = build_wheel("torch", "2.0.0", requires_python=">=3.8")
TORCH_2_0_0_SDIST = build_sdist("torch", "2.0.0")
TORCH_2_1_0 = build_wheel("torch", "2.1.0", requires_python=">=3.5.*")
TORCH_2_2_0 = build_wheel("torch", "2.2.0")
TORCH_2_2_0_SDIST = build_sdist("torch", "2.2.0")
TORCH_2_3_1 = build_wheel("torch", "2.3.1", requires_python=">=3.8", padding=4096)
TORCH_2_3_1_CPU = build_wheel("torch", "2.3.1+cpu", requires_python=">=3.8")
TORCH_2_4_0RC1 = build_wheel("torch", "2.4.0rc1", requires_python=">=3.9")
DEMO = build_wheel("demo", "1.0")

#: Every file of the real torch.
REAL_TORCH = (
    TORCH_1_13_1,
    TORCH_2_0_0,
    TORCH_2_0_0_SDIST,
    TORCH_2_1_0,
    TORCH_2_2_0,
    TORCH_2_2_0_SDIST,
    TORCH_2_3_1,
    TORCH_2_3_1_CPU,
    TORCH_2_4_0RC1,
)

#: What the dummy of the real torch mirrors: version, ``requires-python``
#: (2.1.0's is invalid, so there is none), yank state and earliest upload time.
MIRRORED = [
    ("1.13.1", ">=3.7", False, "2022-12-15T00:00:00Z"),
    ("2.0.0", ">=3.8", False, "2023-03-15T09:00:00Z"),
    ("2.1.0", None, False, "2024-01-02T03:04:05.123456Z"),
    ("2.2.0", None, "breaks CUDA", "2024-01-02T03:04:05.123456Z"),
    ("2.3.1", ">=3.8", False, "2024-01-02T03:04:05.123456Z"),
    ("2.3.1+cpu", ">=3.8", False, "2024-01-02T03:04:05.123456Z"),
    ("2.4.0rc1", ">=3.9", False, "2024-01-02T03:04:05.123456Z"),
]


def torch_files() -> list[FakeFile]:
    """
    The real torch: seven versions, among them a pre-release and a local
    version; 2.0.0 has a yanked wheel beside a good sdist, 2.2.0 has every
    file yanked, 2.1.0 an invalid ``requires-python``.
    """
    return [
        FakeFile(
            TORCH_1_13_1, requires_python=">=3.7", upload_time="2022-12-15T00:00:00Z"
        ),
        FakeFile(
            TORCH_2_0_0,
            requires_python=">=3.8",
            yanked="bad wheel",
            upload_time="2023-03-15T10:00:00Z",
        ),
        FakeFile(
            TORCH_2_0_0_SDIST,
            requires_python=">=3.8",
            upload_time="2023-03-15T09:00:00Z",
        ),
        FakeFile(TORCH_2_1_0, requires_python=">=3.5.*"),
        FakeFile(TORCH_2_2_0, yanked="breaks CUDA"),
        FakeFile(TORCH_2_2_0_SDIST, yanked="breaks CUDA"),
        FakeFile(TORCH_2_3_1, requires_python=">=3.8"),
        FakeFile(TORCH_2_3_1_CPU, requires_python=">=3.8"),
        FakeFile(TORCH_2_4_0RC1, requires_python=">=3.9"),
    ]


def make_index(mode: str = "json") -> FakeIndex:
    """
    A fake upstream with the real ``torch`` and a ``demo`` project.
    """
    index = FakeIndex(mode=mode)
    index.add("torch", *torch_files())
    index.add("demo", FakeFile(DEMO))
    return index


def sha256(data: bytes) -> str:
    """
    The hex sha256 of ``data``.
    """
    return hashlib.sha256(data).hexdigest()


def wheel_member(wheel: bytes, suffix: str) -> bytes:
    """
    The one member of a wheel whose name ends with ``suffix``.
    """
    with zipfile.ZipFile(io.BytesIO(wheel)) as archive:
        names = [n for n in archive.namelist() if n.endswith(suffix)]
        assert len(names) == 1, names
        return archive.read(names[0])


def dummy_filename(version: str) -> str:
    """
    The filename of torch's dummy wheel of ``version``.
    """
    return f"torch-{version}-py3-none-any.whl"


class MirroredVersionsTests(SynchronousTestCase):
    """
    :func:`mirrored_versions`: what an "auto" dummy offers, from the real
    project's page.
    """

    def dist(self, filename: str, **fields: Any) -> DistFile:
        """
        A file of the real project's page.
        """
        return DistFile(filename, f"https://files.example/{filename}", **fields)

    def mirrored(
        self, *files: DistFile, versions: tuple[str, ...] | None = None
    ) -> list[DummyVersion]:
        """
        What a page with ``files`` and ``versions`` mirrors.
        """
        return mirrored_versions(ProjectPage("torch", files=files, versions=versions))

    def test_files_and_versions_list(self) -> None:
        """
        Every version of a wheel, of an sdist and of the PEP 700 ``versions``
        list is offered once, oldest first by version (not by text).
        """
        result = self.mirrored(
            self.dist("torch-10.0-py3-none-any.whl"),
            self.dist("torch-2.0.0-cp311-cp311-manylinux1_x86_64.whl"),
            self.dist("torch-2.0.0-cp312-cp312-manylinux1_x86_64.whl"),
            self.dist("torch-1.5.tar.gz"),
            versions=("0.9", "2.0.0", "10.0", "9.1"),
        )
        self.assertEqual(
            [v.version for v in result], ["0.9", "1.5", "2.0.0", "9.1", "10.0"]
        )

    def test_prerelease_and_local_kept(self) -> None:
        """
        Pre-release, post-release, local and epoch versions are offered,
        normalized, in version order.
        """
        result = self.mirrored(
            self.dist("torch-2.4.0rc1-py3-none-any.whl"),
            self.dist("torch-2.3.1+cpu-cp311-none-linux_x86_64.whl"),
            self.dist("torch-2.3.1-py3-none-any.whl"),
            self.dist("torch-2.3.1.post1.tar.gz"),
            versions=("2.4.0RC1", "1!0.1"),
        )
        self.assertEqual(
            [v.version for v in result],
            ["2.3.1", "2.3.1+cpu", "2.3.1.post1", "2.4.0rc1", "1!0.1"],
        )

    def test_legacy_names(self) -> None:
        """
        Files whose versions only installers' reading finds (``.tar.bz2``,
        ``1.0-rc1``) are offered; an ``.egg`` or an ``.exe`` adds no version
        and breaks nothing.
        """
        result = self.mirrored(
            self.dist("torch-0.9.tar.bz2"),
            self.dist("Torch-1.0-rc1.tar.gz"),
            self.dist("torch-0.5-py2.7.egg"),
            self.dist("torch-0.4.win32.exe"),
        )
        self.assertEqual([v.version for v in result], ["0.9", "1.0rc1"])

    def test_unparseable_ignored(self) -> None:
        """
        A file whose name has no valid version and a ``versions`` entry that
        is not a version are skipped; the rest is still offered.
        """
        result = self.mirrored(
            self.dist("torch-latest.tar.gz"),
            self.dist("torch-1.0-py3-none-any.whl"),
            versions=("not a version", "1.0"),
        )
        self.assertEqual(result, [DummyVersion("1.0")])

    def test_listed_version_without_files(self) -> None:
        """
        A version only the ``versions`` list names has no
        ``requires-python``, is not yanked and has no upload time.
        """
        result = self.mirrored(versions=("3.0",))
        self.assertEqual(result, [DummyVersion("3.0", None, False, None)])

    def test_all_yanked(self) -> None:
        """
        A version whose files are all yanked stays yanked, with the reason;
        without a reason it is yanked all the same.
        """
        result = self.mirrored(
            self.dist("torch-1.0-py3-none-any.whl", yanked="broken"),
            self.dist("torch-1.0.tar.gz", yanked="broken"),
            self.dist("torch-2.0-py3-none-any.whl", yanked=True),
        )
        self.assertEqual([v.yanked for v in result], ["broken", True])

    def test_partly_yanked(self) -> None:
        """
        A version with one file not yanked is not yanked.
        """
        result = self.mirrored(
            self.dist("torch-1.0-cp311-none-any.whl", yanked="bad wheel"),
            self.dist("torch-1.0-cp312-none-any.whl"),
        )
        self.assertEqual(result, [DummyVersion("1.0")])
        self.assertIs(result[0].yanked, False)

    def test_requires_python(self) -> None:
        """
        Each version gets its files' ``requires-python``; where they differ,
        the most common one; a file without one does not count.
        """
        result = self.mirrored(
            self.dist("torch-1.0-py3-none-any.whl", requires_python=">=3.6"),
            self.dist("torch-2.0-cp39-none-any.whl", requires_python=">=3.9"),
            self.dist("torch-2.0-cp38-none-any.whl", requires_python=">=3.8"),
            self.dist("torch-2.0-cp310-none-any.whl", requires_python=">=3.8"),
            self.dist("torch-2.0.tar.gz"),
            self.dist("torch-3.0.tar.gz"),
        )
        self.assertEqual(
            [(v.version, v.requires_python) for v in result],
            [("1.0", ">=3.6"), ("2.0", ">=3.8"), ("3.0", None)],
        )

    def test_requires_python_tie(self) -> None:
        """
        Between equally common ``requires-python`` values, the first listed
        wins, whatever the values: the choice (and so the wheel's bytes)
        depends on the page alone, never on hashing order.
        """
        values = [">=3.8", ">=3.9", ">=3.10", "<4,>=3.7", ">=3.11", ">=3.12"]
        for first in values:
            for second in values:
                if first == second:
                    continue
                result = self.mirrored(
                    self.dist("torch-1.0-cp38-none-any.whl", requires_python=first),
                    self.dist("torch-1.0-cp39-none-any.whl", requires_python=second),
                )
                self.assertEqual(result[0].requires_python, first, (first, second))

    def test_invalid_requires_python(self) -> None:
        """
        An invalid ``requires-python`` is ignored, as installers do: the
        version is offered with the valid one of its other files, or none.
        """
        result = self.mirrored(
            self.dist("torch-1.0-cp38-none-any.whl", requires_python=">=3.5.*"),
            self.dist("torch-1.0-cp39-none-any.whl", requires_python=">=3.5.*"),
            self.dist("torch-1.0.tar.gz", requires_python=">=3.5"),
            self.dist("torch-2.0.tar.gz", requires_python="python 3"),
            self.dist("torch-3.0.tar.gz", requires_python="  "),
        )
        self.assertEqual(
            [(v.version, v.requires_python) for v in result],
            [("1.0", ">=3.5"), ("2.0", None), ("3.0", None)],
        )

    def test_upload_time(self) -> None:
        """
        A version's upload time is the earliest of its files'.
        """
        result = self.mirrored(
            self.dist("torch-1.0-cp38-none-any.whl", upload_time="2024-05-02T00:00Z"),
            self.dist("torch-1.0-cp39-none-any.whl", upload_time="2024-05-01T00:00Z"),
            self.dist("torch-1.0.tar.gz"),
            self.dist("torch-1.0-cp310-none-any.whl", upload_time="2024-05-03T00:00Z"),
        )
        self.assertEqual(result[0].upload_time, "2024-05-01T00:00Z")

    def test_upstream_mirrored(self) -> None:
        """
        The versions mirrored from the fake upstream's torch are those the
        full-tree tests expect.
        """
        files = tuple(
            self.dist(
                f.wheel.filename,
                requires_python=f.requires_python,
                yanked=f.yanked,
                upload_time=f.upload_time,
            )
            for f in torch_files()
        )
        result = self.mirrored(*files)
        self.assertEqual(
            [(v.version, v.requires_python, v.yanked, v.upload_time) for v in result],
            MIRRORED,
        )


class DummyProxyTestCase(SynchronousTestCase):
    """
    Builds :class:`MemoryProxy` instances with dummies in front of
    :func:`make_index`.
    """

    def setUp(self) -> None:
        self.index = make_index()
        self.proxy = self.make_proxy("torch")

    def make_proxy(
        self,
        *specs: str,
        index: FakeIndex | None = None,
        base_url: str | None = None,
        ttl: float = 100.0,
    ) -> MemoryProxy:
        """
        A proxy with its own cache directory, ``--dummy`` for each of
        ``specs``, in front of ``index`` (by default ``self.index``).
        """
        return MemoryProxy(
            index if index is not None else self.index,
            FilePath(self.mktemp()),
            base_url=base_url,
            ttl=ttl,
            dummies=tuple(parse_dummy_spec(spec) for spec in specs),
        )

    def fetch(self, proxy: MemoryProxy, page_url: str, url: str) -> Answer:
        """
        GET a file URL as a page at ``page_url`` links it (below the proxy's
        origin, or below :data:`BASE`).
        """
        absolute = urljoin(page_url, url)
        for base in (MemoryProxy.ORIGIN + "/", BASE):
            if absolute.startswith(base):
                return proxy.get("/" + absolute[len(base) :])
        raise AssertionError(f"{absolute} is not below the proxy")

    def torch_page(
        self, proxy: MemoryProxy | None = None
    ) -> tuple[Answer, dict[str, dict[str, Any]]]:
        """
        The JSON page of torch and its files by filename; it is a 200.
        """
        answer = (proxy or self.proxy).get("/simple/torch/", headers=JSON)
        self.assertEqual(answer.code, 200, answer.body)
        return answer, json_files(answer)

    def upstream_paths(self) -> list[str]:
        """
        The paths the upstream was asked for, in order.
        """
        return [path for _, path in self.index.requests]


class DummyPageTests(DummyProxyTestCase):
    """
    The page of an "auto" dummy (``--dummy torch``) and its wheels.
    """

    PAGE = MemoryProxy.ORIGIN + "/simple/torch/"

    def test_one_dummy_per_version(self) -> None:
        """
        The JSON page lists exactly one dummy wheel per real version, pre-
        releases and local versions included, oldest first, and the same
        versions in ``versions``; it is ``X-Cache: DUMMY``.
        """
        answer, files = self.torch_page()
        self.assertEqual(answer.header("x-cache"), "DUMMY")
        data = json.loads(answer.body)
        expected = [dummy_filename(v[0]) for v in MIRRORED]
        self.assertEqual([f["filename"] for f in data["files"]], expected)
        self.assertEqual(data["versions"], [v[0] for v in MIRRORED])
        self.assertEqual(data["name"], "torch")
        self.assertEqual(data["meta"]["api-version"], "1.1")

    def test_json_matches_served_bytes(self) -> None:
        """
        Each file's sha256, size and core-metadata hash in the JSON page
        are those of the bytes the proxy serves at its URL and at its URL
        with ``.metadata``.
        """
        _, files = self.torch_page()
        self.assertEqual(len(files), len(MIRRORED))
        for name, entry in files.items():
            wheel = self.fetch(self.proxy, self.PAGE, entry["url"])
            self.assertEqual(wheel.code, 200, name)
            self.assertEqual(entry["hashes"], {"sha256": sha256(wheel.body)}, name)
            self.assertEqual(entry["size"], len(wheel.body), name)
            metadata = self.fetch(self.proxy, self.PAGE, entry["url"] + ".metadata")
            self.assertEqual(metadata.code, 200, name)
            self.assertEqual(
                entry["core-metadata"], {"sha256": sha256(metadata.body)}, name
            )

    def test_html_matches_served_bytes(self) -> None:
        """
        The HTML page lists the same dummy wheels; each link's sha256
        fragment and ``data-core-metadata`` are those of the bytes served at
        its URL and at its URL with ``.metadata``.
        """
        answer = self.proxy.get("/simple/torch/", headers=HTML)
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.header("x-cache"), "DUMMY")
        anchors = Anchors(answer.body).anchors
        self.assertEqual(
            [text for _, text in anchors], [dummy_filename(v[0]) for v in MIRRORED]
        )
        for attrs, text in anchors:
            url, _, fragment = (attrs["href"] or "").partition("#")
            wheel = self.fetch(self.proxy, self.PAGE, url)
            self.assertEqual(wheel.code, 200, text)
            self.assertEqual(fragment, "sha256=" + sha256(wheel.body), text)
            metadata = self.fetch(self.proxy, self.PAGE, url + ".metadata")
            self.assertEqual(
                attrs["data-core-metadata"], "sha256=" + sha256(metadata.body), text
            )

    def test_links_resolve_to_dummy(self) -> None:
        """
        Every file link of both representations resolves to
        ``/dummy/torch/<filename>``.
        """
        _, files = self.torch_page()
        html = self.proxy.get("/simple/torch/", headers=HTML)
        urls = [f["url"] for f in files.values()] + [
            (a["href"] or "").partition("#")[0] for a, _ in Anchors(html.body).anchors
        ]
        self.assertEqual(len(urls), 2 * len(MIRRORED))
        for url in urls:
            path = urlsplit(urljoin(self.PAGE, url)).path
            self.assertEqual(path, "/dummy/torch/" + path.rsplit("/", 1)[-1], url)
            self.assertIn(path.rsplit("/", 1)[-1], files)

    def test_links_base_url(self) -> None:
        """
        With a base URL, every file link is absolute under it, in
        ``dummy/torch/``, and the proxy serves the wheel there.
        """
        proxy = self.make_proxy("torch", base_url=BASE)
        _, files = self.torch_page(proxy)
        for name, entry in files.items():
            self.assertEqual(entry["url"], f"{BASE}dummy/torch/{name}")
            wheel = self.fetch(proxy, BASE + "simple/torch/", entry["url"])
            self.assertEqual(sha256(wheel.body), entry["hashes"]["sha256"])

    def test_mirrored_fields(self) -> None:
        """
        ``requires-python``, ``yanked`` (with its reason) and
        ``upload-time`` are mirrored from the real versions, in JSON and in
        HTML; there is never a provenance.
        """
        _, files = self.torch_page()
        html = self.proxy.get("/simple/torch/", headers=HTML)
        anchors = Anchors(html.body).by_text()
        self.assertNotIn(b"provenance", html.body)
        for version, requires_python, yanked, upload_time in MIRRORED:
            entry = files[dummy_filename(version)]
            attrs = anchors[dummy_filename(version)]
            self.assertEqual(entry.get("requires-python"), requires_python, version)
            self.assertEqual(attrs.get("data-requires-python"), requires_python)
            self.assertEqual(entry.get("yanked", False), yanked, version)
            self.assertEqual(attrs.get("data-yanked", False), yanked, version)
            self.assertEqual(entry["upload-time"], upload_time, version)
            self.assertNotIn("provenance", entry)

    def test_wheel_mirrors_requires_python(self) -> None:
        """
        The served wheel's ``METADATA`` carries the mirrored
        ``Requires-Python`` (none for 2.1.0, whose real one is invalid) and
        the version.
        """
        for version, requires_python, _, _ in MIRRORED:
            wheel = self.proxy.get(f"/dummy/torch/{dummy_filename(version)}")
            metadata = wheel_member(wheel.body, ".dist-info/METADATA").decode()
            self.assertIn(f"\nVersion: {version}\n", metadata)
            if requires_python is None:
                self.assertNotIn("Requires-Python", metadata, version)
            else:
                self.assertIn(f"\nRequires-Python: {requires_python}\n", metadata)

    def test_same_as_built(self) -> None:
        """
        The served wheels are byte for byte the wheels
        :func:`build_dummy_wheel` makes for each version.
        """
        spec = parse_dummy_spec("torch")
        for version, requires_python, _, _ in MIRRORED:
            built = build_dummy_wheel(spec, version, requires_python)
            served = self.proxy.get(f"/dummy/torch/{built.filename}")
            self.assertEqual(served.body, built.content, version)

    def test_metadata_is_wheel_metadata(self) -> None:
        """
        ``<wheel>.metadata`` is byte for byte the ``METADATA`` inside the
        served wheel, whose summary says it is a placeholder, and which has
        no dependencies; it is served as text.
        """
        for version, _, _, _ in MIRRORED:
            path = f"/dummy/torch/{dummy_filename(version)}"
            wheel = self.proxy.get(path)
            metadata = self.proxy.get(path + ".metadata")
            self.assertEqual(metadata.code, 200)
            self.assertEqual(
                metadata.body, wheel_member(wheel.body, ".dist-info/METADATA")
            )
            self.assertEqual(
                metadata.header("content-type"), "text/plain; charset=utf-8"
            )
            self.assertEqual(metadata.header("x-cache"), "DUMMY")
            self.assertIn(b"Summary: Placeholder for torch", metadata.body)
            self.assertNotIn(b"Requires-Dist", metadata.body)

    def test_absent_has_no_module(self) -> None:
        """
        The default (absent) dummy holds only its ``.dist-info``.
        """
        wheel = self.proxy.get(f"/dummy/torch/{dummy_filename('2.3.1')}")
        with zipfile.ZipFile(io.BytesIO(wheel.body)) as archive:
            tops = {n.split("/")[0] for n in archive.namelist()}
        self.assertEqual(tops, {"torch-2.3.1.dist-info"})

    def test_stub_has_module(self) -> None:
        """
        A ``:stub`` dummy's wheel holds ``torch/__init__.py`` saying it is a
        placeholder served by the proxy.
        """
        proxy = self.make_proxy("torch:stub")
        _, files = self.torch_page(proxy)
        wheel = self.fetch(proxy, self.PAGE, files[dummy_filename("2.3.1")]["url"])
        source = wheel_member(wheel.body, "torch/__init__.py")
        self.assertIn(b"placeholder served by the twisted-pypi proxy", source)

    def test_real_files_never_listed(self) -> None:
        """
        Neither representation mentions a real file: no real filename (the
        sdists), hash or upstream link.
        """
        json_page, _ = self.torch_page()
        html_page = self.proxy.get("/simple/torch/", headers=HTML)
        for body in (json_page.body, html_page.body):
            for real in REAL_TORCH:
                self.assertNotIn(real.sha256.encode(), body, real.filename)
            for sdist in (TORCH_2_0_0_SDIST, TORCH_2_2_0_SDIST):
                self.assertNotIn(sdist.filename.encode(), body)
            self.assertNotIn(b"files/", body)
            self.assertNotIn(b"packages/", body)
            self.assertNotIn(b"upstream.test", body)

    def test_upstream_asked_only_for_page(self) -> None:
        """
        Serving the page in both representations and every dummy wheel and
        its ``.metadata`` costs one upstream request: the real page, never
        a file.
        """
        _, files = self.torch_page()
        self.proxy.get("/simple/torch/", headers=HTML)
        for name in files:
            self.assertEqual(self.proxy.get(f"/dummy/torch/{name}").code, 200)
            self.assertEqual(self.proxy.get(f"/dummy/torch/{name}.metadata").code, 200)
        self.assertEqual(self.upstream_paths(), ["/simple/torch/"])

    def test_cached_page(self) -> None:
        """
        Within the TTL the dummy page is served again without asking the
        upstream, with the same body and ETag.
        """
        first, _ = self.torch_page()
        second, _ = self.torch_page()
        self.assertEqual(second.header("x-cache"), "DUMMY")
        self.assertEqual(second.body, first.body)
        self.assertIsNotNone(first.header("etag"))
        self.assertEqual(second.header("etag"), first.header("etag"))
        self.assertEqual(self.index.count("/simple/torch/"), 1)

    def test_follows_upstream(self) -> None:
        """
        After the TTL, a version the upstream added is offered too.
        """
        self.torch_page()
        self.index.add("torch", FakeFile(build_wheel("torch", "2.5.0")))
        self.proxy.clock.advance(101)
        _, files = self.torch_page()
        self.assertIn(dummy_filename("2.5.0"), files)
        self.assertEqual(len(files), len(MIRRORED) + 1)
        self.assertEqual(self.index.count("/simple/torch/"), 2)

    def test_html_upstream(self) -> None:
        """
        From an upstream that speaks only HTML, the dummy offers the same
        versions and the very same wheels.
        """
        _, from_json = self.torch_page()
        index = make_index("html")
        _, from_html = self.torch_page(self.make_proxy("torch", index=index))
        self.assertEqual(
            {n: f["hashes"] for n, f in from_html.items()},
            {n: f["hashes"] for n, f in from_json.items()},
        )

    def test_logged_as_dummy(self) -> None:
        """
        The request log says ``DUMMY`` for the dummy page, a dummy wheel and
        its ``.metadata``, and the responses carry ``X-Cache: DUMMY``.
        """
        events: list[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        wheel = dummy_filename("2.3.1")
        paths = ["/simple/torch/", f"/dummy/torch/{wheel}",
                 f"/dummy/torch/{wheel}.metadata"]  # fmt: skip
        for path in paths:
            transport = self.proxy.raw(
                f"GET {path} HTTP/1.1\r\nHost: proxy.test\r\n\r\n".encode()
            )
            status, headers, _ = parse_raw(transport.value())
            self.assertEqual((status, headers[b"x-cache"]), (200, b"DUMMY"), path)
        logged = [(e["path"], e["code"], e["cache"]) for e in events
                  if e.get("log_namespace") == "twisted_pypi.web.site"]  # fmt: skip
        self.assertEqual(logged, [(path, 200, "DUMMY") for path in paths])


class ExplicitDummyTests(DummyProxyTestCase):
    """
    A dummy with explicit versions (``--dummy torch==2.3.1,2.5.0``).
    """

    def setUp(self) -> None:
        super().setUp()
        self.proxy = self.make_proxy("torch==2.3.1,2.5.0")

    def test_only_given_versions(self) -> None:
        """
        The page lists exactly the given versions (2.5.0 is not upstream),
        with no ``requires-python``, yank or upload time, and their wheels
        are served and match the page.
        """
        answer, files = self.torch_page()
        self.assertEqual(answer.header("x-cache"), "DUMMY")
        self.assertEqual(
            list(files), [dummy_filename("2.3.1"), dummy_filename("2.5.0")]
        )
        self.assertEqual(json.loads(answer.body)["versions"], ["2.3.1", "2.5.0"])
        for name, entry in files.items():
            self.assertEqual(
                sorted(entry),
                ["core-metadata", "data-dist-info-metadata", "filename", "hashes",
                 "size", "url"],
            )  # fmt: skip
            wheel = self.proxy.get(f"/dummy/torch/{name}")
            self.assertEqual(entry["hashes"]["sha256"], sha256(wheel.body))
            self.assertEqual(entry["size"], len(wheel.body))

    def test_upstream_never_asked(self) -> None:
        """
        Even with the upstream failing every request, the page in both
        representations, the wheels and their metadata are served, and the
        upstream gets no request at all.
        """
        self.index.fail["/simple/torch/"] = 500
        _, files = self.torch_page()
        html = self.proxy.get("/simple/torch/", headers=HTML)
        self.assertEqual(html.code, 200)
        for name in files:
            self.assertEqual(self.proxy.get(f"/dummy/torch/{name}").code, 200)
            self.assertEqual(self.proxy.get(f"/dummy/torch/{name}.metadata").code, 200)
        self.proxy.clock.advance(10_000)
        self.torch_page()
        self.assertEqual(self.index.requests, [])

    def test_file_first(self) -> None:
        """
        A wheel asked for before any page (as from a lockfile, after a
        restart) is served, without asking the upstream.
        """
        answer = self.proxy.get(f"/dummy/torch/{dummy_filename('2.5.0')}")
        self.assertEqual(answer.code, 200)
        self.assertIn(b"\nVersion: 2.5.0\n", wheel_member(answer.body, "METADATA"))
        self.assertEqual(self.index.requests, [])

    def test_other_version_not_served(self) -> None:
        """
        A wheel of a version not given is a 404, even though the upstream
        has that version.
        """
        answer = self.proxy.get(f"/dummy/torch/{dummy_filename('2.0.0')}")
        self.assertEqual(answer.code, 404)
        self.assertEqual(self.index.requests, [])


class AutoDummyUpstreamTests(DummyProxyTestCase):
    """
    An "auto" dummy when the upstream fails or does not have the project.
    """

    def test_stale_page(self) -> None:
        """
        After the TTL, with the upstream failing, the dummy of the cached
        real page is still served as DUMMY, the same page, and its wheels
        too.
        """
        first, files = self.torch_page()
        self.proxy.clock.advance(101)
        self.index.fail["/simple/torch/"] = 500
        second, _ = self.torch_page()
        self.assertEqual(second.header("x-cache"), "DUMMY")
        self.assertEqual(second.body, first.body)
        self.assertEqual(self.index.count("/simple/torch/"), 2)
        for name in files:
            self.assertEqual(self.proxy.get(f"/dummy/torch/{name}").code, 200)

    def test_stale_page_after_restart(self) -> None:
        """
        A new proxy on the same cache directory serves the dummy from the
        real page stored on disk when the upstream fails, with the same
        wheels.
        """
        cache_dir = FilePath(self.mktemp())
        spec = (parse_dummy_spec("torch"),)
        before = MemoryProxy(self.index, cache_dir, dummies=spec)
        _, first = self.torch_page(before)
        self.index.fail["/simple/torch/"] = 500
        after = MemoryProxy(self.index, cache_dir, dummies=spec)
        after.clock.advance(101)
        answer, second = self.torch_page(after)
        self.assertEqual(answer.header("x-cache"), "DUMMY")
        self.assertEqual(second, first)

    def test_upstream_error_nothing_cached(self) -> None:
        """
        With no real page cached and the upstream failing, the dummy page is
        a 502, and its wheels are not found.
        """
        self.index.fail["/simple/torch/"] = 500
        answer = self.proxy.get("/simple/torch/", headers=JSON)
        self.assertEqual(answer.code, 502)
        wheel = self.proxy.get(f"/dummy/torch/{dummy_filename('2.3.1')}")
        self.assertEqual(wheel.code, 404)

    def test_not_upstream(self) -> None:
        """
        An "auto" dummy of a project the upstream does not have is a 404,
        and so are its would-be wheels.
        """
        proxy = self.make_proxy("nothing-here")
        answer = proxy.get("/simple/nothing-here/", headers=JSON)
        self.assertEqual(answer.code, 404)
        wheel = proxy.get("/dummy/nothing-here/nothing_here-1.0-py3-none-any.whl")
        self.assertEqual(wheel.code, 404)
        self.assertEqual(self.index.count("/simple/nothing-here/"), 1)

    def test_file_first(self) -> None:
        """
        A wheel asked for before its page is served; the real page is
        fetched for it, and only that.
        """
        answer = self.proxy.get(f"/dummy/torch/{dummy_filename('2.4.0rc1')}")
        self.assertEqual(answer.code, 200)
        self.assertIn(b"Requires-Python: >=3.9", wheel_member(answer.body, "METADATA"))
        self.assertEqual(self.upstream_paths(), ["/simple/torch/"])


class DummyFileTests(DummyProxyTestCase):
    """
    ``/dummy/<project>/<file>``: headers, HEAD, conditional requests, 404s.
    """

    WHEEL = "/dummy/torch/" + dummy_filename("2.3.1")

    def test_headers(self) -> None:
        """
        A wheel is ``application/zip``, immutable, with its length and an
        ETag, and ``X-Cache: DUMMY``.
        """
        answer = self.proxy.get(self.WHEEL)
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.header("content-type"), "application/zip")
        self.assertEqual(answer.header("cache-control"), "max-age=365000000, immutable")
        self.assertEqual(answer.header("x-cache"), "DUMMY")
        self.assertEqual(answer.length, len(answer.body))
        self.assertIsNotNone(answer.header("etag"))

    def test_head(self) -> None:
        """
        ``HEAD`` gives the headers of a ``GET`` (the full length included)
        and no body.
        """
        got = self.proxy.get(self.WHEEL)
        transport = self.proxy.raw(
            f"HEAD {self.WHEEL} HTTP/1.1\r\nHost: proxy.test\r\n\r\n".encode()
        )
        status, headers, body = parse_raw(transport.value())
        self.assertEqual(status, 200)
        self.assertEqual(headers[b"content-length"], str(len(got.body)).encode())
        self.assertEqual(headers[b"content-type"], b"application/zip")
        self.assertEqual(headers[b"etag"].decode(), got.header("etag"))
        self.assertEqual(headers[b"x-cache"], b"DUMMY")
        self.assertEqual(body, b"")
        self.assertFalse(transport.disconnecting)

    def test_if_none_match(self) -> None:
        """
        ``If-None-Match`` with the wheel's ETag is a 304 with no body and no
        ``Content-Length``; the ``.metadata``'s ETag differs and does not
        match the wheel.
        """
        etag = self.proxy.get(self.WHEEL).header("etag")
        assert etag is not None
        again = self.proxy.get(self.WHEEL, headers={"If-None-Match": etag})
        self.assertEqual(again.code, 304)
        self.assertEqual(again.body, b"")
        self.assertEqual(again.header("etag"), etag)
        transport = self.proxy.raw(
            f"GET {self.WHEEL} HTTP/1.1\r\nHost: proxy.test\r\n"
            f"If-None-Match: {etag}\r\n\r\n".encode()
        )
        status, headers, body = parse_raw(transport.value())
        self.assertEqual((status, body), (304, b""))
        self.assertNotIn(b"content-length", headers)
        self.assertEqual(headers[b"x-cache"], b"DUMMY")
        metadata = self.proxy.get(
            self.WHEEL + ".metadata", headers={"If-None-Match": etag}
        )
        self.assertEqual(metadata.code, 200)
        self.assertNotEqual(metadata.header("etag"), etag)
        other = self.proxy.get(self.WHEEL, headers={"If-None-Match": '"other"'})
        self.assertEqual(other.code, 200)

    def test_not_found(self) -> None:
        """
        Unknown dummy files are 404: a version the upstream lacks, a real
        sdist's name, its ``.metadata``, another project's wheel, a project
        that is not a dummy, and paths with too few or too many segments.
        """
        self.torch_page()
        for path in (
            "/dummy/torch/" + dummy_filename("9.9.9"),
            "/dummy/torch/" + TORCH_2_0_0_SDIST.filename,
            "/dummy/torch/" + dummy_filename("9.9.9") + ".metadata",
            "/dummy/torch/demo-1.0-py3-none-any.whl",
            "/dummy/demo/demo-1.0-py3-none-any.whl",
            "/dummy/torch",
            "/dummy/torch/",
            "/dummy/",
            "/dummy/torch/x/" + dummy_filename("2.3.1"),
        ):
            answer = self.proxy.get(path)
            self.assertEqual(answer.code, 404, path)
            self.assertIsNone(answer.header("x-cache"), path)
        self.assertEqual(self.upstream_paths(), ["/simple/torch/"])


class NonDummyTests(DummyProxyTestCase):
    """
    Projects that are not dummies are proxied as ever.
    """

    def test_unaffected(self) -> None:
        """
        With torch a dummy, demo's page is the upstream's (``X-Cache:
        MISS``, links under ``/files/``) and its real wheel is served.
        """
        answer = self.proxy.get("/simple/demo/", headers=JSON)
        self.assertEqual(answer.header("x-cache"), "MISS")
        files = json_files(answer)
        self.assertEqual(list(files), [DEMO.filename])
        entry = files[DEMO.filename]
        self.assertEqual(entry["hashes"]["sha256"], DEMO.sha256)
        url = urljoin(MemoryProxy.ORIGIN + "/simple/demo/", entry["url"])
        self.assertEqual(urlsplit(url).path, self.proxy.file_path(DEMO.filename))
        wheel = self.proxy.get(urlsplit(url).path)
        self.assertEqual(wheel.code, 200)
        self.assertEqual(wheel.body, DEMO.content)
        self.assertEqual(wheel.header("x-cache"), "MISS")

    def test_real_torch_without_dummy(self) -> None:
        """
        Without ``--dummy``, torch's page lists the real files, which the
        dummy page never does.
        """
        proxy = self.make_proxy()
        answer, files = self.torch_page(proxy)
        self.assertEqual(answer.header("x-cache"), "MISS")
        self.assertEqual(
            {f["hashes"]["sha256"] for f in files.values()},
            {w.sha256 for w in REAL_TORCH},
        )
        _, dummy_files = self.torch_page()
        self.assertFalse(
            {f["hashes"]["sha256"] for f in dummy_files.values()}
            & {w.sha256 for w in REAL_TORCH}
        )
