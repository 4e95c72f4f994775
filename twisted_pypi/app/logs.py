# -*- test-case-name: tests.app.test_logs -*-
"""
The log, for ``pypiproxy serve`` and ``twistd pypiproxy`` and for the
commands ``warm``, ``export`` and ``analyze``: events below ``--log-level``
never reach the observer.  The proxy's default is ``info`` (one line per
request and what an operator must act on); the commands' is ``warn``, as
their own progress lines say what ``info`` would, and they log one plain
line per event to standard error (:func:`command_observer`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO, cast

from twisted.internet.interfaces import IReactorTime
from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LegacyLogObserverWrapper,
    LogEvent,
    LogLevel,
    LogLevelFilterPredicate,
    eventAsText,
    formatEventAsClassicLogText,
    formatTime,
)
from twisted.python import usage
from zope.interface import implementer

__all__ = [
    "COMMAND_LOG_LEVEL",
    "DEFAULT_LOG_LEVEL",
    "FLUSH_DELAY",
    "LOG_LEVELS",
    "command_observer",
    "filtered",
    "parse_log_level",
    "serve_observer",
    "twistd_observer",
]

#: The levels ``--log-level`` takes, by name.
LOG_LEVELS: dict[str, LogLevel] = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "error": LogLevel.error,
}

#: The level logged when ``--log-level`` is not given.
DEFAULT_LOG_LEVEL = "info"

#: The level ``warm``, ``export`` and ``analyze`` log when ``--log-level``
#: is not given: their progress lines already say what ``info`` would.
COMMAND_LOG_LEVEL = "warn"

#: Seconds the proxy's log lines may wait to be handed to the system.
FLUSH_DELAY = 0.2

#: What starts a command's log line, by level.
_PREFIXES = {
    LogLevel.debug: "debug: ",
    LogLevel.warn: "warning: ",
    LogLevel.error: "error: ",
    LogLevel.critical: "error: ",
}


def parse_log_level(text: str) -> LogLevel:
    """
    A ``--log-level`` value.

    :param text: ``debug``, ``info``, ``warn`` or ``error``.
    :raises ValueError: Naming the option and the levels.
    """
    level = LOG_LEVELS.get(text.strip().lower())
    if level is None:
        raise ValueError(f"--log-level {text!r}: use one of {', '.join(LOG_LEVELS)}")
    return level


def filtered(
    observer: ILogObserver | Callable[[LogEvent], None], level: LogLevel
) -> ILogObserver:
    """
    ``observer`` behind a filter that drops events below ``level``.

    :param observer: A log observer (any callable taking events).
    :param level: The least level that gets through.
    """
    predicate = LogLevelFilterPredicate(defaultLogLevel=level)
    return FilteringLogObserver(cast(ILogObserver, observer), [predicate])


def command_observer(out: TextIO, level: LogLevel) -> ILogObserver:
    """
    The log of a command: each event at ``level`` or above as plain text on
    ``out`` (no time stamp; ``warning:`` or ``error:`` before what an
    operator must act on), a failure's traceback after it.

    :param out: Standard error, usually.
    :param level: The least level that gets through.
    """

    def observe(event: LogEvent) -> None:
        """Write ``event`` as one line (and a traceback, if it has one)."""
        text = eventAsText(event, includeTimestamp=False, includeSystem=False)
        out.write(f"{_PREFIXES.get(event.get('log_level'), '')}{text}\n")
        out.flush()

    return filtered(observe, level)


@implementer(ILogObserver)
class _ServeObserver:
    """
    The lines of :func:`serve_observer`: Twisted's classic text, the time
    stamp formatted once a second, the stream flushed :data:`FLUSH_DELAY`
    after the first line it holds.
    """

    def __init__(self, out: TextIO, clock: IReactorTime) -> None:
        self._out = out
        self._clock = clock
        self._second: int | None = None
        self._stamp = ""
        self._flushing = False

    def _format_time(self, when: float | None) -> str:
        """The time stamp of ``when``: to the second, so kept a second."""
        if when is None:
            return formatTime(when)
        second = int(when)
        if second != self._second:
            self._second, self._stamp = second, formatTime(second)
        return self._stamp

    def __call__(self, event: LogEvent) -> None:
        """Write ``event``; flush soon, or now if grave."""
        text = formatEventAsClassicLogText(event, formatTime=self._format_time)
        if not text:
            return
        self._out.write(text)
        level = event.get("log_level")
        if level is not None and level >= LogLevel.warn:
            self._flush()
        elif not self._flushing:
            self._flushing = True
            self._clock.callLater(FLUSH_DELAY, self._flush)

    def _flush(self) -> None:
        """Hand what was written to the system."""
        self._flushing = False
        self._out.flush()


def serve_observer(out: TextIO, clock: IReactorTime) -> ILogObserver:
    """
    The log of the proxy: Twisted's classic text lines (``<time> [<system>]
    <text>``), written as events come and flushed :data:`FLUSH_DELAY`
    seconds after the first line not yet flushed, rather than once per line
    or once per turn of the reactor (a proxy logs a line per request, and a
    client asking one thing at a time gets one request per turn: a system
    call each, and a time stamp formatted each, cost a fifth of its time
    serving small files); warnings and errors are flushed at once.

    :param out: Standard output, usually.
    :param clock: The reactor, whose turn ends a batch of lines.
    """
    return _ServeObserver(out, clock)


def twistd_observer(server_options: usage.Options) -> ILogObserver:
    """
    The observer twistd itself would log to for ``server_options`` (its
    ``--logfile``, ``--syslog`` and ``--nodaemon``), made by twistd's own
    logger class for this platform.

    :param server_options: twistd's parsed options.
    """
    if sys.platform == "win32":  # pragma: no cover - not tested on Windows
        from twisted.application.app import AppLogger as Maker
    else:
        from twisted.scripts._twistd_unix import UnixAppLogger as Maker
    observer: Any = Maker(server_options)._getLogObserver()
    if ILogObserver.providedBy(observer):
        return observer
    # As twistd does: anything else (the syslog observer) is a legacy one.
    return LegacyLogObserverWrapper(observer)
