"""
A fake upstream simple index: a twisted.web resource serving projects made of
real wheels, in JSON or HTML, that tests can count, break and pause.

Used in memory behind ``treq.testing.StubTreq`` and on 127.0.0.1 for the
end-to-end tests.
"""

from __future__ import annotations

import hashlib
import json
from html import escape
from typing import Any

from attrs import define, field
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from tests.wheels import BuiltWheel


@define
class FakeFile:
    """
    A file listed by the fake index.

    :ivar wheel: The wheel (content and metadata).
    :ivar yanked: ``False``, ``True`` or a reason.
    :ivar requires_python: The ``requires-python`` advertised.
    :ivar hash_override: A (wrong) sha256 to advertise instead of the real one.
    :ivar size_override: A (wrong) size to advertise instead of the real one.
    :ivar upload_time: The upload time advertised (JSON only).
    :ivar url: The URL the page gives for the file, such as one on another
        host [default: ``../../packages/<filename>``, this index's].
    :ivar ranged_wheel: What ``Range`` requests read instead of ``wheel``
        (a stale copy on a CDN, say), or ``None``.
    """

    wheel: BuiltWheel
    yanked: bool | str = False
    requires_python: str | None = None
    hash_override: str | None = None
    size_override: int | None = None
    upload_time: str = "2024-01-02T03:04:05.123456Z"
    url: str | None = None
    ranged_wheel: BuiltWheel | None = None

    @property
    def href(self) -> str:
        """
        The URL the page gives for the file.
        """
        return self.url or f"../../packages/{self.wheel.filename}"

    @property
    def sha256(self) -> str:
        """
        The sha256 the index advertises.
        """
        return self.hash_override or self.wheel.sha256

    @property
    def size(self) -> int:
        """
        The size the index advertises.
        """
        if self.size_override is not None:
            return self.size_override
        return len(self.wheel.content)


@define
class FakeIndex(Resource):
    """
    The fake index. ``mode`` is ``json``, ``html`` or ``html-no-type`` (HTML
    with no Content-Type header).

    Each request's path and ``Authorization`` header (or ``None``) are kept
    in ``authorizations``; when ``require_auth`` is set, a request without
    exactly that ``Authorization`` header is answered with 401.

    Requests for a path in ``fail`` are answered with that status; requests
    for a path in ``hold_paths``, and file requests while ``hold_files`` is
    set, are kept unanswered in ``held`` for the test to finish (a file
    request with a ``Range`` is never held while ``ranges`` is on).

    A project named in ``statuses`` has that PEP 792 status on its page; a
    ``quarantined`` one's page lists no files (as PEP 792 says).

    With ``metadata`` off, the pages advertise no core metadata (PEP 658)
    and ``.metadata`` files are 404.  With ``ranges`` on (the default), a
    file request with a ``Range`` of one range is answered 206 with those
    bytes (416 past the end), as static file servers do; else, or for any
    other ``Range``, the whole file is sent (200).  Every file request's
    method, path and ``Range`` header (or ``None``) are kept in
    ``file_log``; :attr:`ranged`, :meth:`ranged_reads` and
    :meth:`whole_downloads` read it.
    """

    projects: dict[str, list[FakeFile]] = field(factory=dict)
    mode: str = "json"
    requests: list[tuple[str, str]] = field(factory=list)
    fail: dict[str, int] = field(factory=dict)
    hold_files: bool = False
    held: list[Request] = field(factory=list)
    hold_paths: set[str] = field(factory=set)
    authorizations: list[tuple[str, str | None]] = field(factory=list)
    require_auth: str | None = None
    statuses: dict[str, str] = field(factory=dict)
    metadata: bool = True
    ranges: bool = True
    file_log: list[tuple[str, str, str | None]] = field(factory=list)
    isLeaf = True

    def __attrs_post_init__(self) -> None:
        Resource.__init__(self)

    def add(self, name: str, *files: FakeFile) -> None:
        """
        Add files to a project (created if new).
        """
        self.projects.setdefault(name, []).extend(files)

    def count(self, path: str, method: str = "GET") -> int:
        """
        How many requests were made for ``path``.
        """
        return sum(1 for m, p in self.requests if p == path and m == method)

    def whole_downloads(self, filename: str) -> int:
        """
        How many ``GET`` requests for ``filename`` asked for the whole file
        (no ``Range``).
        """
        path = f"/packages/{filename}"
        return sum(1 for m, p, r in self.file_log if (m, p, r) == ("GET", path, None))

    @property
    def ranged(self) -> list[tuple[str, str]]:
        """
        ``(path, Range header)`` of each file request that had a ``Range``.
        """
        return [(p, r) for _, p, r in self.file_log if r is not None]

    def ranged_reads(self, filename: str) -> int:
        """
        How many requests for ``filename`` asked for a range of it.
        """
        path = f"/packages/{filename}"
        return sum(1 for _, p, r in self.file_log if p == path and r is not None)

    def render(self, request: Request) -> bytes | int:
        path = request.path.decode()
        self.requests.append((request.method.decode(), path))
        authorization = request.getHeader(b"authorization")
        given = authorization.decode("latin-1") if authorization else None
        self.authorizations.append((path, given))
        if self.require_auth is not None and given != self.require_auth:
            request.setResponseCode(401)
            request.setHeader(b"www-authenticate", b'Basic realm="fake"')
            return b"unauthorized"
        if path in self.fail:
            request.setResponseCode(self.fail[path])
            return b"failure"
        if path in self.hold_paths:
            self.held.append(request)
            return NOT_DONE_YET
        parts = path.strip("/").split("/")
        if parts == ["simple"]:
            return self._list(request)
        if len(parts) == 2 and parts[0] == "simple" and parts[1] in self.projects:
            return self._page(request, parts[1])
        if len(parts) == 2 and parts[0] == "packages":
            return self._file(request, parts[1])
        request.setResponseCode(404)
        return b"not found"

    def _send(self, request: Request, body: bytes, ctype: str) -> bytes:
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.getHeader(b"if-none-match") == etag.encode():
            request.setResponseCode(304)
            return b""
        request.setHeader(b"etag", etag.encode())
        if ctype:
            request.setHeader(b"content-type", ctype.encode())
        return body

    def _list(self, request: Request) -> bytes:
        if self.mode == "json":
            body = json.dumps(
                {
                    "meta": {"api-version": "1.1"},
                    "projects": [{"name": n} for n in self.projects],
                }
            ).encode()
            return self._send(request, body, "application/vnd.pypi.simple.v1+json")
        links = "".join(f'<a href="{n}/">{n}</a>' for n in self.projects)
        body = f"<html><body>{links}</body></html>".encode()
        return self._send(request, body, "text/html")

    def _page(self, request: Request, name: str) -> bytes:
        status = self.statuses.get(name)
        files = [] if status == "quarantined" else self.projects[name]
        if self.mode == "json":
            entries: list[dict[str, Any]] = []
            for f in files:
                entry: dict[str, Any] = {
                    "filename": f.wheel.filename,
                    "url": f.href,
                    "hashes": {"sha256": f.sha256},
                    "size": f.size,
                    "upload-time": f.upload_time,
                }
                if self.metadata:
                    entry["core-metadata"] = {
                        "sha256": hashlib.sha256(f.wheel.metadata).hexdigest()
                    }
                if f.requires_python:
                    entry["requires-python"] = f.requires_python
                if f.yanked:
                    entry["yanked"] = f.yanked
                entries.append(entry)
            names = [f.wheel.filename for f in files]
            versions = sorted({n.split("-")[1] for n in names if "-" in n})
            page: dict[str, Any] = {
                "meta": {"api-version": "1.1", "_last-serial": 7},
                "name": name,
                "files": entries,
                "versions": versions,
            }
            if status is not None:
                page["project-status"] = {"status": status}
            body = json.dumps(page).encode()
            return self._send(request, body, "application/vnd.pypi.simple.v1+json")
        anchors = []
        for f in files:
            attrs = ""
            if f.requires_python:
                attrs += f' data-requires-python="{escape(f.requires_python)}"'
            if f.yanked:
                reason = f.yanked if isinstance(f.yanked, str) else ""
                attrs += f' data-yanked="{escape(reason)}"'
            if self.metadata:
                meta = hashlib.sha256(f.wheel.metadata).hexdigest()
                attrs += f' data-dist-info-metadata="sha256={meta}"'
            anchors.append(
                f'<a href="{escape(f.href)}#sha256={f.sha256}"{attrs}>'
                f"{f.wheel.filename}</a><br/>"
            )
        head = (
            f'<head><meta name="pypi:project-status" content="{escape(status)}"></head>'
            if status is not None
            else ""
        )
        body = (
            f"<!DOCTYPE html><html>{head}<body>{''.join(anchors)}</body></html>"
        ).encode()
        ctype = "" if self.mode == "html-no-type" else "text/html; charset=utf-8"
        return self._send(request, body, ctype)

    def _file(self, request: Request, filename: str) -> bytes | int:
        asked = request.getHeader(b"range")
        wanted = asked.decode("latin-1") if asked is not None else None
        self.file_log.append((request.method.decode(), request.path.decode(), wanted))
        for files in self.projects.values():
            for f in files:
                if filename == f.wheel.filename:
                    content = f.wheel.content
                    if self.ranges and wanted and f.ranged_wheel is not None:
                        content = f.ranged_wheel.content
                elif filename == f.wheel.filename + ".metadata" and self.metadata:
                    content = f.wheel.metadata
                else:
                    continue
                request.setHeader(b"content-type", b"application/octet-stream")
                if wanted is not None and self.ranges:
                    return _ranged(request, content, wanted)
                if self.hold_files and not filename.endswith(".metadata"):
                    request.setHeader(b"content-length", str(len(content)).encode())
                    self.held.append(request)
                    return NOT_DONE_YET
                return content
        request.setResponseCode(404)
        return b"no such file"


def _ranged(request: Request, content: bytes, asked: str) -> bytes:
    """
    Answer one byte range of ``content`` (``a-b``, ``a-`` or ``-n``) with
    206, or 416 when it starts past the end (or after its end); anything
    else with the whole file.  Written here independently of the proxy's own
    range code.
    """
    unit, _, spec = asked.partition("=")
    first, dash, last = spec.strip().partition("-")
    if unit.strip() != "bytes" or not dash or "," in spec or not (first or last):
        return content
    size = len(content)
    if not first:
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    if start >= size or start > end:
        request.setResponseCode(416)
        request.setHeader(b"content-range", f"bytes */{size}".encode())
        return b""
    request.setResponseCode(206)
    request.setHeader(b"content-range", f"bytes {start}-{end}/{size}".encode())
    return content[start : end + 1]
