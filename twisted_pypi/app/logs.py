# -*- test-case-name: tests.app.test_logs -*-
"""
The proxy's log, for ``pypiproxy serve`` and ``twistd pypiproxy``: events
below ``--log-level`` (default ``info``: one line per request and what an
operator must act on) never reach the observer.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, cast

from twisted.logger import (
    FilteringLogObserver,
    ILogObserver,
    LegacyLogObserverWrapper,
    LogEvent,
    LogLevel,
    LogLevelFilterPredicate,
)
from twisted.python import usage

__all__ = [
    "DEFAULT_LOG_LEVEL",
    "LOG_LEVELS",
    "filtered",
    "parse_log_level",
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
