"""
The ``--dummy`` option: what a dummy project is (:class:`DummySpec`) and its
syntax (:func:`parse_dummy_spec`). Pure data; the wheels are built by
:mod:`twisted_pypi.sources.dummywheel`.
"""

from __future__ import annotations

import enum
import keyword
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from attrs import Factory, field, frozen
from packaging.version import InvalidVersion, Version

from twisted_pypi.core.names import is_valid_project_name, normalize

__all__ = [
    "DUMMY_SPEC_SYNTAX",
    "KNOWN_IMPORT_NAMES",
    "DummySpec",
    "ImportMode",
    "check_version_text",
    "default_module",
    "is_import_name",
    "parse_dummy_spec",
]

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

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What a version may look like in a filename: no separator, space or newline.
_VERSION_TEXT = re.compile(r"[A-Za-z0-9.+!_]+")


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


def check_version_text(version: str) -> None:
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
                check_version_text(version)
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
