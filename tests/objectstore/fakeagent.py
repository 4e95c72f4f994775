"""
A fake ``IAgent`` for the object store client's unit tests: it records each
request and answers with a :class:`~tests.fakes.HandFedResponse` the test
fills in.
"""

from __future__ import annotations

from attrs import define, field
from twisted.internet.defer import Deferred
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IBodyProducer, IResponse
from zope.interface import implementer

from tests.consumers import Consumer
from tests.fakes import HandFedResponse

__all__ = ["FakeAgent", "SentRequest"]


@define
class SentRequest:
    """
    One request the client sent.

    :ivar method: Its method.
    :ivar url: Its URL.
    :ivar headers: Its headers.
    :ivar body: Its body producer, if any.
    :ivar answer: The Deferred the test fires with a response.
    """

    method: bytes
    url: bytes
    headers: Headers
    body: IBodyProducer | None
    answer: Deferred[IResponse] = field(factory=Deferred)

    def header(self, name: str) -> str | None:
        """
        One header's value, if sent.
        """
        values = self.headers.getRawHeaders(name.encode("ascii"))
        return values[0].decode("latin-1") if values else None

    def body_bytes(self) -> bytes:
        """
        The body, produced into a consumer at once.
        """
        if self.body is None:
            return b""
        consumer = Consumer()
        self.body.startProducing(consumer)
        return b"".join(consumer.chunks)

    def respond(
        self, code: int = 200, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> HandFedResponse:
        """
        Answer with ``code`` and ``headers``; if the client reads the body
        at once, it gets the whole ``body`` (else the test sends it through
        the returned response).
        """
        response = HandFedResponse(code, len(body))
        for name, value in (headers or {}).items():
            response.headers.addRawHeader(name.encode(), value.encode())
        self.answer.callback(response)
        if response.protocol is not None:
            response.send(body)
            response.end()
        return response


@implementer(IAgent)
class FakeAgent:
    """
    Records requests; each is answered by the test.

    :ivar sent: The requests, in order.
    """

    def __init__(self) -> None:
        """
        No requests yet.
        """
        self.sent: list[SentRequest] = []

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers | None = None,
        bodyProducer: IBodyProducer | None = None,
    ) -> Deferred[IResponse]:
        """
        Record the request.
        """
        sent = SentRequest(method, uri, headers or Headers(), bodyProducer)
        self.sent.append(sent)
        return sent.answer
