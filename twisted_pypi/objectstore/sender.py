# -*- test-case-name: tests.objectstore.test_sender -*-
"""
The requests of the S3 client for Twisted
(:mod:`~twisted_pypi.objectstore.client`): each is one signed HTTP request
sent through an injected ``IAgent``, waited for with a timeout, told to an
observer, and answered with a typed error
(:mod:`~twisted_pypi.objectstore.errors`) when its status is not one
expected: a connection that fails, a timeout or a 5xx status is
:class:`~twisted_pypi.objectstore.errors.StoreUnavailable`.

Objects are addressed path-style (``ENDPOINT/BUCKET/KEY``), which every
S3-compatible server and AWS understand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import quote

from twisted.internet.defer import TimeoutError as TwistedTimeout
from twisted.internet.interfaces import IReactorTime
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IBodyProducer, IResponse

from twisted_pypi.objectstore.bodies import read_limited
from twisted_pypi.objectstore.errors import S3Error, StoreUnavailable, error_for
from twisted_pypi.objectstore.s3xml import parse_error
from twisted_pypi.objectstore.signing import EMPTY_SHA256, Signer

__all__ = ["DEFAULT_TIMEOUT", "MAX_DOCUMENT", "Observer", "S3Sender"]

#: Told of each request: its method, the response's status (``None`` if
#: none came), the seconds to the response's headers, and why none came.
Observer = Callable[[str, int | None, float, str], None]

#: Seconds a request may wait for the store's response headers.
DEFAULT_TIMEOUT = 30.0

#: The largest XML answer (listing, error) read into memory.
MAX_DOCUMENT = 8 * 1024 * 1024


class S3Sender:
    """
    Signed S3 requests over an injected agent, with timeouts, answered with
    typed errors: what :class:`~twisted_pypi.objectstore.client.S3Client`'s
    operations are sent through.

    :ivar endpoint: The store's URL, without a path.
    :ivar observe: Told of every request's outcome and latency, if set
        (the service's statistics).
    """

    observe: Observer | None = None

    def __init__(
        self,
        agent: IAgent,
        endpoint: str,
        signer: Signer,
        clock: IReactorTime,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """
        :param agent: Sends the requests.
        :param endpoint: The store's URL (``https://s3.eu-west-1.amazonaws.com``,
            ``http://127.0.0.1:8333``), without a path.
        :param signer: Signs every request.
        :param clock: Drives the timeouts.
        :param timeout: Seconds to wait for response headers.
        """
        self._agent = agent
        self.endpoint = endpoint.rstrip("/")
        self._signer = signer
        self._clock = clock
        self._timeout = timeout

    @property
    def signer(self) -> Signer:
        """Signs every request (its credentials are renewed in place)."""
        return self._signer

    def url(
        self, bucket: str, key: str = "", query: Mapping[str, str] | None = None
    ) -> str:
        """
        The URL of a bucket or object, percent-encoded as S3 signs it.
        """
        url = f"{self.endpoint}/{quote(bucket, safe='')}"
        if key:
            url += "/" + quote(key, safe="/~")
        if query:
            url += "?" + "&".join(
                f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                for k, v in sorted(query.items())
            )
        return url

    async def send(
        self,
        method: str,
        bucket: str,
        key: str = "",
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: IBodyProducer | None = None,
        payload: str = EMPTY_SHA256,
        expect: tuple[int, ...] = (200,),
        creating: bool = False,
    ) -> IResponse:
        """
        Sign and send one request; wait for its response headers.

        :return: The response, its status one of ``expect``.
        :raise S3Error: A typed one for any other status, or
            :class:`StoreUnavailable` if no response came in time.
        """
        url = self.url(bucket, key, query)
        what = f"{method} {bucket}/{key}" if key else f"{method} {bucket}"
        signed = self._signer.sign(method, url, headers or {}, payload)
        raw = Headers(
            {k.encode("latin-1"): [v.encode("latin-1")] for k, v in signed.items()}
        )
        sending = self._agent.request(
            method.encode("ascii"), url.encode("ascii"), raw, body
        )
        sending.addTimeout(self._timeout, self._clock)
        started = self._clock.seconds()
        try:
            response: IResponse = await sending
        except TwistedTimeout:
            why = f"no answer in {self._timeout:g} s"
            self._observed(method, None, started, why)
            raise StoreUnavailable(why, resource=what) from None
        except Exception as e:
            why = str(e) or type(e).__name__
            self._observed(method, None, started, why)
            raise StoreUnavailable(why, resource=what) from None
        self._observed(method, response.code, started, "")
        if response.code in expect:
            return response
        document = b""
        if method != "HEAD":
            try:
                document = await read_limited(response, MAX_DOCUMENT, what)
            except S3Error:
                pass
        raise error_for(response.code, document, what, creating)

    def _observed(
        self, method: str, code: int | None, started: float, why: str
    ) -> None:
        """Tell :attr:`observe` of a request's outcome."""
        if self.observe is not None:
            self.observe(method, code, self._clock.seconds() - started, why)

    async def answer_document(self, response: IResponse, what: str) -> bytes:
        """
        A small answer document; one that is an ``<Error>`` despite its
        200 status (S3 does that for copies and multipart completions)
        raises the error.
        """
        document = await read_limited(response, MAX_DOCUMENT, what)
        try:
            parse_error(document)
        except Exception:
            return document
        raise error_for(500, document, what)
