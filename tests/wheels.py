"""
Real, installable wheels built in memory for the tests.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterable, Mapping

from attrs import frozen
from packaging.utils import canonicalize_name


@frozen
class BuiltWheel:
    """
    A wheel and its core metadata.

    :ivar filename: The wheel's filename.
    :ivar content: The wheel's bytes.
    :ivar metadata: The bytes of its ``METADATA`` file.
    """

    filename: str
    content: bytes
    metadata: bytes

    @property
    def sha256(self) -> str:
        """
        The hex sha256 of the wheel.
        """
        return hashlib.sha256(self.content).hexdigest()


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def build_wheel(
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    requires_python: str | None = None,
    modules: Mapping[str, str] | None = None,
    padding: int = 0,
) -> BuiltWheel:
    """
    Build a pure-Python ``py3-none-any`` wheel.

    :param name: The project name.
    :param version: The version.
    :param requires: ``Requires-Dist`` lines.
    :param requires_python: The ``Requires-Python`` value.
    :param modules: Module file name to source; default one module named after
        the project that defines ``VERSION``.
    :param padding: Bytes of incompressible data to add, to make a large wheel.
    """
    dist = canonicalize_name(name).replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    metadata = ("\n".join(lines) + "\n").encode()
    files: dict[str, bytes] = {}
    sources = modules or {f"{dist}.py": f"VERSION = {version!r}\n"}
    for module, source in sources.items():
        files[module] = source.encode()
    if padding:
        files[f"{dist}_data.bin"] = hashlib.shake_256(name.encode()).digest(padding)
    files[f"{info}/METADATA"] = metadata
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: twisted-pypi-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = "".join(
        f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items()
    )
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            stored = path.endswith(".bin")
            entry.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    return BuiltWheel(f"{dist}-{version}-py3-none-any.whl", buffer.getvalue(), metadata)


#: An in-tree PEP 517 build backend (``backend-path = ["."]``): it builds a
#: wheel of one module from the sdist's ``PKG-INFO`` with the standard
#: library alone, so installers build the sdist with nothing from an index.
_BACKEND = """\
import base64, hashlib, os, zipfile

MODULE = {module!r}
SOURCE = {source!r}


def _hash(data):
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open("PKG-INFO", "rb") as f:
        metadata = f.read()
    info = {info!r}
    files = {{
        MODULE + ".py": SOURCE.encode(),
        info + "/METADATA": metadata,
        info + "/WHEEL": b"Wheel-Version: 1.0\\nGenerator: tp\\n"
        b"Root-Is-Purelib: true\\nTag: py3-none-any\\n",
    }}
    record = "".join(
        "%s,%s,%d\\n" % (path, _hash(data), len(data)) for path, data in files.items()
    )
    files[info + "/RECORD"] = (record + info + "/RECORD,,\\n").encode()
    name = {wheel!r}
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return name


def build_sdist(sdist_directory, config_settings=None):
    raise NotImplementedError("built by the tests")
"""


def build_sdist(
    name: str,
    version: str,
    *,
    requires: Iterable[str] = (),
    metadata_version: str = "2.1",
    dynamic: Iterable[str] = (),
    buildable: bool = False,
    build_requires: Iterable[str] | None = None,
) -> BuiltWheel:
    """
    Build a minimal source distribution (``.tar.gz``) holding ``PKG-INFO``.

    It is returned as a :class:`BuiltWheel` (filename, bytes and metadata)
    so that the fake index can list and serve it like a wheel.

    :param name: The project name.
    :param version: The version.
    :param requires: ``Requires-Dist`` lines of its ``PKG-INFO``.
    :param metadata_version: Its ``Metadata-Version``.
    :param dynamic: Its ``Dynamic`` fields (metadata 2.2 and later).
    :param buildable: Whether installers can build it: it then holds a
        ``pyproject.toml`` whose in-tree backend (``_tpbuild.py``) builds a
        wheel of one module named after the project (defining ``VERSION``)
        with the standard library alone.
    :param build_requires: Its ``[build-system] requires`` (with
        ``buildable``; default none).
    """
    dist = canonicalize_name(name).replace("-", "_")
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}"]
    lines += [f"Version: {version}", *(f"Dynamic: {field}" for field in dynamic)]
    lines += [f"Requires-Dist: {r}" for r in requires]
    metadata = ("\n".join(lines) + "\n").encode()
    members = {"PKG-INFO": metadata}
    if buildable:
        listed = ", ".join(f'"{r}"' for r in build_requires or ())
        members["pyproject.toml"] = (
            f"[build-system]\nrequires = [{listed}]\n"
            'build-backend = "_tpbuild"\nbackend-path = ["."]\n'
        ).encode()
        members["_tpbuild.py"] = _BACKEND.format(
            module=dist,
            source=f"VERSION = {version!r}\n",
            info=f"{dist}-{version}.dist-info",
            wheel=f"{dist}-{version}-py3-none-any.whl",
        ).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, data in members.items():
            entry = tarfile.TarInfo(f"{dist}-{version}/{member}")
            entry.size = len(data)
            entry.mtime = 1577836800
            archive.addfile(entry, io.BytesIO(data))
    return BuiltWheel(f"{dist}-{version}.tar.gz", buffer.getvalue(), metadata)


def renamed_sdist(sdist: BuiltWheel, filename: str) -> BuiltWheel:
    """
    An sdist from :func:`build_sdist` under another name, recompressed with
    bzip2 when the name ends in ``.tar.bz2`` (a legacy sdist, as old
    releases on PyPI are).

    :param sdist: A ``.tar.gz`` sdist.
    :param filename: Its new name.
    """
    content = sdist.content
    if filename.endswith(".tar.bz2"):
        content = bz2.compress(gzip.decompress(content))
    return BuiltWheel(filename, content, sdist.metadata)
