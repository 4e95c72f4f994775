"""
A static PEP 503 / PEP 691 upstream tree for the benchmarks.

Projects:

* ``bench-bigindex``: one page listing many files (600 versions x 5 files by
  default: an sdist and four wheels), with sha256 hashes, sizes, upload
  times, ``requires-python`` on most and core metadata on the wheels, like a
  busy PyPI project.  The files themselves do not exist.
* ``bench-bigfile``: one wheel of random (incompressible) bytes, listed with
  its real sha256 and size.

Each page exists as ``index.html`` (PEP 503) and ``index.v1_json`` (PEP 691);
the web server picks one by the ``Accept`` header.  File links are relative
(``../../packages/...``), so a path-preserving proxy (nginx) serves the files
under its own address and twisted-pypi resolves them against the page URL.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import zipfile
from html import escape
from pathlib import Path
from typing import Any

from attrs import frozen

#: The project with the big page.
BIGINDEX = "bench-bigindex"

#: The project with the big file.
BIGFILE = "bench-bigfile"

#: The big file's name.
BIGFILE_NAME = "bench_bigfile-1.0-py3-none-any.whl"

#: PEP 691 JSON media type.
JSON_TYPE = "application/vnd.pypi.simple.v1+json"

_CHUNK = 8 << 20


@frozen
class BigFile:
    """
    The generated big file.

    :ivar path: Where it is on disk.
    :ivar size: Its size in bytes.
    :ivar sha256: Its hex sha256.
    :ivar url_path: Its path on the upstream (``/packages/...``).
    """

    path: Path
    size: int
    sha256: str
    url_path: str


@frozen
class Tree:
    """
    The generated upstream tree.

    :ivar root: The document root.
    :ivar bigfile: The big file.
    :ivar index_files: How many files the big page lists.
    """

    root: Path
    bigfile: BigFile
    index_files: int


def _hex(rng: random.Random, n: int) -> str:
    """:return: ``n`` random hex digits."""
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _package_path(rng: random.Random, filename: str) -> str:
    """:return: A PyPI-like path, ``/packages/ab/cd/<60 hex>/filename``."""
    digest = _hex(rng, 64)
    return f"/packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}/{filename}"


def _version(filename: str) -> str:
    """:return: The version in a wheel or sdist filename."""
    return filename.removesuffix(".tar.gz").split("-")[1]


def _write_page(directory: Path, name: str, files: list[dict[str, Any]]) -> None:
    """
    Write a project page as ``index.html`` and ``index.v1_json``.

    :param directory: The project's directory (``simple/<name>/``).
    :param name: The project name.
    :param files: PEP 691 file dicts; ``url`` is relative to the page.
    """
    directory.mkdir(parents=True, exist_ok=True)
    page = {
        "meta": {"api-version": "1.1"},
        "name": name,
        "files": files,
        "versions": sorted({_version(f["filename"]) for f in files}),
    }
    (directory / "index.v1_json").write_text(json.dumps(page), encoding="utf-8")
    lines = [
        "<!DOCTYPE html>",
        "<html>",
        "  <head>",
        '    <meta name="pypi:repository-version" content="1.1">',
        f"    <title>Links for {escape(name)}</title>",
        "  </head>",
        "  <body>",
        f"    <h1>Links for {escape(name)}</h1>",
    ]
    for f in files:
        attributes = [f'href="{escape(f["url"])}#sha256={f["hashes"]["sha256"]}"']
        if f.get("requires-python"):
            attributes.append(f'data-requires-python="{escape(f["requires-python"])}"')
        metadata = f.get("core-metadata")
        if isinstance(metadata, dict):
            value = escape(f"sha256={metadata['sha256']}")
            attributes.append(f'data-dist-info-metadata="{value}"')
            attributes.append(f'data-core-metadata="{value}"')
        lines.append(f"    <a {' '.join(attributes)}>{escape(f['filename'])}</a><br />")
    lines += ["  </body>", "</html>", "<!--SERIAL 24680135-->", ""]
    (directory / "index.html").write_text("\n".join(lines), encoding="utf-8")


def _bigindex_files(count: int) -> list[dict[str, Any]]:
    """
    :param count: How many files (rounded down to a multiple of 5).
    :return: PEP 691 file dicts for ``bench-bigindex``.
    """
    rng = random.Random(503)
    tags = (
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
        "cp311-cp311-macosx_11_0_arm64",
        "cp311-cp311-win_amd64",
        "py3-none-any",
    )
    files: list[dict[str, Any]] = []
    for v in range(count // 5):
        version = f"{v // 100}.{(v // 10) % 10}.{v % 10}"
        requires = None if v < count // 25 else ">=3.8"
        names = [f"bench_bigindex-{version}.tar.gz"]
        names += [f"bench_bigindex-{version}-{tag}.whl" for tag in tags]
        for filename in names:
            entry: dict[str, Any] = {
                "filename": filename,
                "url": "../.." + _package_path(rng, filename),
                "hashes": {"sha256": _hex(rng, 64)},
                "requires-python": requires,
                "size": rng.randrange(20_000, 5_000_000),
                "upload-time": f"20{10 + v % 15:02d}-0{1 + v % 9}-1{v % 10}"
                f"T12:{v % 60:02d}:00.000000Z",
                "yanked": False,
            }
            if filename.endswith(".whl"):
                entry["core-metadata"] = {"sha256": _hex(rng, 64)}
                entry["data-dist-info-metadata"] = entry["core-metadata"]
            files.append(entry)
    return files


def _write_bigfile(root: Path, size: int) -> BigFile:
    """
    Write ``size`` random bytes as the big wheel and hash them.

    :param root: The document root.
    :param size: The size in bytes.
    """
    url_path = _package_path(random.Random(691), BIGFILE_NAME)
    path = root / url_path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        left = size
        while left > 0:
            chunk = os.urandom(min(_CHUNK, left))
            digest.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return BigFile(path, size, digest.hexdigest(), url_path)


def make_tree(root: Path, index_files: int, bigfile_size: int) -> Tree:
    """
    Generate the upstream tree.

    :param root: An empty directory, the document root.
    :param index_files: How many files ``bench-bigindex`` lists.
    :param bigfile_size: The size of ``bench-bigfile``'s wheel in bytes.
    :return: What was generated.
    """
    simple = root / "simple"
    files = _bigindex_files(index_files)
    _write_page(simple / BIGINDEX, BIGINDEX, files)
    big = _write_bigfile(root, bigfile_size)
    _write_page(
        simple / BIGFILE,
        BIGFILE,
        [
            {
                "filename": BIGFILE_NAME,
                "url": "../.." + big.url_path,
                "hashes": {"sha256": big.sha256},
                "requires-python": ">=3.8",
                "size": big.size,
                "upload-time": "2025-01-01T00:00:00.000000Z",
                "yanked": False,
            }
        ],
    )
    projects = [BIGFILE, BIGINDEX]
    listing = {
        "meta": {"api-version": "1.1"},
        "projects": [{"name": p} for p in projects],
    }
    (simple / "index.v1_json").write_text(json.dumps(listing), encoding="utf-8")
    links = "".join(f'<a href="{p}/">{p}</a>\n' for p in projects)
    (simple / "index.html").write_text(
        f"<!DOCTYPE html><html><body>\n{links}</body></html>\n", encoding="utf-8"
    )
    return Tree(root, big, len(files))


# Installable projects (test d) ----------------------------------------------


def build_wheel(name: str, version: str, requires: list[str], padding: int) -> bytes:
    """
    A pure-Python ``py3-none-any`` wheel that pip and uv install.

    :param name: The project name (``-`` separated).
    :param version: The version.
    :param requires: ``Requires-Dist`` values.
    :param padding: Random (incompressible) bytes to add as a data file.
    :return: The wheel's bytes.
    """
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = "".join(
        [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"]
        + [f"Requires-Dist: {r}\n" for r in requires]
    )
    files = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist}/data.bin": os.urandom(padding),
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: bench\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [
        f"{path},sha256={_record_digest(data)},{len(data)}"
        for path, data in files.items()
    ]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return out.getvalue()


def _record_digest(data: bytes) -> str:
    """The urlsafe-base64 sha256 a wheel's RECORD gives."""
    digest = hashlib.sha256(data).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def add_install_projects(root: Path, prefix: str, libraries: int) -> str:
    """
    Add ``<prefix>-app`` and ``<prefix>-lib-1`` .. ``-<libraries>``, wheels
    only, without PEP 658 metadata (so uv reads wheels with ``Range``
    requests, as for many real indexes).  The app needs every library; each
    library needs the next one; libraries have three versions of 20-400 KB.
    The app has five versions of 4-6 MB (an application with its data): its
    three newest need a library version that does not exist, so resolvers
    read their metadata one after another and go back to 1.1 (as they
    backtrack through the builds of a big project) — metadata of versions
    that are not installed.

    :param root: The document root made by :func:`make_tree`.
    :param prefix: Distinguishes independent sets (one per cold install).
    :param libraries: How many libraries.
    :return: The project to install (``<prefix>-app``).
    """
    rng = random.Random(prefix)
    names = [f"{prefix}-lib-{i}" for i in range(1, libraries + 1)]
    for index, name in enumerate([f"{prefix}-app", *names]):
        if index == 0:
            requires = [f"{lib}>=1.0" for lib in names]
        elif index < libraries:
            requires = [f"{names[index]}>=1.0"]
        else:
            requires = []
        files = []
        app = index == 0 and bool(names)
        versions = ("1.0", "1.1", "2.0", "2.1", "3.0") if app else ("1.0", "1.1", "2.0")
        for version in versions:
            filename = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
            needs = requires
            if app and version >= "2.0":
                needs = [f"{names[0]}>=9.0"]  # no such version: back to 1.1
            size = (
                rng.randrange(4 << 20, 6 << 20)
                if app
                else rng.randrange(20_000, 400_000)
            )
            content = build_wheel(name, version, needs, size)
            url_path = _package_path(rng, filename)
            path = root / url_path.lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            files.append(
                {
                    "filename": filename,
                    "url": "../.." + url_path,
                    "hashes": {"sha256": hashlib.sha256(content).hexdigest()},
                    "requires-python": ">=3.8",
                    "size": len(content),
                    "upload-time": "2025-01-01T00:00:00.000000Z",
                    "yanked": False,
                }
            )
        _write_page(root / "simple" / name, name, files)
    return f"{prefix}-app"
