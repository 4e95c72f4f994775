# -*- test-case-name: tests.web.test_jsonapi -*-
"""
``/pypi/<project>/json`` and ``/pypi/<project>/<version>/json``: PyPI's JSON
API (not a standard; see standards.md A.10), passed through from the index
that serves the project, with every file URL rewritten to the proxy.

The index is the one the router picks for the project's simple page, so the
rewritten URLs are ``/files/`` URLs of that index, which the proxy serves
because that index's page lists them.  A file the page does not list, or whose
URL cannot be mapped safely, is dropped from the document.  Only indexes whose
URL ends in ``/simple/`` are asked (their JSON API is at ``.../pypi/``, as on
PyPI); for the others, for local indexes and for ``--dummy`` projects, the
answer is 404.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import urljoin

from twisted.internet.defer import Deferred
from twisted.web.http import NOT_FOUND
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_pypi.core.links import link_segments, local_path, local_segments
from twisted_pypi.core.lookup import (
    CacheStatus,
    LookupFailed,
    PageEntry,
    ProjectNotFound,
)
from twisted_pypi.core.names import is_valid_project_name, normalize
from twisted_pypi.core.rendition import Rendition
from twisted_pypi.core.runner import Runner, run_now
from twisted_pypi.pypijson.cache import JsonCache, JsonLookup, json_api_base
from twisted_pypi.sources.policyview import PolicyView, ProjectDenied
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.sources.router import Router
from twisted_pypi.storage.jsonstore import JsonDocument
from twisted_pypi.web.errors import answer_failure
from twisted_pypi.web.respond import accepts_gzip, error_page, when_done
from twisted_pypi.web.simple import send_rendition

__all__ = ["JSON_PREFIX", "JsonApiResource", "rendition", "rewrite"]

#: The first segment of the JSON API's URLs.
JSON_PREFIX = "pypi"

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.!+_-]{0,127}$")


def rewrite(
    data: Mapping[str, Any],
    document_url: str,
    page: PageEntry,
    prefix: str,
    drop_emptied: bool = False,
) -> dict[str, Any]:
    """
    A JSON API document with the URL of every file (in ``urls`` and in each
    list of ``releases``) pointing at the proxy; files the index's page does
    not list, or that cannot be mapped, are dropped.

    :param data: The upstream document.
    :param document_url: Where the upstream serves it (relative file URLs
        resolve against it).
    :param page: The project's page on the same index.
    :param prefix: What goes before ``files/...``: the proxy's base URL, or a
        relative path up to the proxy's root.
    :param drop_emptied: Leave out the releases that had files and kept
        none (the page is the policy's view: every file held back).
    """
    index = page.index.name

    def files(listed: object) -> list[Any]:
        kept = []
        for item in listed if isinstance(listed, list) else ():
            url = item.get("url") if isinstance(item, dict) else None
            if not isinstance(url, str):
                continue
            absolute = urljoin(document_url, url)
            segments = local_segments(index, absolute)
            dist = page.file_at(segments) if segments is not None else None
            link = link_segments(index, dist.project, absolute) if dist else None
            if link is None:
                continue
            kept.append({**item, "url": prefix + local_path(link)})
        return kept

    result = dict(data)
    if "urls" in data:
        result["urls"] = files(data["urls"])
    releases = data.get("releases")
    if isinstance(releases, dict):
        kept = {v: (files(listed), listed) for v, listed in releases.items()}
        result["releases"] = {
            v: files_of
            for v, (files_of, listed) in kept.items()
            if files_of or not (drop_emptied and listed)
        }
    return result


def _ready(
    document: JsonDocument, page: PageEntry, prefix: str, gzipped: bool
) -> Rendition | None:
    """
    The rewritten document if it is made (and compressed when ``gzipped``).
    """
    made = document.renditions.get(prefix)
    if made is None or made[0] is not page:
        return None
    if gzipped and not made[1].has_gzipped:
        return None
    return made[1]


def _make(
    document: JsonDocument,
    page: PageEntry,
    prefix: str,
    gzipped: bool,
    drop_emptied: bool = False,
) -> Rendition:
    """
    Make the rewritten document (and its gzipped form when ``gzipped``):
    blocking, run by the runner.
    """
    made = rendition(document, page, prefix, drop_emptied)
    if gzipped:
        made.gzipped  # noqa: B018 -- computed and kept on the rendition
    return made


def rendition(
    document: JsonDocument, page: PageEntry, prefix: str, drop_emptied: bool = False
) -> Rendition:
    """
    The rewritten document, made once per (upstream document, page, prefix).

    :param document: The cached upstream document.
    :param page: The project's page on the same index.
    :param prefix: See :func:`rewrite`.
    :param drop_emptied: See :func:`rewrite`.
    """
    made = document.renditions.get(prefix)
    if made is not None and made[0] is page:
        return made[1]
    body = json.dumps(
        rewrite(document.data, document.url, page, prefix, drop_emptied),
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    result = Rendition.of(body)
    document.renditions[prefix] = (page, result)
    return result


class JsonApiResource(Resource):
    """
    ``/pypi/``: JSON API documents.
    """

    isLeaf = True

    def __init__(
        self,
        router: Router,
        pages: Mapping[str, PageCache],
        documents: JsonCache,
        base_url: str | None,
        run: Runner = run_now,
        view: PolicyView | None = None,
    ) -> None:
        """
        :param router: Picks the index of a project (or its dummy, which has
            no JSON API).
        :param pages: The page cache of each remote index, by name.
        :param documents: The cache of upstream documents.
        :param base_url: The proxy's external URL, or ``None`` for file URLs
            relative to the document.
        :param run: Rewrites, serializes and compresses documents away from
            the reactor.
        :param view: The supply-chain policy, if one is active: the files
            it holds back are left out of the documents.
        """
        super().__init__()
        self._router = router
        self._pages = pages
        self._documents = documents
        self._base_url = base_url
        self._run = run
        self._view = view

    def render_GET(self, request: Request) -> bytes | int:
        parts = list(request.postpath or [])
        if parts and parts[-1] == b"" and len(parts) > 2:
            parts.pop()
        try:
            names = [p.decode("utf-8") for p in parts]
        except UnicodeDecodeError:
            names = []
        if len(names) not in (2, 3) or names[-1] != "json":
            return error_page(request, NOT_FOUND, "No such JSON document.")
        name, version = names[0], names[1] if len(names) == 3 else None
        if not is_valid_project_name(name):
            return error_page(request, NOT_FOUND, "No such project.")
        project = normalize(name)
        if version is not None and not _VERSION.match(version):
            return error_page(request, NOT_FOUND, _no_version(project, version))
        depth = len(request.path.split(b"/")) - 2
        prefix = self._base_url if self._base_url is not None else "../" * depth
        work = Deferred.fromCoroutine(self._serve(request, project, version, prefix))
        work.addErrback(answer_failure, request)
        when_done(request, work, "JSON document")
        return NOT_DONE_YET

    async def _serve(
        self, request: Request, project: str, version: str | None, prefix: str
    ) -> None:
        view = self._view
        denied = view.denied(project) if view is not None else None
        if denied is not None and denied.held:
            raise ProjectDenied(project, denied)
        found = await self._router.get_project(project)
        if found.status is CacheStatus.DUMMY:
            error_page(
                request,
                NOT_FOUND,
                f"{project} is a dummy project here: it has no JSON API.",
                finish=True,
            )
            return
        for name in found.entry.index.name.split("+"):
            pages = self._pages.get(name)
            if pages is None or json_api_base(pages.index.url) is None:
                continue
            try:
                page = await (await pages.get_project(project)).loaded()
            except LookupFailed:
                continue
            if view is not None:
                page = await view.shown_project(page)
            try:
                lookup = await self._documents.get(pages.index, project, version)
            except ProjectNotFound:
                if version is None:
                    raise
                message = _no_version(project, version)
                error_page(request, NOT_FOUND, message, finish=True)
                return
            gzipped = accepts_gzip(request)
            document, entry = lookup.document, page.entry
            made = _ready(document, entry, prefix, gzipped)
            if made is None:
                made = await self._run(
                    partial(_make, document, entry, prefix, gzipped, view is not None)
                )
            _send(request, lookup, made, page.entry)
            return
        error_page(
            request,
            NOT_FOUND,
            f"The index of {project} has no JSON API.",
            finish=True,
        )


def _no_version(project: str, version: str) -> str:
    """
    What a 404 says for a version the project does not have.
    """
    return f"No version {version} of project {project}."


def _send(
    request: Request, lookup: JsonLookup, made: Rendition, page: PageEntry
) -> None:
    """
    Answer with a document, rewritten for the proxy.
    """
    document = lookup.document
    request.setHeader(b"content-type", b"application/json")
    request.setHeader(b"x-cache", lookup.status.value.encode())
    request.setHeader(b"x-pypi-index", page.index.name.encode())
    request.setHeader(b"vary", b"Accept-Encoding")
    if document.serial is not None:
        request.setHeader(b"x-pypi-last-serial", document.serial.encode("latin-1"))
    send_rendition(request, made, lookup.status, page.index.ttl)
