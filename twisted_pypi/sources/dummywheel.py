# -*- test-case-name: tests.sources.test_dummywheel,tests.e2e.test_dummy_install -*-
"""
Tiny generated wheels that stand in for projects a user does not want
(``--dummy SPEC``): an app whose dependency tree pulls in torch or tensorflow
installs in seconds, with a placeholder instead of gigabytes it never uses.

This module holds the pure building blocks: the ``--dummy`` syntax
(:func:`parse_dummy_spec`) and the wheel builder (:func:`build_dummy_wheel`).
A dummy wheel has no dependencies and, by default, no importable module at all
(:attr:`ImportMode.ABSENT`), so ``try: import torch`` fallbacks keep working;
:attr:`ImportMode.STUB` installs a module that imports but refuses every use.

Its bytes depend only on the arguments: the same spec and version give the same
wheel, and so the same sha256, in every process on every machine, which lets the
index publish its hash and lockfiles record it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import stat
import zipfile
from typing import Final

from attrs import frozen
from packaging.specifiers import SpecifierSet
from packaging.utils import parse_wheel_filename
from packaging.version import Version

from twisted_pypi.core.dummyspec import DummySpec, ImportMode, check_version_text

__all__ = [
    "DummyWheel",
    "build_dummy_wheel",
]

# Every file gets the same timestamp (the earliest a zip can hold), mode and
# creating system, so nothing about the machine or the moment leaks into the
# bytes.  Entries are stored, not deflated: zlib's output may change between
# zlib versions, and the files are a few hundred bytes anyway.
_ZIP_DATE_TIME: Final = (1980, 1, 1, 0, 0, 0)
_ZIP_FILE_MODE: Final = (stat.S_IFREG | 0o644) << 16
_ZIP_UNIX: Final = 3
_WHEEL_FILENAME = re.compile(r"[A-Za-z0-9._+!-]+\.whl")


@frozen
class DummyWheel:
    """
    A generated wheel.

    :ivar filename: The wheel's filename.
    :ivar content: The wheel's bytes.
    :ivar metadata: Its ``METADATA`` file, byte for byte as inside the wheel
        (what the index serves as ``<filename>.metadata``).
    """

    filename: str
    content: bytes
    metadata: bytes

    @property
    def sha256(self) -> str:
        """The hex sha256 of :attr:`content`."""
        return hashlib.sha256(self.content).hexdigest()

    @property
    def metadata_sha256(self) -> str:
        """The hex sha256 of :attr:`metadata`."""
        return hashlib.sha256(self.metadata).hexdigest()

    @property
    def size(self) -> int:
        """The size of :attr:`content` in bytes."""
        return len(self.content)


def _clean_requires_python(requires_python: str | None) -> str | None:
    """
    ``requires_python`` on one line, or ``None`` if empty; a ``ValueError``
    (``InvalidSpecifier``) if it is not a valid specifier set.
    """
    if requires_python is None:
        return None
    cleaned = " ".join(requires_python.split())
    if not cleaned:
        return None
    SpecifierSet(cleaned)
    return cleaned


def _wheel_names(
    spec: DummySpec, version: str, upstream_filename: str | None
) -> tuple[str, str, str, list[str]]:
    """
    The filename, dist-info directory, version as the filename spells it, and
    the ``WHEEL`` lines that depend on the filename.
    """
    dist = spec.project.replace("-", "_")
    if upstream_filename is None:
        return (
            f"{dist}-{version}-py3-none-any.whl",
            f"{dist}-{version}.dist-info",
            version,
            ["Tag: py3-none-any"],
        )
    if not _WHEEL_FILENAME.fullmatch(upstream_filename):
        raise ValueError(f"{upstream_filename!r} is not a wheel filename")
    name, parsed_version, _, _ = parse_wheel_filename(upstream_filename)
    if name != spec.project or parsed_version != Version(version):
        raise ValueError(
            f"{upstream_filename!r} is not a wheel of {spec.project} {version}"
        )
    parts = upstream_filename[: -len(".whl")].split("-")
    lines = [
        f"Tag: {python}-{abi}-{platform}"
        for python in parts[-3].split(".")
        for abi in parts[-2].split(".")
        for platform in parts[-1].split(".")
    ]
    if len(parts) == 6:
        lines.append(f"Build: {parts[2]}")
    check_version_text(parts[1])
    return upstream_filename, f"{parts[0]}-{parts[1]}.dist-info", parts[1], lines


def _describe(spec: DummySpec, version: str) -> str:
    """The ``METADATA`` body: what the dummy does, how to get the real one."""
    if spec.mode is ImportMode.STUB:
        effect = (
            f"`import {spec.module}` works and gives `__version__`, but any other"
            " attribute raises an error saying it is a placeholder."
        )
    else:
        effect = (
            f"It contains no code: `import {spec.module}` fails with"
            " ModuleNotFoundError, as if it were not installed."
        )
    return (
        f"This is not {spec.project}. It is a placeholder that the twisted-pypi"
        f" proxy serves because it was started with `--dummy {spec.project}`,"
        " so that packages depending on it install without downloading it."
        f" It has no dependencies. {effect}\n\n"
        f"To use the real {spec.project}, install it from PyPI directly, or"
        f" remove `--dummy {spec.project}` from the proxy's options, then"
        f" reinstall it (`pip install --force-reinstall {spec.project}=={version}`).\n"
    )


def _stub_source(spec: DummySpec, version: str) -> str:
    """
    The ``__init__.py`` of a :attr:`ImportMode.STUB` module, for any Python 3
    (no f-strings, no annotations).
    """
    message = (
        f"{spec.project} {version} is a placeholder served by the twisted-pypi"
        " proxy (--dummy); install the real package from PyPI to use it"
    )
    return f'''"""{message}."""

__version__ = {version!r}
__all__ = []

_MESSAGE = {message!r}


class _PlaceholderError(RuntimeError, AttributeError):
    """Any use of the placeholder; an AttributeError, so hasattr() is False."""


def __getattr__(name):
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    raise _PlaceholderError("%s (%s.%s)" % (_MESSAGE, __name__, name))
'''


def _record_hash(data: bytes) -> str:
    """The ``RECORD`` hash of ``data``: urlsafe base64, no padding."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _zip(files: list[tuple[str, bytes]]) -> bytes:
    """A stored zip of ``files``, in order, with nothing from the environment."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path, data in files:
            info = zipfile.ZipInfo(path, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = _ZIP_FILE_MODE
            info.create_system = _ZIP_UNIX
            archive.writestr(info, data)
    return buffer.getvalue()


def build_dummy_wheel(
    spec: DummySpec,
    version: str,
    requires_python: str | None,
    *,
    upstream_filename: str | None = None,
) -> DummyWheel:
    """
    Build the dummy wheel of one version of ``spec.project``.

    The wheel holds ``METADATA`` (no ``Requires-Dist``), ``WHEEL``,
    ``top_level.txt`` and ``RECORD`` and, for :attr:`ImportMode.STUB`,
    ``<module>/__init__.py``.  A dotted module such as ``google.protobuf``
    gets only its last package's ``__init__.py``: the parents stay namespace
    packages, so the dummy never shadows other projects sharing ``google``.

    :param spec: The project and its import mode.
    :param version: The version, spelled as it must appear in the filename and
        ``METADATA`` (the caller chooses it; ``spec.versions`` is not checked).
    :param requires_python: ``Requires-Python`` to mirror from upstream, or
        ``None``; whitespace runs (newlines too) are collapsed.
    :param upstream_filename: An upstream wheel of this version to imitate:
        the dummy then has exactly that filename, its tags and build number,
        so installers choose it where they would choose the real one.  By
        default the dummy is ``{name}-{version}-py3-none-any.whl``.
    :raise ValueError: If ``version``, ``requires_python`` or
        ``upstream_filename`` is invalid, or the filename is not of this
        project and version.
    """
    check_version_text(version)
    cleaned_python = _clean_requires_python(requires_python)
    filename, info, version, wheel_lines = _wheel_names(
        spec, version, upstream_filename
    )

    headers = [
        "Metadata-Version: 2.1",
        f"Name: {spec.project}",
        f"Version: {version}",
        f"Summary: Placeholder for {spec.project} {version} served by the"
        " twisted-pypi proxy instead of the real package",
    ]
    if cleaned_python is not None:
        headers.append(f"Requires-Python: {cleaned_python}")
    metadata = ("\n".join(headers) + "\n\n" + _describe(spec, version)).encode()
    wheel = (
        "\n".join(
            ["Wheel-Version: 1.0", "Generator: twisted-pypi", "Root-Is-Purelib: true"]
            + wheel_lines
        )
        + "\n"
    )

    files: list[tuple[str, bytes]] = []
    top_level = ""
    if spec.mode is ImportMode.STUB:
        package = spec.module.replace(".", "/")
        files.append((f"{package}/__init__.py", _stub_source(spec, version).encode()))
        top_level = spec.module.split(".")[0] + "\n"
    files += [
        (f"{info}/METADATA", metadata),
        (f"{info}/WHEEL", wheel.encode()),
        (f"{info}/top_level.txt", top_level.encode()),
    ]
    record = (
        "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files)
        + f"{info}/RECORD,,\n"
    )
    files.append((f"{info}/RECORD", record.encode()))
    return DummyWheel(filename, _zip(files), metadata)
