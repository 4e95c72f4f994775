"""
Core metadata of distribution files: reading ``METADATA`` from a wheel or
``PKG-INFO`` from an sdist, checking hashes, and the dependencies it declares.
Pure functions over bytes; fetching lives in
:mod:`twisted_pypi.resolve.metadata`.
"""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import zipfile
from collections.abc import Mapping
from email.parser import BytesParser
from typing import IO, Protocol

from attrs import frozen
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from twisted_pypi.core.model import DistFile

__all__ = [
    "MAX_DOWNLOAD_SIZE",
    "MAX_METADATA_SIZE",
    "Dependencies",
    "MetadataError",
    "MetadataSource",
    "MetadataUnavailable",
    "check_hashes",
    "metadata_from_sdist",
    "metadata_from_wheel",
    "parse_dependencies",
]

#: The largest ``.metadata`` file (or metadata member of a file) accepted.
MAX_METADATA_SIZE = 16 << 20

#: The largest file downloaded only to read its metadata.
MAX_DOWNLOAD_SIZE = 100 << 20

_WHEEL_METADATA = re.compile(r"([^/]+)\.dist-info/METADATA")
_SDIST_PKG_INFO = re.compile(r"[^/]+/PKG-INFO")


class MetadataError(Exception):
    """
    A file's metadata could not be fetched or did not match its hash: the
    resolution cannot go on.
    """


class MetadataUnavailable(Exception):
    """
    A file's dependencies cannot be known (an sdist whose ``PKG-INFO`` does
    not reliably list them, a file too large to read); the resolution goes on
    without them and says so.
    """


class MetadataSource(Protocol):
    """
    Where a resolver gets the core metadata of a distribution file.
    """

    async def metadata(self, dist: DistFile) -> bytes:
        """
        The bytes of ``dist``'s core metadata (``METADATA`` or ``PKG-INFO``).

        :param dist: A file listed on a project page.
        :raises MetadataError: If it cannot be had.
        :raises MetadataUnavailable: If it cannot be had but the resolution
            may go on without it.
        """


@frozen
class Dependencies:
    """
    What a file's core metadata says it needs.

    :ivar requires: The ``Requires-Dist`` requirements that could be parsed.
    :ivar problems: Lines that could not be parsed, described.
    """

    requires: tuple[Requirement, ...]
    problems: tuple[str, ...] = ()


def _version(text: str | None) -> Version | None:
    """A ``Metadata-Version`` value as a version, ``None`` if invalid."""
    try:
        return Version(text or "")
    except InvalidVersion:
        return None


def parse_dependencies(data: bytes, *, sdist: bool = False) -> Dependencies:
    """
    The requirements listed in core metadata.

    For an sdist they are only trusted when the metadata is version 2.2 or
    newer and does not declare ``Requires-Dist`` dynamic (PEP 643), or when an
    older one lists some (an older one listing none may simply not say).

    :param data: The ``METADATA`` or ``PKG-INFO`` bytes.
    :param sdist: Whether they come from a source distribution.
    :raises MetadataUnavailable: When an sdist's list is not reliable.
    """
    message = BytesParser().parsebytes(data, headersonly=True)
    lines = [str(line) for line in message.get_all("Requires-Dist") or []]
    if sdist:
        version = _version(message.get("Metadata-Version"))
        dynamic = {str(d).strip().lower() for d in message.get_all("Dynamic") or []}
        if "requires-dist" in dynamic:
            raise MetadataUnavailable("the sdist declares its dependencies dynamic")
        if (version is None or version < Version("2.2")) and not lines:
            raise MetadataUnavailable(
                "the sdist's PKG-INFO (metadata older than 2.2) lists none,"
                " which may only mean it does not say"
            )
    requires: list[Requirement] = []
    problems: list[str] = []
    for line in lines:
        try:
            requires.append(Requirement(" ".join(line.split())))
        except InvalidRequirement as e:
            problems.append(f"ignored Requires-Dist {line!r}: {e}")
    return Dependencies(tuple(requires), tuple(problems))


def check_hashes(data: bytes, hashes: Mapping[str, str], what: str) -> None:
    """
    Compare ``data`` with every hash in ``hashes`` that :mod:`hashlib` always
    offers; unknown hash names are ignored.

    :param data: The bytes.
    :param hashes: Hash name to hex digest.
    :param what: What the bytes are, for the error message.
    :raises MetadataError: On a mismatch.
    """
    for name, expected in hashes.items():
        name = name.lower()
        if name not in hashlib.algorithms_guaranteed or name.startswith("shake"):
            continue
        actual = hashlib.new(name, data).hexdigest()
        if actual != expected.lower():
            raise MetadataError(
                f"{what} does not match its {name} hash: the index says"
                f" {expected}, the bytes have {actual}"
            )


def _check_size(size: int, what: str) -> None:
    """Refuse a metadata member larger than :data:`MAX_METADATA_SIZE`."""
    if size > MAX_METADATA_SIZE:
        raise MetadataUnavailable(f"{what} is larger than {MAX_METADATA_SIZE} bytes")


def metadata_from_wheel(data: bytes | IO[bytes], filename: str) -> bytes:
    """
    The ``METADATA`` inside a wheel.

    :param data: The wheel's bytes, or the wheel opened for reading (only
        its directory and ``METADATA`` are read).
    :param filename: The wheel's filename, to choose among ``.dist-info``
        directories and for messages.
    :raises MetadataUnavailable: If the wheel is unreadable or has none.
    """
    project = canonicalize_name(filename.split("-")[0])
    try:
        source = io.BytesIO(data) if isinstance(data, bytes) else data
        with zipfile.ZipFile(source) as archive:
            found = [
                info
                for info in archive.infolist()
                if (match := _WHEEL_METADATA.fullmatch(info.filename))
                and canonicalize_name(match.group(1).split("-")[0]) == project
            ]
            if len(found) != 1:
                raise MetadataUnavailable(
                    f"{filename} has {len(found)} METADATA files for {project}"
                )
            _check_size(found[0].file_size, f"METADATA in {filename}")
            return archive.read(found[0])
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise MetadataUnavailable(f"{filename} is not a readable wheel: {e}") from e


def metadata_from_sdist(data: bytes, filename: str) -> bytes:
    """
    The top-level ``PKG-INFO`` inside an sdist (``.tar.gz`` or ``.zip``).

    :param data: The sdist's bytes.
    :param filename: Its filename, for the format and messages.
    :raises MetadataUnavailable: If it is unreadable or has none.
    """
    what = f"PKG-INFO in {filename}"
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    if _SDIST_PKG_INFO.fullmatch(info.filename):
                        _check_size(info.file_size, what)
                        return archive.read(info)
        else:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                for member in archive:
                    if member.isfile() and _SDIST_PKG_INFO.fullmatch(member.name):
                        _check_size(member.size, what)
                        extracted = archive.extractfile(member)
                        assert extracted is not None
                        return extracted.read()
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as e:
        raise MetadataUnavailable(f"{filename} is not a readable sdist: {e}") from e
    raise MetadataUnavailable(f"{filename} has no PKG-INFO")
