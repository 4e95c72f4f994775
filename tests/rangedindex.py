"""
A fake upstream index without PEP 658 metadata, whose files are served by
ranges (or, when told, whole whatever the request asks), logging which.

Built on :class:`tests.fakeindex.FakeIndex`: its pages lose their core
metadata advertisements and its ``.metadata`` files are not found.
"""

from __future__ import annotations

import json
import re

from attrs import define, field
from twisted.web.server import Request

from tests.fakeindex import FakeIndex

__all__ = ["RangedIndex"]

_HTML_METADATA = re.compile(rb' data-(?:dist-info|core)-metadata="[^"]*"')
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@define
class RangedIndex(FakeIndex):
    """
    The fake index without PEP 658 metadata.

    :ivar honour_ranges: Whether a ``Range`` request gets a 206 with those
        bytes (else the whole file, 200).
    :ivar ranged: ``(filename, Range value)`` of each range served.
    :ivar whole: The filename of each file served whole.
    """

    honour_ranges: bool = True
    ranged: list[tuple[str, str]] = field(factory=list)
    whole: list[str] = field(factory=list)

    def _send(self, request: Request, body: bytes, ctype: str) -> bytes:
        """
        Send a page with no core metadata advertised.
        """
        if "json" in ctype:
            document = json.loads(body)
            for entry in document.get("files", []):
                entry.pop("core-metadata", None)
                entry.pop("dist-info-metadata", None)
            body = json.dumps(document).encode()
        else:
            body = _HTML_METADATA.sub(b"", body)
        return super()._send(request, body, ctype)

    def _file(self, request: Request, filename: str) -> bytes | int:
        """
        Send a file, or the range of it asked for; no ``.metadata`` file is
        found.
        """
        content = next(
            (
                f.wheel.content
                for files in self.projects.values()
                for f in files
                if f.wheel.filename == filename
            ),
            None,
        )
        if content is None:
            request.setResponseCode(404)
            return b"no such file"
        request.setHeader(b"content-type", b"application/octet-stream")
        request.setHeader(b"accept-ranges", b"bytes" if self.honour_ranges else b"none")
        asked = request.getHeader(b"range")
        match = _RANGE.fullmatch(asked.decode()) if asked else None
        if not self.honour_ranges or match is None:
            self.whole.append(filename)
            return content
        first, last = match.groups()
        size = len(content)
        if first:
            start, end = int(first), min(int(last or size - 1), size - 1)
        else:
            start, end = max(size - int(last), 0), size - 1
        self.ranged.append((filename, match.string))
        request.setResponseCode(206)
        request.setHeader(b"content-range", b"bytes %d-%d/%d" % (start, end, size))
        return content[start : end + 1]
