# -*- test-case-name: tests.web.test_jsonapi -*-
"""
The cache of PyPI JSON API documents (``/pypi/<project>/json`` and
``/pypi/<project>/<version>/json`` of an upstream): in memory and on disk,
fresh for the index's TTL, revalidated with ``If-None-Match``, served stale
when the upstream fails.

Documents are kept exactly as the upstream sent them; :mod:`.jsonapi`
rewrites their file URLs when it serves them.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.core.lookup import (
    CacheStatus,
    ProjectNotFound,
    UpstreamUnavailable,
)
from twisted_pypi.core.runner import Runner, run_now
from twisted_pypi.sources.cachepolicy import CachePolicy, Served
from twisted_pypi.storage.jsonstore import JsonDocument, JsonStore, document_key
from twisted_pypi.upstream.client import PageClient, UpstreamError, fetch_page

__all__ = [
    "MEMORY_BYTES",
    "MEMORY_DOCUMENTS",
    "MEMORY_NOT_FOUND",
    "JsonCache",
    "JsonLookup",
    "JsonResponse",
    "fetch_json",
    "json_api_base",
]

log = Logger()

#: How many documents stay in memory.
MEMORY_DOCUMENTS = 256

#: Roughly how many bytes the documents in memory may take (a document is
#: reckoned at three times its body: the parsed data and a rendition).
MEMORY_BYTES = 64 << 20

#: How many "not found" answers are remembered (clients choose the versions
#: asked for); past it, the least recently remembered are forgotten.
MEMORY_NOT_FOUND = 4096


def json_api_base(index_url: str) -> str | None:
    """
    The base URL of an index's JSON API, where PyPI (Warehouse) keeps it: the
    index's ``.../simple/`` becomes ``.../pypi/``.

    :param index_url: The simple index URL, ending in ``/``.
    :return: The base URL, ending in ``/``, or ``None`` for an index whose URL
        does not end in ``/simple/`` (no JSON API is assumed there).
    """
    parts = urlsplit(index_url)
    if not parts.path.endswith("/simple/"):
        return None
    return urlunsplit(parts._replace(path=parts.path[: -len("simple/")] + "pypi/"))


@frozen
class JsonResponse:
    """
    An upstream's answer to a JSON API request.

    :ivar status: The HTTP status.
    :ivar body: The body; empty unless ``status`` is 200.
    :ivar etag: The ``ETag`` header, or ``None``.
    :ivar serial: The ``X-PyPI-Last-Serial`` header, or ``None``.
    """

    status: int
    body: bytes = b""
    etag: str | None = None
    serial: str | None = None


async def fetch_json(
    client: PageClient,
    clock: IReactorTime,
    url: str,
    *,
    etag: str | None,
    auth: tuple[str, str] | None,
    limit: int,
    connect_timeout: float,
    idle_timeout: float,
) -> JsonResponse:
    """
    GET a JSON API document.

    :raises UpstreamError: When no complete answer arrived (an
        :class:`UpstreamTimeout` when it was too slow).
    """
    response = await fetch_page(
        client,
        clock,
        url,
        etag=etag,
        auth=auth,
        accept="application/json",
        limit=limit,
        connect_timeout=connect_timeout,
        idle_timeout=idle_timeout,
    )
    return JsonResponse(response.status, response.body, response.etag, response.serial)


@frozen
class JsonLookup:
    """
    A document the cache answered with.

    :ivar document: The document.
    :ivar status: How the answer relates to the cache.
    :ivar failure: Why it is served stale, when the upstream failed.
    """

    document: JsonDocument
    status: CacheStatus = CacheStatus.MISS
    failure: UpstreamUnavailable | None = None


#: The key of a document in memory: the index's name and the document's key.
_Key = tuple[str, str]


class JsonCache:
    """
    JSON API documents of the remote indexes.
    """

    def __init__(
        self,
        config: ProxyConfig,
        client: PageClient,
        clock: IReactorTime,
        store: JsonStore,
        run: Runner = run_now,
    ) -> None:
        """
        :param config: Timeouts, limits and the stale wait.
        :param client: The HTTP client (the page client).
        :param clock: The time source for TTLs and timeouts.
        :param store: Where documents persist.
        :param run: Parses documents and reads and writes the stored ones
            away from the reactor (in a thread pool); by default at once.
        """
        self._run = run
        self._config = config
        self._client = client
        self._clock = clock
        self._store = store
        self._policy: CachePolicy[_Key, JsonDocument] = CachePolicy(
            clock,
            max_bytes=MEMORY_BYTES,
            max_entries=MEMORY_DOCUMENTS,
            weigh=lambda document: 3 * len(document.body),
            fetched_at=lambda document: document.fetched_at,
            max_missing=MEMORY_NOT_FOUND,
            stale_wait=config.stale_wait,
        )

    def get(
        self, index: IndexConfig, project: str, version: str | None = None
    ) -> Deferred[JsonLookup]:
        """
        A document: fresh from the cache, refreshed, or stale.

        :param index: The index; it must have a JSON API
            (:func:`json_api_base`).
        :param project: The normalized project name.
        :param version: The version, or ``None`` for the project's document.
        :return: Fires with the document, or fails with a
            :class:`~twisted_pypi.core.lookup.LookupFailed`.
        """
        base = json_api_base(index.url)
        assert base is not None
        path = f"{project}/json" if version is None else f"{project}/{version}/json"
        url = base + quote(path)
        return Deferred.fromCoroutine(
            self._get(index, document_key(project, version), url)
        )

    def invalidate(self, project: str) -> Deferred[int]:
        """
        Forget every document of a project, in memory and in the store (by
        the runner: a shared store's listing and deletes are round trips),
        on every index.

        :param project: The normalized project name.
        :return: A Deferred firing with how many documents were forgotten.
        """
        keys = {k for k in self._policy.keys() if k[1].split("@")[0] == project}
        for key in keys:
            self._policy.forget(key)
        removing: Deferred[set[_Key]] = self._run(
            lambda: {
                (index, key)
                for index in self._store.indexes()
                for key in self._store.remove_project(index, project)
            }
        )
        return removing.addCallback(lambda removed: len(keys | removed))

    async def _get(self, index: IndexConfig, key: str, url: str) -> JsonLookup:
        mkey = (index.name, key)
        document = self._policy.recall(mkey)
        if document is None:
            document = await self._run(lambda: self._store.load(index.name, key))
            if document is not None:
                self._policy.remember(mkey, document)
        served = await self._policy.answer(
            mkey,
            document,
            index.ttl,
            lambda old: Deferred.fromCoroutine(self._refresh(index, key, url, old)),
        )
        return JsonLookup(served.value, served.status, served.failure)

    async def _refresh(
        self, index: IndexConfig, key: str, url: str, old: JsonDocument | None
    ) -> Served[JsonDocument]:
        """
        Ask the upstream for a document.

        :raises ProjectNotFound: When the upstream has no such document (or
            what it sent is not one).
        :raises UpstreamUnavailable: When it gave no usable answer.
        """
        try:
            response = await fetch_json(
                self._client,
                self._clock,
                url,
                etag=old.etag if old is not None else None,
                auth=index.credentials,
                limit=self._config.max_page_size,
                connect_timeout=self._config.connect_timeout,
                idle_timeout=self._config.idle_timeout,
            )
        except UpstreamError as e:
            log.warn("Upstream failed for {url}: {error}", url=url, error=e)
            raise
        now = self._clock.seconds()
        if response.status == 304 and old is not None:
            old.fetched_at = now
            await self._run(lambda: self._store.save(index.name, key, old))
            return Served(old, CacheStatus.HIT)
        document = None
        if response.status == 200:
            try:
                document = await self._run(
                    lambda: JsonDocument.parse(
                        url, response.body, response.etag, response.serial, now
                    )
                )
            except ValueError:
                log.warn("{url} is not a JSON API document", url=url)
        elif response.status not in (404, 410):
            raise UpstreamUnavailable(f"{url} answered {response.status}")
        if document is None:
            await self._run(lambda: self._store.remove(index.name, key))
            raise ProjectNotFound(key)
        saved = document
        await self._run(lambda: self._store.save(index.name, key, saved))
        return Served(document, CacheStatus.MISS)
