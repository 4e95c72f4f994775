"""
Hand-driven stand-ins for an HTTP client and its responses, for tests that
need to decide exactly when an upstream answers; and :class:`MemoryProxy`,
the whole proxy in memory in front of a fake index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast
from urllib.parse import quote, urlsplit

from attrs import define, field, frozen
from treq import content
from treq.client import HTTPClient
from treq.testing import RequestTraversalAgent, StubTreq
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IProtocol, IReactorTime
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.web.client import ResponseDone
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgent, IBodyProducer, IResponse
from twisted.web.resource import IResource
from zope.interface import implementer

from tests.fakeindex import FakeIndex
from twisted_pypi.app.compose import proxy_root
from twisted_pypi.app.filefetch import file_fetcher
from twisted_pypi.app.metacompose import MetadataParts, core_metadata
from twisted_pypi.core.config import (
    IndexConfig,
    LocalConfig,
    ProxyConfig,
    index_name_for,
)
from twisted_pypi.core.dummyspec import DummySpec
from twisted_pypi.core.policy import Policy
from twisted_pypi.core.runner import run_now
from twisted_pypi.core.stats import Stats
from twisted_pypi.files.download import Downloads
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.sources.remote import PageCache, PageStore
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.upstream.stream import streaming
from twisted_pypi.web.site import ProxySite


@define
class _FakeRequest:
    absoluteURI: bytes


@define
class FakeTransport:
    """
    The body transport a response protocol sees; records ``stopProducing``.
    """

    stopped: bool = False

    def stopProducing(self) -> None:
        """
        Record that the consumer gave up on the body.
        """
        self.stopped = True

    def pauseProducing(self) -> None:
        """
        Pausing is not modelled.
        """

    def resumeProducing(self) -> None:
        """
        Resuming is not modelled.
        """


@define
class FakeResponse:
    """
    An ``IResponse`` whose body the test feeds by hand.
    """

    code: int = 200
    headers: Headers = field(factory=Headers)
    url: str = "http://upstream.test/"
    length: Any = None
    protocol: Protocol | None = None
    transport: FakeTransport = field(factory=FakeTransport)
    body: bytes | None = None

    @property
    def request(self) -> _FakeRequest:
        """
        The request that got this response, as treq exposes it.
        """
        return _FakeRequest(self.url.encode())

    def deliverBody(self, protocol: Protocol) -> None:
        """
        Remember the protocol and connect it to a fake transport.
        """
        self.protocol = protocol
        protocol.makeConnection(self.transport)
        if self.body is not None:
            self.write(self.body)
            self.finish()

    def write(self, data: bytes) -> None:
        """
        Deliver a piece of the body.
        """
        assert self.protocol is not None
        self.protocol.dataReceived(data)

    def finish(self, reason: Failure | None = None) -> None:
        """
        End the body, cleanly unless ``reason`` is given.
        """
        assert self.protocol is not None
        self.protocol.connectionLost(reason or Failure(ResponseDone()))


@define
class FakeClient:
    """
    A page client whose requests wait until the test answers them. Honours
    ``timeout`` the way treq does, by cancelling on the given reactor.
    """

    calls: list[tuple[str, dict[str, Any], Deferred[Any]]] = field(factory=list)

    def get(
        self,
        url: str,
        /,
        *,
        headers: dict[bytes | str, bytes | str],
        unbuffered: bool,
        timeout: float,
        reactor: IReactorTime,
        auth: tuple[str, str] | None = None,
    ) -> Deferred[Any]:
        """
        Record a GET and return its unanswered Deferred.
        """
        d: Deferred[Any] = Deferred()
        if timeout:
            call = reactor.callLater(timeout, d.cancel)

            def stop_timer(result: object) -> object:
                if call.active():
                    call.cancel()
                return result

            d.addBoth(stop_timer)
        kwargs = {
            "headers": headers,
            "unbuffered": unbuffered,
            "timeout": timeout,
            "auth": auth,
        }
        self.calls.append((url, kwargs, d))
        return d

    def answer(self, index: int, response: FakeResponse) -> None:
        """
        Answer request number ``index`` with ``response``.
        """
        self.calls[index][2].callback(response)


def page_response(
    body: bytes,
    *,
    code: int = 200,
    content_type: str | None = "application/vnd.pypi.simple.v1+json",
    etag: str | None = None,
    url: str = "http://upstream.test/simple/demo/",
) -> FakeResponse:
    """
    A response that delivers all of ``body`` as soon as it is asked for.
    """
    headers = Headers()
    if content_type is not None:
        headers.setRawHeaders(b"content-type", [content_type.encode()])
    if etag is not None:
        headers.setRawHeaders(b"etag", [etag.encode()])
    return FakeResponse(code=code, headers=headers, url=url, body=body)


@frozen
class Answer:
    """
    A complete HTTP response, as a client saw it.

    :ivar code: The status.
    :ivar headers: The response headers (Twisted's client moves
        ``Content-Length`` out of them, into ``length``).
    :ivar body: The body.
    :ivar length: The ``Content-Length``, or ``None`` if there was none.
    """

    code: int
    headers: Headers
    body: bytes
    length: int | None = None

    def header(self, name: str) -> str | None:
        """
        The last value of header ``name``, or ``None``.
        """
        values = self.headers.getRawHeaders(name)
        return values[-1] if values else None


def result_now(d: Deferred[Any]) -> Any:
    """
    The result ``d`` already has; raises its failure, or ``AssertionError``
    if it has none yet.
    """
    results: list[Any] = []
    d.addBoth(results.append)
    if not results:
        raise AssertionError(f"{d!r} has no result yet")
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]


@implementer(IAgent)
class HostAgent:
    """
    An agent that sends each request, in memory, to the resource of its URL's
    ``host[:port]`` (or to ``default``), recording what was asked for; a host
    it does not know, or mapped to ``None``, refuses the connection.

    :ivar requests: ``(method, url, headers)`` of every request.
    """

    def __init__(
        self, hosts: Mapping[str, IResource | None], default: IResource | None = None
    ) -> None:
        """
        :param hosts: The resource that answers for each ``host[:port]``.
        :param default: The resource that answers for any other host.
        """
        self._agents = {
            host: RequestTraversalAgent(r) for host, r in hosts.items() if r is not None
        }
        self._down = {host for host, r in hosts.items() if r is None}
        self._default = RequestTraversalAgent(default) if default is not None else None
        self.requests: list[tuple[str, str, Headers]] = []

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None = None,
        bodyProducer: IBodyProducer | None = None,
    ) -> Deferred[IResponse]:
        """
        Record the request and pass it to the host's resource.
        """
        url = uri.decode("ascii")
        copied = headers.copy() if headers is not None else Headers()
        self.requests.append((method.decode("ascii"), url, copied))
        netloc = urlsplit(url).netloc
        agent = (
            None if netloc in self._down else self._agents.get(netloc, self._default)
        )
        if agent is None:
            return fail(ConnectionRefusedError(url))
        d: Deferred[IResponse] = agent.request(method, uri, headers, bodyProducer)
        return d

    def flush(self) -> None:
        """
        Move every pending byte between the requests and the resources.
        """
        for agent in self._agents.values():
            agent.flush()
        if self._default is not None:
            self._default.flush()


class MemoryProxy:
    """
    The proxy's real resource tree in memory, in front of a ``FakeIndex``.

    Pages are fetched with a ``StubTreq`` over the index, files with the
    proxy's own ``file_fetcher`` over a ``RequestTraversalAgent`` of the
    index, and clients talk to the tree through the agent inside ``StubTreq``,
    a ``RequestTraversalAgent`` (not ``StubTreq`` itself, which always asks
    for gzip and decodes it), or with raw bytes over a ``StringTransport``
    (see :meth:`raw`). Time is a ``Clock``.

    With several upstreams (``more``, ``upstream`` or ``hosts`` given), pages
    and files are fetched through :class:`HostAgent` instances instead
    (``page_agent`` and ``file_agent``), each index answering at the host of
    its URL.

    :ivar index: The fake upstream.
    :ivar clock: The proxy's time.
    :ivar config: The proxy's settings.
    :ivar cache: The file cache.
    :ivar pages: The page cache of the first upstream.
    :ivar all_pages: The page caches of every upstream, by priority.
    :ivar local_indexes: The local indexes.
    :ivar stats: The running totals (requests, upstream fetches, dummies).
    :ivar downloads: The downloads in flight.
    :ivar metadata: The core metadata parts, with ``synthesized``.
    :ivar root: The resource tree.
    """

    #: The URL the upstream index is known by.
    UPSTREAM = "http://upstream.test/simple/"

    #: Where clients reach the proxy.
    ORIGIN = "http://proxy.test"

    def __init__(
        self,
        index: FakeIndex,
        cache_dir: FilePath[str],
        *,
        base_url: str | None = None,
        ttl: float = 100.0,
        dummies: tuple[DummySpec, ...] = (),
        upstream: IndexConfig | None = None,
        more: Sequence[tuple[IndexConfig, FakeIndex]] = (),
        hosts: Mapping[str, FakeIndex | None] | None = None,
        local: Sequence[LocalConfig] = (),
        routes: Mapping[str, str] | None = None,
        merge: frozenset[str] = frozenset(),
        cache_size: int | None = None,
        cache: FileCache | None = None,
        synthesized: bool = False,
        policy: Policy | None = None,
    ) -> None:
        """
        :param index: The fake upstream.
        :param cache_dir: The proxy's cache directory.
        :param base_url: The proxy's ``--base-url``.
        :param ttl: Seconds pages stay fresh.
        :param dummies: The proxy's ``--dummy`` projects.
        :param upstream: The first upstream's settings (name, URL, TTL,
            credentials) [default: :attr:`UPSTREAM` with ``ttl``].
        :param more: Further upstreams, by priority, each answering at the
            host of its URL.
        :param hosts: Further hosts (such as a CDN that pages link to) and
            the fake that answers for each (``None``: the host refuses
            connections, even if it is an upstream's).
        :param local: The proxy's ``--local`` directories.
        :param routes: The proxy's ``--route`` settings.
        :param merge: The proxy's ``--merge`` projects.
        :param cache_size: The proxy's ``--cache-size``.
        :param cache: The file store, if not a local one in ``cache_dir``
            (scanned here).
        :param synthesized: Give every wheel core metadata (as the service
            does), with a runner that runs at once.
        :param policy: The proxy's supply-chain policy [default: none].
        """
        self.index = index
        self.clock = Clock()
        self.clock.advance(1_000_000)
        if upstream is None:
            upstream = IndexConfig(index_name_for(self.UPSTREAM), self.UPSTREAM, ttl)
        indexes = (upstream, *(config for config, _ in more))
        self.config = ProxyConfig(
            listen=(),
            indexes=indexes,
            cache_dir=cache_dir.path,
            base_url=base_url,
            dummies=dummies,
            locals=tuple(local),
            routes=dict(routes or {}),
            merge=merge,
            cache_size=cache_size,
            policy=policy or Policy(),
        )
        self.stats = Stats(self.clock)
        self._page_client: Any
        self._file_agent: Any
        if upstream.url == self.UPSTREAM and not more and hosts is None:
            self._page_client = cast(Any, StubTreq(index))
            self._file_agent = RequestTraversalAgent(index)
            self._page_pump: Any = self._page_client
        else:
            by_host: dict[str, IResource | None] = {
                urlsplit(upstream.url).netloc: index
            }
            by_host.update((urlsplit(c.url).netloc, fake) for c, fake in more)
            by_host.update(hosts or {})
            self.page_agent = HostAgent(by_host)
            self.file_agent = HostAgent(by_host)
            self._page_client = HTTPClient(self.page_agent)
            self._file_agent = self.file_agent
            self._page_pump = self.page_agent
        self.cache = cache or FileCache(cache_dir, cache_size, self.clock)
        self.cache.scan()
        credentials = {
            i.url: i.credentials for i in reversed(indexes) if i.credentials is not None
        }
        fetch = file_fetcher(
            self._file_agent, self.clock, self.config.connect_timeout, credentials
        )
        self.downloads = downloads = Downloads(
            self.cache,
            streaming(fetch),
            self.clock,
            idle_timeout=self.config.idle_timeout,
        )
        self.metadata: MetadataParts | None = None
        if synthesized:
            self.metadata = core_metadata(
                self.config,
                self.cache,
                fetch,
                self.clock,
                run_now,
                downloads,
                self.stats.metadata_from,
            )
        store = PageStore.on_disk(cache_dir.child("pages"), self.cache.space)
        self.all_pages = [
            PageCache(
                config,
                self.config,
                self._page_client,
                self.clock,
                store,
                stats=self.stats,
                advertiser=self.metadata.advertiser if self.metadata else None,
            )  # fmt: skip
            for config in indexes
        ]
        self.pages = self.all_pages[0]
        self.local_indexes = [LocalIndex(c, self.config.links) for c in local]
        self.root = proxy_root(
            self.config, self.all_pages, self.cache, downloads, fetch,
            self.local_indexes, stats=self.stats,
            metadata=self.metadata.files if self.metadata else None,
        )  # fmt: skip
        self._client_agent: Any = RequestTraversalAgent(self.root)
        # Clients talk to a ProxySite, as in the service, so that requests
        # are counted in the stats (treq builds a plain Site otherwise).
        self._client_agent._serverFactory = ProxySite(
            self.root, self.clock, self.stats,
            reactor=self._client_agent._memoryReactor,
        )  # fmt: skip

    @property
    def index_name(self) -> str:
        """
        The name of the upstream index in file URLs.
        """
        return self.config.indexes[0].name

    def file_path(self, filename: str, upstream: int = 0) -> str:
        """
        The proxy's path for a file the fake index serves at
        ``/packages/<filename>``.

        :param upstream: Which upstream lists the file, by priority.
        """
        config = self.config.indexes[upstream]
        name = quote(config.name, safe="")
        parts = urlsplit(config.url)
        return f"/files/{name}/{parts.scheme}/{parts.netloc}/packages/{filename}"

    def flush(self) -> None:
        """
        Move every byte between client, proxy and upstream until all rest.
        """
        for _ in range(10):
            self._page_pump.flush()
            self._file_agent.flush()
            self._client_agent.flush()

    def request(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> Deferred[IResponse]:
        """
        Start a request for ``path`` (below the proxy's origin) with exactly
        ``headers`` (no ``Accept-Encoding`` is added, no redirect followed).
        Call :meth:`flush` to let it progress.
        """
        raw = Headers({k: [v] for k, v in (headers or {}).items()})
        url = (self.ORIGIN + path).encode("ascii")
        d: Deferred[IResponse] = self._client_agent.request(method.encode(), url, raw)
        return d

    def answer(self, response: IResponse) -> Answer:
        """
        Read the whole body of a response from :meth:`request`.
        """
        body = content(response)
        self.flush()
        length = None if response.length is UNKNOWN_LENGTH else int(response.length)
        return Answer(response.code, response.headers, result_now(body), length)

    def get(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> Answer:
        """
        Make a request and return its complete response.
        """
        d = self.request(path, method, headers)
        self.flush()
        return self.answer(result_now(d))

    def raw(self, data: bytes) -> StringTransport:
        """
        Send raw request bytes to a ``ProxySite`` over the tree.

        :return: The server's transport: ``value()`` holds what was sent,
            ``disconnected`` says whether the connection was aborted.
        """
        site = ProxySite(self.root, self.clock, self.stats, reactor=self.clock)
        protocol = site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        assert protocol is not None
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        self.flush()
        return transport


def parse_raw(data: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    """
    The status, headers (lower-case names, last value) and the rest of the
    bytes of one raw HTTP/1.1 response.
    """
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


@implementer(IResponse)
class HandFedResponse:
    """
    An upstream response whose body the test delivers by hand.

    :ivar protocol: The body's protocol, once ``deliverBody`` was called.
    :ivar transport: Stands for the upstream connection.
    """

    def __init__(self, code: int = 200, length: int | object = UNKNOWN_LENGTH) -> None:
        """
        :param code: The status.
        :param length: The ``Content-Length``, or ``UNKNOWN_LENGTH``.
        """
        self.version = (b"HTTP", 1, 1)
        self.code = code
        self.phrase = b"OK" if code == 200 else b"Error"
        self.headers = Headers()
        self.length = length
        self.request = None
        self.previousResponse = None
        self.protocol: IProtocol | None = None
        self.transport = StringTransport()

    def deliverBody(self, protocol: IProtocol) -> None:
        """Keep the protocol and connect it to the fake upstream connection."""
        self.protocol = protocol
        protocol.makeConnection(self.transport)

    def setPreviousResponse(self, response: IResponse) -> None:
        """Not used."""

    def send(self, data: bytes) -> None:
        """Deliver body bytes."""
        assert self.protocol is not None
        self.protocol.dataReceived(data)

    def end(self, reason: Failure | None = None) -> None:
        """End the body (completely, unless ``reason`` says otherwise)."""
        assert self.protocol is not None
        self.protocol.connectionLost(reason or Failure(ResponseDone()))
