# -*- test-case-name: tests.mirror.test_warm -*-
"""
What ``pypiproxy warm`` is asked to warm: requirements files in pip's
format, and the build requirements of source distributions.

A requirements file holds one requirement per line (``name[extras]
specifiers ; marker``), ``#`` comments, lines continued with a trailing
backslash, and ``-r``/``--requirement`` includes (relative to the including
file).  Index options (``--index-url``, ``--extra-index-url``,
``--find-links``, ``--no-index``, ``--trusted-host``) are ignored with a
warning, since the warm command's own ``--index`` options choose the
indexes; ``--hash`` options of a requirement are dropped (files are checked
against the index's hashes).  Any other pip option, and requirements that
name a URL or a path instead of an index project, are refused with the file
and line.
"""

from __future__ import annotations

import io
import os
import re
import shlex
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

from attrs import frozen
from packaging.requirements import InvalidRequirement, Requirement

__all__ = [
    "DEFAULT_BUILD_REQUIRES",
    "INDEX_OPTIONS",
    "Requirements",
    "RequirementsError",
    "build_requirements",
    "parse_requirement_args",
    "parse_requirements_file",
    "toml_loads",
]

#: Reads TOML: the standard library's from Python 3.11, else ``tomli`` if
#: installed (without it, build requirements are not read on Python 3.10).
toml_loads: Callable[[str], dict[str, Any]] | None
if sys.version_info >= (3, 11):
    import tomllib

    toml_loads = tomllib.loads
else:  # pragma: no cover - Python 3.10
    try:
        from tomli import loads as toml_loads
    except ImportError:
        toml_loads = None

#: Options that choose indexes: the warm command's ``--index`` does that.
INDEX_OPTIONS = frozenset(
    ["-i", "--index-url", "--extra-index-url", "--no-index", "-f", "--find-links"]
    + ["--trusted-host"]
)

#: Those of them that take no value.
_NO_VALUE = frozenset(["--no-index"])

#: What pip builds an sdist with when it does not say (no ``pyproject.toml``
#: or no ``[build-system]`` table).
DEFAULT_BUILD_REQUIRES = ("setuptools>=40.8.0", "wheel")

_COMMENT = re.compile(r"(^|\s+)#.*$")
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2")
_LINE_OPTION = re.compile(r"\s--?[A-Za-z]")
_PYPROJECT = re.compile(r"[^/]+/pyproject\.toml")


class RequirementsError(ValueError):
    """
    A requirements file cannot be used; the message names the file and line.
    """


@frozen
class Requirements:
    """
    What requirements files ask for.

    :ivar requirements: The requirements, in order.
    :ivar warnings: Lines that were ignored, and why.
    """

    requirements: tuple[Requirement, ...]
    warnings: tuple[str, ...] = ()


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """
    The lines of a requirements file with continuations joined and comments
    removed, each with the number of its first physical line; blank lines
    are left out.
    """
    pending: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if line.endswith("\\") and not _COMMENT.search(line):
            pending.append(line[:-1])
            continue
        pending.append(line)
        joined = _COMMENT.sub("", "".join(pending)).strip()
        pending = []
        if joined:
            yield start, joined
    joined = _COMMENT.sub("", "".join(pending)).strip()
    if joined:
        yield start, joined


def _option(line: str) -> tuple[str, str | None]:
    """``("--requirement", "x.txt")`` for ``-r x.txt``, ``-rx.txt`` and alike."""
    if line.startswith("--"):
        name, _, value = line.partition("=")
        if not value:
            name, _, value = line.partition(" ")
    else:
        name, value = line[:2], line[2:]
    name, value = name.strip(), value.strip()
    if name == "-r":
        name = "--requirement"
    return name, value or None


def _requirement(text: str, where: str) -> Requirement:
    """
    One requirement line without its ``--hash`` options.

    :raises RequirementsError: For other options, URLs, paths and syntax
        errors.
    """
    start = _LINE_OPTION.search(text)
    spec = text[: start.start()].strip() if start else text
    words = shlex.split(text[start.start() :]) if start else []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "--hash":
            skip = True
        elif not word.startswith("--hash="):
            raise RequirementsError(
                f"{where}: the option {word.split('=')[0]} of a requirement is"
                " not supported by warm"
            )
    try:
        requirement = Requirement(spec)
    except InvalidRequirement as e:
        raise RequirementsError(
            f"{where}: {spec!r} is not a requirement: {e}"
        ) from None
    if requirement.url:
        raise RequirementsError(
            f"{where}: {spec!r} names a URL; warm fetches projects from the"
            " indexes only"
        )
    return requirement


def parse_requirements_file(path: str) -> Requirements:
    """
    Read a requirements file and the files it includes.

    :param path: The file.
    :raises RequirementsError: If a file cannot be read, includes itself,
        or holds something warm cannot use.
    """
    found: list[Requirement] = []
    warnings: list[str] = []
    _read(os.path.abspath(path), found, warnings, ())
    return Requirements(tuple(found), tuple(warnings))


def _read(
    path: str,
    found: list[Requirement],
    warnings: list[str],
    including: tuple[str, ...],
) -> None:
    """Add the requirements of ``path`` (and its includes) to ``found``."""
    if path in including:
        raise RequirementsError(f"{including[-1]}: including {path} makes a loop")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        where = f"{including[-1]}: " if including else ""
        raise RequirementsError(f"{where}cannot read {path}: {e}") from None
    for number, line in _logical_lines(text):
        where = f"{path}:{number}"
        if not line.startswith("-"):
            if "@" not in line and (
                line.startswith((".", "/", "~")) or line.endswith(_ARCHIVES)
            ):
                raise RequirementsError(
                    f"{where}: {line!r} is a path; warm fetches projects from"
                    " the indexes only"
                )
            found.append(_requirement(line, where))
            continue
        name, value = _option(line)
        if name == "--requirement" and value:
            included = os.path.join(os.path.dirname(path), value)
            _read(os.path.normpath(included), found, warnings, (*including, path))
        elif name in INDEX_OPTIONS and (value or name in _NO_VALUE):
            warnings.append(
                f"{where}: ignored {name}: the indexes are the ones given to warm"
                " (--index, --local)"
            )
        else:
            raise RequirementsError(
                f"{where}: the pip option {name} is not supported by warm"
                " (only requirements, -r includes and index options)"
            )


def parse_requirement_args(texts: tuple[str, ...]) -> tuple[Requirement, ...]:
    """
    Requirements given on the command line.

    :param texts: ``requests[socks]>=2.31``, ``torch ; sys_platform ==
        'linux'`` ...
    :raises RequirementsError: For one that is not a requirement of an
        index project.
    """
    return tuple(_requirement(text, "argument") for text in texts)


def build_requirements(data: bytes, filename: str) -> tuple[str, ...] | None:
    """
    What building an sdist needs installed first: its ``pyproject.toml``
    ``[build-system] requires``, or what pip assumes when there is none
    (:data:`DEFAULT_BUILD_REQUIRES`).  What a build backend adds at build
    time (``get_requires_for_build_wheel``) cannot be known without running
    it.

    :param data: The sdist (``.tar.gz`` or ``.zip``).
    :param filename: Its name.
    :return: The requirement strings, or ``None`` if the sdist or its
        ``pyproject.toml`` cannot be read.
    """
    try:
        text = _pyproject(data, filename)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError):
        return None
    if text is None:
        return DEFAULT_BUILD_REQUIRES
    if toml_loads is None:  # pragma: no cover - Python 3.10 without tomli
        return None
    try:
        system = toml_loads(text.decode("utf-8")).get("build-system")
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(system, dict):
        return DEFAULT_BUILD_REQUIRES
    requires = system.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        return None
    return tuple(requires)


def _pyproject(data: bytes, filename: str) -> bytes | None:
    """The top-level ``pyproject.toml`` of an sdist, ``None`` if it has none."""
    if filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if _PYPROJECT.fullmatch(info.filename):
                    return archive.read(info)
        return None
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
        for member in archive:
            if member.isfile() and _PYPROJECT.fullmatch(member.name):
                extracted = archive.extractfile(member)
                assert extracted is not None
                return extracted.read()
    return None
