# -*- test-case-name: tests.app.test_endpoints -*-
"""
The ``--listen`` endpoints: checked when the options are parsed (so a
mistake is a usage error, not a failed start), and listened on with a
backlog that holds a thousand concurrent clients.
"""

from __future__ import annotations

import re
from typing import Any

from twisted.internet.endpoints import serverFromString

__all__ = ["DEFAULT_BACKLOG", "check_listen", "with_backlog"]

#: The listen backlog of an endpoint that does not name one.  Twisted's
#: default, 50, dropped connections with a thousand concurrent clients
#: (see docs/benchmarks.md); the kernel caps it at ``net.core.somaxconn``.
DEFAULT_BACKLOG = 1024

#: Endpoint types that take ``backlog=``.
_WITH_BACKLOG = frozenset({"tcp", "tcp6", "ssl", "unix"})

#: The ``:`` that separate an endpoint's fields (``\:`` is an escaped one).
_FIELD = re.compile(r"(?<!\\):")


class _NoReactor:
    """
    Stands in for a reactor while endpoint strings are only being parsed.
    """


_NO_REACTOR: Any = _NoReactor()


def check_listen(description: str) -> None:
    """
    Check a ``--listen`` value without listening.

    :param description: A Twisted server endpoint string, e.g. ``tcp:8080``.
    :raises ValueError: With a message naming ``--listen`` and what is
        wrong: not an endpoint, or a TCP port outside 0-65535.
    """
    try:
        # Parsing builds the endpoint object without listening.
        endpoint = serverFromString(_NO_REACTOR, description)
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise ValueError(
            f"--listen {description!r} is not a valid endpoint: {e}"
        ) from None
    # TCP4ServerEndpoint, TCP6ServerEndpoint and SSL4ServerEndpoint keep the
    # port they will bind as _port; binding one out of range would only
    # fail once the reactor runs.
    port = getattr(endpoint, "_port", None)
    if isinstance(port, int) and not 0 <= port <= 65535:
        raise ValueError(
            f"--listen {description!r}: port {port} is not between 0 and 65535"
        )


def with_backlog(description: str, backlog: int = DEFAULT_BACKLOG) -> str:
    """
    ``description`` with ``backlog=`` added if it is a TCP, SSL or UNIX
    endpoint that does not name a backlog.

    :param description: A server endpoint string.
    :param backlog: The backlog to add.
    """
    fields = _FIELD.split(description)
    if fields[0].lower() not in _WITH_BACKLOG:
        return description
    if any(field.startswith("backlog=") for field in fields[1:]):
        return description
    return f"{description}:backlog={backlog}"
