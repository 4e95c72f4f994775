"""
The upload forms twine and uv send, for the tests of the upload API: fields,
``multipart/form-data`` bodies, and sdists with a chosen ``PKG-INFO``.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterable

from tests.wheels import BuiltWheel, build_sdist, build_wheel

__all__ = [
    "BOUNDARY",
    "CONTENT_TYPE",
    "SDIST",
    "WHEEL",
    "form",
    "sdist_with",
    "twine_fields",
    "upload_body",
]

BOUNDARY = b"8b1e5ea1a7e3e9c24b9e"
WHEEL = build_wheel("Demo.Pkg", "1.0")
SDIST = build_sdist("demo-pkg", "1.0")

#: The ``Content-Type`` of the bodies :func:`form` writes.
CONTENT_TYPE = b"multipart/form-data; boundary=" + BOUNDARY


def twine_fields(dist: BuiltWheel, **changes: str | None) -> list[tuple[str, str]]:
    """
    The fields twine sends with ``dist``, changed or (``None``) left out.
    """
    wheel = dist.filename.endswith(".whl")
    fields: dict[str, str | None] = {
        "name": "Demo.Pkg",
        "version": "1.0",
        "filetype": "bdist_wheel" if wheel else "sdist",
        "pyversion": "py3" if wheel else "source",
        "metadata_version": "2.1",
        "sha256_digest": dist.sha256,
        "blake2_256_digest": hashlib.blake2b(dist.content, digest_size=32).hexdigest(),
        ":action": "file_upload",
        "protocol_version": "1",
    }
    fields.update(changes)
    return [(k, v) for k, v in fields.items() if v is not None]


def form(fields: Iterable[tuple[str, str]], file: tuple[str, bytes] | None) -> bytes:
    """
    A ``multipart/form-data`` body with ``fields`` and then ``file`` (named
    ``content``), as requests-toolbelt writes it.
    """
    out = b""
    for name, value in fields:
        out += b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (
            BOUNDARY, name.encode(), value.encode()
        )  # fmt: skip
    if file is not None:
        out += (
            (
                b'--%s\r\nContent-Disposition: form-data; name="content"; '
                b'filename="%s"\r\nContent-Type: application/octet-stream\r\n\r\n'
                % (BOUNDARY, file[0].encode())
            )
            + file[1]
            + b"\r\n"
        )
    return out + b"--%s--\r\n" % BOUNDARY


def upload_body(dist: BuiltWheel, **changes: str | None) -> bytes:
    """
    What twine sends to upload ``dist``.
    """
    return form(twine_fields(dist, **changes), (dist.filename, dist.content))


def sdist_with(pkg_info: bytes, filename: str, zipped: bool = False) -> BuiltWheel:
    """
    An sdist named ``filename`` holding ``pkg_info`` as its ``PKG-INFO``,
    and a ``pyproject.toml`` (twine wants one top directory, not one file).
    """
    top = filename.removesuffix(".zip").removesuffix(".tar.gz")
    members = {f"{top}/PKG-INFO": pkg_info, f"{top}/pyproject.toml": b"[project]\n"}
    buffer = io.BytesIO()
    if zipped:
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name, data in members.items():
                entry = tarfile.TarInfo(name)
                entry.size = len(data)
                tar.addfile(entry, io.BytesIO(data))
    return BuiltWheel(filename, buffer.getvalue(), pkg_info)
