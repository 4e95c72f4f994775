"""
A fake upstream file origin for unit tests: a ``fetch(url, method,
extra)`` function over a map of URLs to bytes that answers at once (or
holds the answers for the test), honouring ``Range`` or not, and records
every request with its ``Range`` header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from attrs import define, field
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.web.http_headers import Headers

from tests.fakes import FakeResponse

__all__ = ["FakeOrigin"]

_RANGE = re.compile(rb"bytes=(\d*)-(\d*)")


@define
class FakeOrigin:
    """
    Files by URL.

    :ivar files: The bytes of each URL.
    :ivar ranges: Whether a ``Range`` is honoured (206), else the whole
        file is sent (200).
    :ivar ranged_files: What ranged requests read instead, by URL (a stale
        copy, say).
    :ivar hold: Keep answers in :attr:`held` until :meth:`release`.
    :ivar failing: URLs answered with a 500.
    :ivar log: ``(url, range header or None)`` of every request.
    """

    files: dict[str, bytes] = field(factory=dict)
    ranges: bool = True
    ranged_files: dict[str, bytes] = field(factory=dict)
    hold: bool = False
    failing: set[str] = field(factory=set)
    log: list[tuple[str, bytes | None]] = field(factory=list)
    held: list[tuple[Deferred[Any], FakeResponse]] = field(factory=list)

    def __call__(
        self,
        url: str,
        method: bytes = b"GET",
        extra: Mapping[bytes, bytes] | None = None,
    ) -> Deferred[Any]:
        """Answer a request for ``url``."""
        wanted = (extra or {}).get(b"range")
        self.log.append((url, wanted))
        if url in self.failing:
            return succeed(FakeResponse(code=500, body=b"failed"))
        if url not in self.files:
            return fail(ConnectionRefusedError(url))
        response = self._answer(url, wanted)
        if self.hold:
            d: Deferred[Any] = Deferred()
            self.held.append((d, response))
            return d
        return succeed(response)

    def release(self) -> None:
        """Answer every held request."""
        held, self.held = self.held, []
        for d, response in held:
            d.callback(response)

    def whole(self, url: str) -> int:
        """How many requests for ``url`` asked for the whole file."""
        return sum(1 for u, r in self.log if u == url and r is None)

    def ranged(self, url: str) -> int:
        """How many requests for ``url`` asked for a range."""
        return sum(1 for u, r in self.log if u == url and r is not None)

    def _answer(self, url: str, wanted: bytes | None) -> FakeResponse:
        """The response to a request for ``url`` with ``wanted``."""
        data = self.files[url]
        match = _RANGE.fullmatch(wanted) if wanted is not None else None
        if not self.ranges or match is None:
            return FakeResponse(code=200, body=data, length=len(data))
        data = self.ranged_files.get(url, data)
        first, last = match.groups()
        size = len(data)
        if first == b"":
            start, end = max(size - int(last), 0), size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
        headers = Headers({b"content-range": [b"bytes %d-%d/%d" % (start, end, size)]})
        body = data[start : end + 1]
        return FakeResponse(code=206, headers=headers, body=body, length=len(body))
