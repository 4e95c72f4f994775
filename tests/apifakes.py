"""
Fakes for the JSON API and cache-control tests: a fake index that also serves
PyPI's JSON API, and a :class:`MemoryProxy` whose tree has ``/pypi/`` and,
with an admin token, ``/-/cache/``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from attrs import define, evolve, field
from treq.testing import RequestTraversalAgent
from twisted.python.filepath import FilePath
from twisted.web.server import NOT_DONE_YET, Request

from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy
from twisted_pypi.app.compose import proxy_root
from twisted_pypi.app.filefetch import file_fetcher
from twisted_pypi.web.site import ProxySite


def _version(f: FakeFile) -> str:
    return f.wheel.filename.split("-")[1]


def _requires(f: FakeFile) -> list[str]:
    lines = f.wheel.metadata.decode().splitlines()
    return [
        line.split(": ", 1)[1] for line in lines if line.startswith("Requires-Dist: ")
    ]


@define
class JsonFakeIndex(FakeIndex):
    """
    A fake index that also answers ``/pypi/<project>/json`` and
    ``/pypi/<project>/<version>/json`` the way PyPI does, with absolute file
    URLs on this index's host.

    :ivar extra_files: Further file objects put into every ``urls`` and
        ``releases`` list (files the simple page does not list, unsafe URLs).
    :ivar serial: The ``X-PyPI-Last-Serial`` sent.
    :ivar prefix: A path the index lives under (``/root`` for an index at
        ``/root/+simple/``, which has no JSON API): it is removed from every
        request's path, and ``+simple`` read as ``simple``.
    """

    extra_files: list[Any] = field(factory=list)
    serial: int = 7
    prefix: str = ""

    def render(self, request: Request) -> bytes | int:
        if self.prefix and request.path.startswith(self.prefix.encode()):
            moved = request.path[len(self.prefix) :].replace(b"/+simple/", b"/simple/")
            request.path = moved
        path = request.path.decode()
        parts = path.strip("/").split("/")
        if parts[0] != "pypi":
            return super().render(request)
        self.requests.append((request.method.decode(), path))
        if path in self.fail:
            request.setResponseCode(self.fail[path])
            return b"failure"
        if path in self.hold_paths:
            self.held.append(request)
            return NOT_DONE_YET
        if len(parts) not in (3, 4) or parts[-1] != "json":
            request.setResponseCode(404)
            return b"not found"
        files = self.projects.get(parts[1])
        version = parts[2] if len(parts) == 4 else None
        if files is None or (version and version not in map(_version, files)):
            request.setResponseCode(404)
            return b'{"message": "Not Found"}'
        body = json.dumps(self.document(parts[1], version)).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        request.setHeader(b"etag", etag.encode())
        request.setHeader(b"x-pypi-last-serial", str(self.serial).encode())
        if request.getHeader(b"if-none-match") == etag.encode():
            request.setResponseCode(304)
            return b""
        request.setHeader(b"content-type", b"application/json")
        return body

    def document(self, name: str, version: str | None) -> dict[str, Any]:
        """
        The JSON API document of a project, or of one of its versions.
        """
        files = self.projects[name]
        versions = sorted({_version(f) for f in files})
        shown = version or versions[-1]
        first = next(f for f in files if _version(f) == shown)
        info = {
            "name": name,
            "version": shown,
            "summary": f"The {name} project",
            "requires_dist": _requires(first) or None,
            "requires_python": first.requires_python,
            "yanked": False,
        }
        document: dict[str, Any] = {
            "info": info,
            "last_serial": self.serial,
            "urls": [self._file_object(f) for f in files if _version(f) == shown]
            + self.extra_files,
            "vulnerabilities": [],
        }
        if version is None:
            document["releases"] = {
                v: [self._file_object(f) for f in files if _version(f) == v]
                + self.extra_files
                for v in versions
            }
        return document

    def _file_object(self, f: FakeFile) -> dict[str, Any]:
        return {
            "filename": f.wheel.filename,
            "url": f"http://upstream.test/packages/{f.wheel.filename}",
            "digests": {
                "sha256": f.sha256,
                "md5": hashlib.md5(f.wheel.content).hexdigest(),
            },
            "packagetype": "bdist_wheel",
            "python_version": "py3",
            "requires_python": f.requires_python,
            "size": f.size,
            "yanked": False,
        }


class ApiProxy(MemoryProxy):
    """
    A :class:`MemoryProxy` whose tree also has the JSON API and, when
    ``admin_token`` is given, cache control.
    """

    def __init__(
        self,
        index: FakeIndex,
        cache_dir: FilePath[str],
        *,
        admin_token: str | None = None,
        **kwargs: Any,
    ) -> None:
        """
        :param index: The fake upstream.
        :param cache_dir: The proxy's cache directory.
        :param admin_token: The proxy's ``--admin-token``.
        :param kwargs: Passed on to :class:`MemoryProxy`.
        """
        super().__init__(index, cache_dir, **kwargs)
        self.config = evolve(self.config, admin_token=admin_token)
        fetch = file_fetcher(self._file_agent, self.clock, self.config.connect_timeout)
        self.root = proxy_root(
            self.config, self.all_pages, self.cache, self.downloads, fetch,
            self.local_indexes, stats=self.stats, json_client=self._page_client,
            metadata=self.metadata.files if self.metadata else None,
        )  # fmt: skip
        self._client_agent = RequestTraversalAgent(self.root)
        self._client_agent._serverFactory = ProxySite(
            self.root, self.clock, self.stats,
            reactor=self._client_agent._memoryReactor,
        )  # fmt: skip
