# -*- test-case-name: tests.web.test_accesslog -*-
"""
``--access-log FILE``: one line per request in the Combined Log Format
(Apache's and nginx's ``combined``), written through ``Site``'s ``logPath``
support, so log analysers (GoAccess, AWStats, ...) read it as it is::

    127.0.0.1 - - [22/Nov/2026:04:45:01 +0000] "GET /simple/demo/ HTTP/1.1" 200
    512 "-" "pip/26.2"

(one line).

Twisted's own ``combinedLogFormatter`` puts the client address in quotes,
which those tools do not accept; :func:`combined_log_line` does not.  The
user field is the user name of HTTP basic auth, if the request sent one.

The file is opened for appending and reopened when it is moved or deleted
(checked at most once a second), so logrotate works without
``copytruncate`` and without a signal.  Requests whose client went away
before the response ended are logged too, with the bytes that were sent.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.web.http import Request
from twisted.web.resource import IResource

from twisted_pypi.web.site import ProxySite

__all__ = [
    "REOPEN_CHECK",
    "AccessLogSite",
    "ReopeningLogFile",
    "check_access_log",
    "combined_log_line",
]

#: Seconds between two checks that the log file was not moved.
REOPEN_CHECK = 1.0


def _escape(value: bytes | str) -> str:
    """
    A header or request field, safe inside the quotes of a log line: quotes,
    backslashes and control bytes are escaped (as Apache does).
    """
    raw = value.encode("latin-1", "replace") if isinstance(value, str) else value
    out = []
    for byte in raw:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif byte < 0x20 or byte >= 0x7F:
            out.append(f"\\x{byte:02x}")
        else:
            out.append(chr(byte))
    return "".join(out)


def combined_log_line(timestamp: str, request: Request) -> str:
    """
    One Combined Log Format line for ``request`` (an ``IAccessLogFormatter``).

    :param timestamp: The time, as ``[dd/Mon/yyyy:hh:mm:ss +0000]``.
    :param request: The request, answered or abandoned.
    """
    address = request.getClientAddress()
    host = getattr(address, "host", None) or "-"
    user = _escape(request.getUser() or b"-").replace(" ", "\\x20") or "-"
    line = (
        f"{_escape(host)} - {user} {timestamp} "
        f'"{_escape(request.method)} {_escape(request.uri)} '
        f'{_escape(request.clientproto)}" {request.code} '
        f"{request.sentLength or '-'} "
        f'"{_escape(request.getHeader(b"referer") or b"-")}" '
        f'"{_escape(request.getHeader(b"user-agent") or b"-")}"'
    )
    return line


class ReopeningLogFile:
    """
    A log file opened for appending, reopened when its path no longer names
    it (after a rotation).
    """

    def __init__(self, path: str, clock: IReactorTime) -> None:
        """
        :param path: The file.
        :param clock: Times the checks.
        """
        self._path = path
        self._clock = clock
        self._checked = clock.seconds()
        self._file = open(path, "a", 1, encoding="utf-8", newline="\n")

    def write(self, data: str) -> None:
        """
        Append ``data``, reopening the file first if it was moved.
        """
        now = self._clock.seconds()
        if now - self._checked >= REOPEN_CHECK:
            self._checked = now
            self._reopen_if_moved()
        self._file.write(data)

    def _reopen_if_moved(self) -> None:
        try:
            moved = os.stat(self._path).st_ino != os.fstat(self._file.fileno()).st_ino
        except FileNotFoundError:
            moved = True
        if moved:
            self._file.close()
            self._file = open(self._path, "a", 1, encoding="utf-8", newline="\n")

    def close(self) -> None:
        """
        Close the file.
        """
        self._file.close()


def check_access_log(path: str) -> str:
    """
    The absolute path of an ``--access-log`` file, after checking that it can
    be opened for appending (it is created if missing).

    :param path: The option value.
    :raises ValueError: If the file cannot be opened.
    """
    path = os.path.abspath(os.path.expanduser(path))
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise ValueError(f"--access-log {path!r}: {e.strerror or e}") from None
    return path


class AccessLogSite(ProxySite):
    """
    The proxy's site, also writing every request to an access log file.
    """

    def __init__(
        self, resource: IResource, clock: IReactorTime, logPath: str, **kwargs: Any
    ) -> None:
        """
        :param resource: The root resource.
        :param clock: The time source.
        :param logPath: The access log file.
        :param kwargs: Passed on to :class:`ProxySite`.
        """
        self._log_clock = clock
        super().__init__(
            resource,
            clock,
            logPath=logPath,
            logFormatter=combined_log_line,
            **kwargs,
        )

    def _openLogFile(self, path: str | bytes) -> ReopeningLogFile:
        return ReopeningLogFile(os.fsdecode(path), self._log_clock)

    def getResourceFor(self, request: Request) -> IResource:
        request.notifyFinish().addErrback(lambda _: self._access(request))
        return super().getResourceFor(request)

    def log(self, request: Request) -> None:
        self._access(request)
        super().log(request)

    def _access(self, request: Request) -> None:
        """
        Write the access log line of ``request``.
        """
        # Site.log is ProxySite's; HTTPFactory.log writes the file.
        super(ProxySite, self).log(request)
