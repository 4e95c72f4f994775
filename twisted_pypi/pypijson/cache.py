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

from collections import OrderedDict
from urllib.parse import quote, urlsplit, urlunsplit

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_pypi.core.config import IndexConfig, ProxyConfig
from twisted_pypi.core.lookup import CacheStatus
from twisted_pypi.sources.remote import NEGATIVE_TTL
from twisted_pypi.storage.jsonstore import JsonDocument, JsonStore, document_key
from twisted_pypi.upstream.client import (
    PageClient,
    UpstreamError,
    UpstreamTimeout,
    fetch_page,
)

log = Logger()

#: How many documents stay in memory.
MEMORY_DOCUMENTS = 256

#: Roughly how many bytes the documents in memory may take (a document is
#: reckoned at three times its body: the parsed data and a rendition).
MEMORY_BYTES = 64 << 20

#: How many "not found" answers are remembered (clients choose the versions
#: asked for); past it, the expired ones are forgotten, then the oldest.
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
    The outcome of asking for a document.

    :ivar document: The document, or ``None`` when there is none to serve.
    :ivar status: How the answer relates to the cache.
    :ivar not_found: The upstream has no such document.
    :ivar error: Why the upstream could not be asked, when it could not.
    :ivar timeout: Whether that error was a timeout.
    """

    document: JsonDocument | None
    status: CacheStatus = CacheStatus.MISS
    not_found: bool = False
    error: str | None = None
    timeout: bool = False


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
    ) -> None:
        """
        :param config: Timeouts and limits.
        :param client: The HTTP client (the page client).
        :param clock: The time source for TTLs and timeouts.
        :param store: Where documents persist.
        """
        self._config = config
        self._client = client
        self._clock = clock
        self._store = store
        self._memory: OrderedDict[tuple[str, str], JsonDocument] = OrderedDict()
        self._weight = 0
        self._not_found: dict[tuple[str, str], float] = {}
        self._flights: dict[tuple[str, str], list[Deferred[JsonLookup]]] = {}

    def get(
        self, index: IndexConfig, project: str, version: str | None = None
    ) -> Deferred[JsonLookup]:
        """
        A document: fresh from the cache, refreshed, or stale.

        :param index: The index; it must have a JSON API
            (:func:`json_api_base`).
        :param project: The normalized project name.
        :param version: The version, or ``None`` for the project's document.
        """
        base = json_api_base(index.url)
        assert base is not None
        path = f"{project}/json" if version is None else f"{project}/{version}/json"
        url = base + quote(path)
        return Deferred.fromCoroutine(
            self._get(index, document_key(project, version), url)
        )

    def invalidate(self, project: str) -> int:
        """
        Forget every document of a project, in memory and on disk, on every
        index.

        :param project: The normalized project name.
        :return: How many documents were forgotten.
        """
        keys = {k for k in self._memory if k[1].split("@")[0] == project} | {
            k for k in self._not_found if k[1].split("@")[0] == project
        }
        for key in keys:
            self._drop(key)
            self._not_found.pop(key, None)
        removed = {
            (index, key)
            for index in self._store.indexes()
            for key in self._store.remove_project(index, project)
        }
        return len(keys | removed)

    def _drop(self, key: tuple[str, str]) -> None:
        dropped = self._memory.pop(key, None)
        if dropped is not None:
            self._weight -= 3 * len(dropped.body)

    def _remember(self, key: tuple[str, str], document: JsonDocument) -> None:
        self._drop(key)
        self._memory[key] = document
        self._weight += 3 * len(document.body)
        while len(self._memory) > 1 and (
            len(self._memory) > MEMORY_DOCUMENTS or self._weight > MEMORY_BYTES
        ):
            self._drop(next(iter(self._memory)))

    def _prune_not_found(self, now: float) -> None:
        """
        Keep the "not found" answers within :data:`MEMORY_NOT_FOUND`.
        """
        if len(self._not_found) <= MEMORY_NOT_FOUND:
            return
        for key, until in list(self._not_found.items()):
            if until <= now:
                del self._not_found[key]
        while len(self._not_found) > MEMORY_NOT_FOUND:
            del self._not_found[next(iter(self._not_found))]

    async def _get(self, index: IndexConfig, key: str, url: str) -> JsonLookup:
        mkey = (index.name, key)
        document = self._memory.get(mkey)
        if document is None:
            document = self._store.load(index.name, key)
            if document is not None:
                self._remember(mkey, document)
        else:
            self._memory.move_to_end(mkey)
        now = self._clock.seconds()
        if document is not None and now - document.fetched_at < index.ttl:
            return JsonLookup(document, CacheStatus.HIT)
        if document is None and self._not_found.get(mkey, -1.0) > now:
            return JsonLookup(None, not_found=True)
        # One refresh per document; each caller waits on its own Deferred, so
        # a caller that goes away cancels only its own wait.
        waiter: Deferred[JsonLookup] = Deferred()
        waiting = self._flights.get(mkey)
        if waiting is not None:
            waiting.append(waiter)
            return await waiter
        self._flights[mkey] = [waiter]

        def finish(result: JsonLookup | Failure) -> None:
            for d in self._flights.pop(mkey):
                if d.called:
                    continue
                if isinstance(result, Failure):
                    d.errback(result)
                else:
                    d.callback(result)

        Deferred.fromCoroutine(self._refresh(index, key, url, document)).addBoth(finish)
        return await waiter

    async def _refresh(
        self, index: IndexConfig, key: str, url: str, old: JsonDocument | None
    ) -> JsonLookup:
        mkey = (index.name, key)
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
            timeout = isinstance(e, UpstreamTimeout)
            if old is not None:
                return JsonLookup(old, CacheStatus.STALE, error=str(e), timeout=timeout)
            return JsonLookup(None, error=str(e), timeout=timeout)
        now = self._clock.seconds()
        if response.status == 304 and old is not None:
            old.fetched_at = now
            self._store.save(index.name, key, old)
            return JsonLookup(old, CacheStatus.HIT)
        document = None
        if response.status == 200:
            try:
                document = JsonDocument.parse(
                    url, response.body, response.etag, response.serial, now
                )
            except ValueError:
                log.warn("{url} is not a JSON API document", url=url)
        elif response.status not in (404, 410):
            error = f"{url} answered {response.status}"
            if old is not None:
                return JsonLookup(old, CacheStatus.STALE, error=error)
            return JsonLookup(None, error=error)
        if document is None:
            self._drop(mkey)
            self._store.remove(index.name, key)
            self._not_found[mkey] = now + min(index.ttl, NEGATIVE_TTL)
            self._prune_not_found(now)
            return JsonLookup(None, not_found=True)
        self._store.save(index.name, key, document)
        self._remember(mkey, document)
        self._not_found.pop(mkey, None)
        return JsonLookup(document, CacheStatus.MISS)
