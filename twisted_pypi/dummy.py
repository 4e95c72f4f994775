# -*- test-case-name: tests.test_dummy,tests.test_dummy_install -*-
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
import enum
import hashlib
import io
import keyword
import re
import stat
import zipfile
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from attrs import Factory, field, frozen
from packaging.specifiers import SpecifierSet
from packaging.utils import parse_wheel_filename
from packaging.version import InvalidVersion, Version

from twisted_pypi.names import is_valid_project_name, normalize

#: The ``--dummy`` syntax, quoted in every error :func:`parse_dummy_spec` raises.
DUMMY_SPEC_SYNTAX: Final = (
    "NAME[==VERSION[,VERSION...]][:absent|:stub][:module=IMPORT_NAME]"
)

#: Normalized project name to import name, for projects whose import name is
#: not their name with ``-`` turned into ``_``.  A dotted name is a module
#: inside a namespace package (see :func:`build_dummy_wheel`).
KNOWN_IMPORT_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "beautifulsoup4": "bs4",
        "pillow": "PIL",
        "protobuf": "google.protobuf",
        "python-dateutil": "dateutil",
        "pyyaml": "yaml",
        "scikit-image": "skimage",
        "scikit-learn": "sklearn",
        "faiss-cpu": "faiss",
        "faiss-gpu": "faiss",
        "onnxruntime-gpu": "onnxruntime",
        "opencv-python": "cv2",
        "opencv-python-headless": "cv2",
        "opencv-contrib-python": "cv2",
        "opencv-contrib-python-headless": "cv2",
        "tensorflow-cpu": "tensorflow",
        "tensorflow-gpu": "tensorflow",
        "tf-nightly": "tensorflow",
        "torch": "torch",
        "torchaudio": "torchaudio",
        "torchvision": "torchvision",
    }
)

# Every file gets the same timestamp (the earliest a zip can hold), mode and
# creating system, so nothing about the machine or the moment leaks into the
# bytes.  Entries are stored, not deflated: zlib's output may change between
# zlib versions, and the files are a few hundred bytes anyway.
_ZIP_DATE_TIME: Final = (1980, 1, 1, 0, 0, 0)
_ZIP_FILE_MODE: Final = (stat.S_IFREG | 0o644) << 16
_ZIP_UNIX: Final = 3

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What a version may look like in a filename: no separator, space or newline.
_VERSION_TEXT = re.compile(r"[A-Za-z0-9.+!_]+")
_WHEEL_FILENAME = re.compile(r"[A-Za-z0-9._+!-]+\.whl")


class ImportMode(enum.Enum):
    """
    What ``import <module>`` does once a dummy is installed.

    :cvar ABSENT: Nothing is importable: ``import torch`` raises
        :class:`ModuleNotFoundError`, as if the project were not installed.
    :cvar STUB: The module imports and has ``__version__``; any other
        attribute raises an error saying it is a placeholder, of a class that
        is both a :class:`RuntimeError` and an :class:`AttributeError` (so
        ``hasattr`` is false; :class:`ImportError` cannot be combined with
        :class:`AttributeError`).  Dunder names raise a plain
        :class:`AttributeError`, so import machinery, ``pickle`` and
        ``inspect`` see an ordinary module.
    """

    ABSENT = "absent"
    STUB = "stub"


def default_module(project: str) -> str:
    """
    The import name of a project: :data:`KNOWN_IMPORT_NAMES` or else the
    normalized name with ``-`` replaced by ``_``.

    :param project: A project name in any spelling.
    """
    name = normalize(project)
    return KNOWN_IMPORT_NAMES.get(name, name.replace("-", "_"))


def is_import_name(name: str) -> bool:
    """
    Whether ``name`` (``cv2``, ``google.protobuf``) is a dotted Python module
    name of ASCII identifiers, none of them a keyword.
    """
    return all(
        _IDENTIFIER.fullmatch(part) and not keyword.iskeyword(part)
        for part in name.split(".")
    )


def _check_version_text(version: str) -> None:
    """Refuse all but a PEP 440 version that can stand in a wheel filename."""
    try:
        Version(version)
    except InvalidVersion:
        raise ValueError(f"{version!r} is not a valid PEP 440 version") from None
    if not _VERSION_TEXT.fullmatch(version):
        raise ValueError(
            f"version {version!r} cannot appear in a wheel filename as written;"
            f" use {str(Version(version))!r}"
        )


@frozen
class DummySpec:
    """
    A project to replace with dummy wheels (one ``--dummy`` value).

    :ivar project: The normalized project name.
    :ivar versions: The versions to offer, or ``None`` for every version the
        upstream index lists ("auto").
    :ivar mode: What importing the module does.
    :ivar module: The import name; only :attr:`ImportMode.STUB` creates it.
    :raise ValueError: If a field is invalid.
    """

    project: str
    versions: tuple[str, ...] | None = None
    mode: ImportMode = ImportMode.ABSENT
    module: str = field(
        default=Factory(lambda self: default_module(self.project), takes_self=True)
    )

    def __attrs_post_init__(self) -> None:
        """Validate the fields."""
        if not is_valid_project_name(self.project):
            raise ValueError(f"{self.project!r} is not a valid project name")
        if normalize(self.project) != self.project:
            raise ValueError(f"{self.project!r} is not a normalized project name")
        if self.versions is not None:
            if not self.versions:
                raise ValueError("no versions given; use None to mirror upstream")
            for version in self.versions:
                _check_version_text(version)
        if self.mode is ImportMode.STUB and not is_import_name(self.module):
            raise ValueError(f"{self.module!r} is not a valid Python import name")


def _spec_error(text: str, problem: str) -> ValueError:
    """The error for ``--dummy text``: the problem and the syntax."""
    return ValueError(
        f"invalid --dummy value {text!r}: {problem}; the syntax is"
        f" {DUMMY_SPEC_SYNTAX}, e.g. torch, torch==2.3.1 or"
        " opencv-python==4.9.0.80:stub:module=cv2"
    )


def _parse_versions(text: str, versions: str) -> tuple[str, ...]:
    """The normalized, de-duplicated versions of a comma-separated list."""
    parsed: list[Version] = []
    for item in versions.split(","):
        item = item.strip()
        if not item:
            raise _spec_error(text, "a version is empty")
        if item.startswith("="):
            raise _spec_error(text, "use ==, not ===")
        try:
            version = Version(item)
        except InvalidVersion:
            raise _spec_error(
                text,
                f"{item!r} is not a valid version (wildcards and ranges"
                " are not supported)",
            ) from None
        if version not in parsed:
            parsed.append(version)
    return tuple(str(version) for version in parsed)


def parse_dummy_spec(text: str) -> DummySpec:
    """
    Parse one ``--dummy`` value, :data:`DUMMY_SPEC_SYNTAX`.

    ``NAME`` alone mirrors every upstream version; ``==`` lists exact
    versions (normalized, e.g. ``2.4.0RC1`` becomes ``2.4.0rc1``; duplicates
    dropped).  ``:absent`` (the default) installs nothing importable,
    ``:stub`` a module that imports but refuses every use;
    ``:module=IMPORT_NAME`` names that module (default
    :func:`default_module`) and only goes with ``:stub``.

    :param text: The value, e.g. ``torch==2.3.1`` or ``torch:stub``.
    :raise ValueError: Saying what is wrong and showing the syntax.
    """
    head, *options = text.strip().split(":")
    name, equals, versions_text = head.partition("==")
    name = name.strip()
    if not name:
        raise _spec_error(text, "the project name is missing")
    if any(c in name for c in "<>=!~"):
        raise _spec_error(text, "only exact versions given with == are supported")
    if not is_valid_project_name(name):
        raise _spec_error(text, f"{name!r} is not a valid project name")
    versions = _parse_versions(text, versions_text) if equals else None

    mode: ImportMode | None = None
    module: str | None = None
    for option in options:
        key, assign, value = (part.strip() for part in option.partition("="))
        key = key.lower()
        if not key:
            raise _spec_error(text, "an option is empty")
        if key in ("absent", "stub") and not assign:
            if mode is not None:
                raise _spec_error(text, "give :absent or :stub only once")
            mode = ImportMode(key)
        elif key == "module" and assign:
            if module is not None:
                raise _spec_error(text, "give :module= only once")
            if not is_import_name(value):
                raise _spec_error(
                    text, f"{value!r} is not a valid (dotted) Python import name"
                )
            module = value
        else:
            raise _spec_error(
                text,
                f"unknown option {option!r} (the options are :absent,"
                " :stub and :module=IMPORT_NAME)",
            )
    mode = mode or ImportMode.ABSENT
    if module is not None and mode is not ImportMode.STUB:
        raise _spec_error(text, ":module= only has an effect with :stub")
    project = normalize(name)
    module = module or default_module(project)
    if mode is ImportMode.STUB and not is_import_name(module):
        raise _spec_error(
            text,
            f"the default import name {module!r} is not a valid Python"
            " name; give one with :module=IMPORT_NAME",
        )
    return DummySpec(project, versions, mode, module)


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
    _check_version_text(parts[1])
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
    _check_version_text(version)
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
