# -*- test-case-name: tests.upstream.test_ranged -*-
"""
Reading a small range of an upstream file (a wheel's tail, its ``METADATA``
member) into memory, and what each upstream origin has shown about ranges.

Streaming a range through to a client is another matter (the file layer's);
this is for reads of kilobytes that the proxy itself uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from attrs import define, field
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.web.iweb import IResponse

from twisted_pypi.core.links import redact
from twisted_pypi.upstream.client import UpstreamError, read_body
from twisted_pypi.upstream.describe import describe_error
from twisted_pypi.upstream.stream import close_body

__all__ = [
    "MAX_RANGE",
    "RangeNotHonoured",
    "RangeSupport",
    "origin_key",
    "read_range",
]

#: The longest range read into memory.
MAX_RANGE = 32 << 20

#: Seconds a ranged body may stay silent.
_IDLE = 30.0

_CONTENT_RANGE = re.compile(rb"bytes\s+(\d+)-(\d+)/(\d+)\s*", re.IGNORECASE)


class RangeNotHonoured(UpstreamError):
    """
    The upstream answered a ``Range`` request with the whole file (200): it
    does not serve ranges of it.
    """


def origin_key(url: str) -> str:
    """
    The scheme, host and port part of ``url`` (what :class:`RangeSupport`
    remembers by), lower-cased.
    """
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rpartition("@")[2]
    return f"{scheme.lower()}://{host.lower()}"


@define
class RangeSupport:
    """
    Whether each upstream origin has honoured ``Range`` requests: learned
    from its answers, ``None`` until it has answered one.

    :ivar changed: Told what is known, by origin, each time it changes (to
        keep it: see :mod:`twisted_pypi.storage.rangeorigins`).
    :ivar generation: How many times what is known changed: what was built
        from it (a page's advertised metadata) is out of date when this
        moved on.
    """

    _known: dict[str, bool] = field(factory=dict)
    changed: Callable[[dict[str, bool]], object] | None = None
    generation: int = field(default=0, init=False)

    def learn(self, url: str, honoured: bool) -> None:
        """
        Remember that the origin of ``url`` honoured (or ignored) a range.
        """
        key = origin_key(url)
        if self._known.get(key) is honoured:
            return
        self._known[key] = honoured
        self.generation += 1
        if self.changed is not None:
            self.changed(dict(self._known))

    def honours(self, url: str) -> bool | None:
        """
        Whether the origin of ``url`` honours ranges, ``None`` if unknown.
        """
        return self._known.get(origin_key(url))

    def known(self) -> dict[str, bool]:
        """
        What was learned, by origin (for the status page).
        """
        return dict(self._known)


def _range_header(offset: int | None, length: int) -> bytes:
    """The ``Range`` value asking for ``length`` bytes at ``offset``."""
    if offset is None:
        return b"bytes=-%d" % (length,)
    return b"bytes=%d-%d" % (offset, offset + length - 1)


async def read_range(
    fetch: Callable[..., Deferred[IResponse]],
    clock: IReactorTime,
    url: str,
    offset: int | None,
    length: int,
    support: RangeSupport | None = None,
) -> tuple[bytes, int]:
    """
    Read ``length`` bytes at ``offset`` of the upstream file at ``url``
    (``offset=None``: its last ``length`` bytes, or all of it when shorter).

    :param fetch: The upstream file fetcher, ``fetch(url, method, extra)``.
    :param clock: Times out a silent body.
    :param url: The file's URL (with credentials, if its link had them).
    :param length: At most :data:`MAX_RANGE`.
    :param support: Learns whether the origin honoured the range.
    :return: The bytes and the file's total size.
    :raises RangeNotHonoured: When the upstream sent the whole file (the
        connection is closed at once, nothing more is read).
    :raises UpstreamError: For any other failure, or an answer that is not
        the range asked for.
    """
    if not 0 < length <= MAX_RANGE:
        raise ValueError(f"a range of {length} bytes")
    where = redact(url)
    try:
        response = await fetch(url, b"GET", {b"range": _range_header(offset, length)})
    except UpstreamError:
        raise
    except Exception as e:
        raise UpstreamError(describe_error(e)) from e
    if response.code == 200:
        close_body(response)
        if support is not None:
            support.learn(url, False)
        raise RangeNotHonoured(f"{where} answered a range with the whole file")
    if response.code != 206:
        close_body(response)
        raise UpstreamError(f"upstream answered {response.code} for a range of {where}")
    if support is not None:
        support.learn(url, True)
    values = response.headers.getRawHeaders(b"content-range") or []
    match = _CONTENT_RANGE.fullmatch(values[0]) if len(values) == 1 else None
    if match is None:
        close_body(response)
        raise UpstreamError(f"{where}: a 206 without one byte Content-Range")
    first, last, size = (int(g) for g in match.groups())
    want = max(size - length, 0) if offset is None else offset
    end = min(want + length, size) - 1
    if (first, last) != (want, end):
        close_body(response)
        raise UpstreamError(
            f"{where}: asked for bytes {want}-{end}, the upstream sent {first}-{last}"
        )
    body = await read_body(response, clock, last - first + 1, _IDLE)
    if len(body) != last - first + 1:
        raise UpstreamError(
            f"{where}: the range ended after {len(body)} of {last - first + 1} bytes"
        )
    return body, size
