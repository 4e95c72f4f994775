# -*- test-case-name: tests.web.test_snapshot -*-
"""
``/snapshot/<TIMESTAMP>/``: the index as it was at a moment (an RFC 3339
date or date-time in UTC, ``2025-06-01`` or ``2025-06-01T12:00:00Z``).

Below it are the routes of the proxy's root, seen at that moment::

    /snapshot/<TIMESTAMP>/simple/    pages without the files uploaded after it
    /snapshot/<TIMESTAMP>/files/     those files refused (403)
    /snapshot/<TIMESTAMP>/local/     the same for the local indexes
    /snapshot/<TIMESTAMP>/dummy/     the dummies' files, as at the root

A page's links are relative (``../../files/...``), so they resolve below the
snapshot's URL and its downloads are checked against it too; with
``--base-url`` the links are absolute and name the snapshot (see
:func:`twisted_pypi.sources.policyview.snapshot_relink`).  The other rules
of the policy (``--min-age``, ``--deny``) apply as well.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.web.http import BAD_REQUEST, NOT_FOUND
from twisted.web.iweb import IRequest
from twisted.web.resource import Resource
from twisted.web.server import Request

from twisted_pypi.core.moments import parse_snapshot
from twisted_pypi.web.respond import error_page

__all__ = ["SNAPSHOT_PREFIX", "SnapshotResource"]

#: The first segment of the snapshots' URLs.
SNAPSHOT_PREFIX = "snapshot"

#: What ``/snapshot/`` itself says.
_HOW = (
    "Give a moment: /snapshot/2025-06-01/simple/ or"
    " /snapshot/2025-06-01T12:00:00Z/simple/ serves the index as it was then."
)


class SnapshotResource(Resource):
    """
    ``/snapshot/``: its children are the trees of each moment.
    """

    def __init__(self, tree: Callable[[float], Resource]) -> None:
        """
        :param tree: Makes the routes below ``/snapshot/<TIMESTAMP>/`` for
            the moment of the timestamp.
        """
        super().__init__()
        self._tree = tree

    def getChild(self, path: bytes, request: IRequest) -> Resource:
        if path == b"":
            return self
        try:
            moment = parse_snapshot(path.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as e:
            reason = str(e) if isinstance(e, ValueError) else "not a timestamp"
            return _BadTimestamp(reason)
        return self._tree(moment)

    def render_GET(self, request: Request) -> bytes:
        return error_page(request, NOT_FOUND, _HOW)


class _BadTimestamp(Resource):
    """
    A 400 saying what is wrong with the timestamp, whatever the path below.
    """

    isLeaf = True

    def __init__(self, reason: str) -> None:
        """
        :param reason: What is wrong.
        """
        super().__init__()
        self._reason = reason

    def render(self, request: IRequest) -> bytes:
        assert isinstance(request, Request)
        return error_page(request, BAD_REQUEST, f"Bad snapshot: {self._reason}.")
