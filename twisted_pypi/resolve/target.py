# -*- test-case-name: tests.resolve.test_target -*-
"""
The environment a dependency resolution is for: a Python version, the wheel
tags it installs, and the values its environment markers see.

By default that is the running interpreter (:meth:`Target.current`); an
explicit Python version and platform tag (``manylinux_2_28_x86_64``,
``macosx_11_0_arm64``, ``win_amd64`` ...) describe another machine, with
:mod:`packaging.tags` computing the tags a CPython there supports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from attrs import field, frozen
from packaging.markers import Marker, default_environment
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms, sys_tags

__all__ = [
    "PLATFORM_SYNTAX",
    "Target",
    "compatible_platforms",
    "full_python_version",
    "platform_environment",
]

#: The platform tags :meth:`Target.create` understands, for error messages.
PLATFORM_SYNTAX = (
    "manylinux_2_28_x86_64 (or manylinux2014_x86_64), musllinux_1_2_aarch64, "
    "linux_x86_64, macosx_11_0_arm64, win_amd64, win32 or win_arm64"
)

_PYTHON = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_(\w+)")
_LEGACY_MANYLINUX = {"manylinux1": 5, "manylinux2010": 12, "manylinux2014": 17}
_MUSLLINUX = re.compile(r"musllinux_(\d+)_(\d+)_(\w+)")
_MACOSX = re.compile(r"macosx_(\d+)_(\d+)_(\w+)")
_LINUX = re.compile(r"linux_(\w+)")
_WINDOWS_MACHINES = {"win_amd64": "AMD64", "win32": "x86", "win_arm64": "ARM64"}
_MAC_MACHINES = {"universal2": "arm64", "universal": "x86_64", "intel": "x86_64"}


def _copy(environment: Mapping[str, str]) -> dict[str, str]:
    """A private copy of a marker environment."""
    return dict(environment)


def _here() -> dict[str, str]:
    """The running interpreter's marker environment."""
    return {key: str(value) for key, value in default_environment().items()}


def _ranks(tags: Iterable[Tag]) -> dict[Tag, int]:
    """Each tag's priority: 0 for the most preferred."""
    ranks: dict[Tag, int] = {}
    for tag in tags:
        ranks.setdefault(tag, len(ranks))
    return ranks


@frozen
class Target:
    """
    What a resolution is for.

    :ivar python_version: ``major.minor``, e.g. ``3.11``.
    :ivar python_full_version: ``major.minor.micro``; ``requires-python`` is
        checked against it (``3.11`` means ``3.11.0``, as pip does it).
    :ivar platform: The platform tag asked for, or ``None`` for this machine.
    :ivar tags: The supported wheel tags, most preferred first.
    :ivar environment: The marker environment (without ``extra``).
    """

    python_version: str
    python_full_version: str
    platform: str | None
    tags: tuple[Tag, ...]
    environment: Mapping[str, str] = field(converter=_copy)
    _rank: Mapping[Tag, int] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        """Index the tags by priority."""
        object.__setattr__(self, "_rank", _ranks(self.tags))

    @classmethod
    def current(cls) -> Target:
        """
        The running interpreter on this machine.
        """
        environment = _here()
        return cls(
            python_version=environment["python_version"],
            python_full_version=environment["python_full_version"],
            platform=None,
            tags=tuple(sys_tags()),
            environment=environment,
        )

    @classmethod
    def create(
        cls, python_version: str | None = None, platform: str | None = None
    ) -> Target:
        """
        A CPython of ``python_version`` on ``platform``; what is not given is
        taken from the running interpreter and this machine.

        :param python_version: ``3.11`` or ``3.11.4``.
        :param platform: A platform tag, see :data:`PLATFORM_SYNTAX`.
        :raises ValueError: With a readable message, for a malformed value.
        """
        if python_version is None and platform is None:
            return cls.current()
        here = _here()
        if python_version is None:  # may be a pre-release such as 3.14.0rc1
            full = here["python_full_version"]
            major, minor = (int(part) for part in here["python_version"].split("."))
        else:
            full = full_python_version(python_version)
            major, minor = (int(part) for part in full.split(".")[:2])
        if platform is None:
            platforms = list(_here_platforms())
            environment = dict(here)
        else:
            platforms = compatible_platforms(platform)
            environment = platform_environment(platform)
        environment.update(
            implementation_name="cpython",
            implementation_version=full,
            platform_python_implementation="CPython",
            python_version=f"{major}.{minor}",
            python_full_version=full,
        )
        version = (major, minor)
        tags = [
            *cpython_tags(version, platforms=platforms),
            *compatible_tags(version, f"cp{major}{minor}", platforms),
        ]
        return cls(f"{major}.{minor}", full, platform, tuple(tags), environment)

    def rank(self, tags: Iterable[Tag]) -> int | None:
        """
        How much this target prefers a wheel with ``tags`` (lower is better),
        or ``None`` if it cannot install it.

        :param tags: The wheel's tags (from its filename).
        """
        ranks = [self._rank[tag] for tag in tags if tag in self._rank]
        return min(ranks) if ranks else None

    def allows_python(self, requires_python: str | None) -> bool:
        """
        Whether this target's Python satisfies a ``requires-python`` value;
        an invalid value is ignored, as installers do.

        :param requires_python: The value, or ``None`` (anything goes).
        """
        if not requires_python or not requires_python.strip():
            return True
        try:
            specifier = SpecifierSet(requires_python)
        except InvalidSpecifier:
            return True
        return specifier.contains(self.python_full_version, prereleases=True)

    def evaluate(self, marker: Marker | None, extra: str = "") -> bool:
        """
        Whether an environment marker holds for this target.

        :param marker: The marker; ``None`` always holds.
        :param extra: The value of ``extra``: the extra being installed, or
            ``""`` for the project itself.
        """
        if marker is None:
            return True
        return marker.evaluate({**self.environment, "extra": extra})

    def describe(self) -> str:
        """
        A short description, e.g. ``CPython 3.11 on win_amd64``.
        """
        where = self.platform or (
            f"this machine ({self.environment.get('sys_platform', '?')}"
            f" {self.environment.get('platform_machine', '?')})"
        )
        return f"CPython {self.python_version} on {where}"


def full_python_version(text: str) -> str:
    """
    A Python version as ``major.minor.micro``: ``3.11`` is ``3.11.0``.

    :param text: ``X.Y`` or ``X.Y.Z``, Python 3.
    :raises ValueError: With a readable message, for anything else.
    """
    match = _PYTHON.fullmatch(text.strip())
    if match is None or match.group(1) != "3":
        raise ValueError(
            f"{text!r} is not a Python 3 version; use X.Y or X.Y.Z, e.g. 3.11"
        )
    major, minor, micro = match.group(1), match.group(2), match.group(3) or "0"
    return f"{int(major)}.{int(minor)}.{int(micro)}"


def _here_platforms() -> Iterable[str]:
    """The platform parts of this machine's tags, most preferred first."""
    seen: dict[str, None] = {}
    for tag in sys_tags():
        if tag.platform != "any":
            seen.setdefault(tag.platform)
    return seen


def _unknown_platform(platform: str) -> ValueError:
    """The error for a platform tag that is not understood."""
    return ValueError(
        f"{platform!r} is not a platform tag this tool understands; use one of"
        f" {PLATFORM_SYNTAX}"
    )


def _glibc_platforms(minor: int, arch: str) -> list[str]:
    """``manylinux`` tags for glibc 2.``minor`` and older, with legacy aliases."""
    oldest = 5 if arch in ("x86_64", "i686") else 17
    platforms: list[str] = []
    for glibc in range(minor, oldest - 1, -1):
        platforms.append(f"manylinux_2_{glibc}_{arch}")
        for legacy, legacy_minor in _LEGACY_MANYLINUX.items():
            if legacy_minor == glibc:
                platforms.append(f"{legacy}_{arch}")
    return platforms


def _normalized(platform: str) -> str:
    """``platform`` stripped, a legacy ``manylinux2014_x`` as ``manylinux_2_17_x``."""
    platform = platform.strip()
    legacy, _, arch = platform.partition("_")
    if legacy in _LEGACY_MANYLINUX and arch:
        return f"manylinux_2_{_LEGACY_MANYLINUX[legacy]}_{arch}"
    return platform


def compatible_platforms(platform: str) -> list[str]:
    """
    Every platform tag a machine described by ``platform`` installs, most
    preferred first: a ``manylinux_2_28`` machine also takes ``manylinux_2_17``
    and ``manylinux2014`` wheels, a macOS 11 one also takes older macOS wheels.

    :param platform: A platform tag, see :data:`PLATFORM_SYNTAX`.
    :raises ValueError: If the tag is not understood.
    """
    platform = _normalized(platform)
    if (match := _MANYLINUX.fullmatch(platform)) and match.group(1) == "2":
        arch = match.group(3)
        return [*_glibc_platforms(int(match.group(2)), arch), f"linux_{arch}"]
    if match := _MUSLLINUX.fullmatch(platform):
        major, minor, arch = int(match.group(1)), int(match.group(2)), match.group(3)
        musl = [f"musllinux_{major}_{m}_{arch}" for m in range(minor, -1, -1)]
        return [*musl, f"linux_{arch}"]
    if match := _MACOSX.fullmatch(platform):
        version = (int(match.group(1)), int(match.group(2)))
        return list(mac_platforms(version, match.group(3)))
    if platform in _WINDOWS_MACHINES or _LINUX.fullmatch(platform):
        return [platform]
    raise _unknown_platform(platform)


def platform_environment(platform: str) -> dict[str, str]:
    """
    The platform part of the marker environment of a machine described by a
    platform tag: ``sys_platform``, ``platform_system``, ``platform_machine``
    and ``os_name`` (``platform_release`` and ``platform_version`` are empty).

    :param platform: A platform tag, see :data:`PLATFORM_SYNTAX`.
    :raises ValueError: If the tag is not understood.
    """
    compatible_platforms(platform)  # validates
    platform = _normalized(platform)
    environment = {"platform_release": "", "platform_version": ""}
    if platform in _WINDOWS_MACHINES:
        return environment | {
            "sys_platform": "win32",
            "platform_system": "Windows",
            "platform_machine": _WINDOWS_MACHINES[platform],
            "os_name": "nt",
        }
    if match := _MACOSX.fullmatch(platform):
        arch = match.group(3)
        return environment | {
            "sys_platform": "darwin",
            "platform_system": "Darwin",
            "platform_machine": _MAC_MACHINES.get(arch, arch),
            "os_name": "posix",
        }
    linux = _LINUX.fullmatch(platform)
    match = linux or _MANYLINUX.fullmatch(platform) or _MUSLLINUX.fullmatch(platform)
    assert match is not None  # compatible_platforms accepted it
    return environment | {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": match.group(1 if linux else 3),
        "os_name": "posix",
    }
