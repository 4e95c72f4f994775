"""
Hand-driven stand-ins for an HTTP client and its responses, for tests that
need to decide exactly when an upstream answers.
"""

from __future__ import annotations

from typing import Any

from attrs import define, field
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http_headers import Headers


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
        kwargs = {"headers": headers, "unbuffered": unbuffered, "timeout": timeout}
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
