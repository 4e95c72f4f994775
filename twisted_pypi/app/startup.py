# -*- test-case-name: tests.app.test_startup -*-
"""
Starting the proxy, for ``pypiproxy serve`` (:func:`run_serve`) and
``twistd pypiproxy`` (:class:`TwistdService`): the open-files limit raised,
the log filtered by ``--log-level``, and every start-up failure one line
and a non-zero exit, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.logger import ILogObserver, Logger, LogLevel
from twisted.python import usage

from twisted_pypi.app.logs import filtered, serve_observer, twistd_observer
from twisted_pypi.app.service import ProxyService, StartupError
from twisted_pypi.core.memtrim import freeze_heap, steady_mmap_threshold

__all__ = ["TwistdService", "raise_open_files_limit", "run_serve"]

log = Logger()


def raise_open_files_limit(resource: Any = None) -> int | None:
    """
    Raise the soft limit on open files (``RLIMIT_NOFILE``) to the hard
    limit, so that many concurrent clients and downloads do not run out of
    descriptors, and log the limit once.

    :param resource: The :mod:`resource` module (tests pass a fake); where
        there is none (Windows), nothing is done.
    :return: The soft limit now in force, or ``None`` without
        :mod:`resource`.
    """
    if resource is None:
        try:
            import resource
        except ImportError:  # pragma: no cover - Windows
            return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        log.info("Open files limit: {limit}", limit=soft)
        return int(soft)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as e:
        # macOS refuses an unlimited soft limit: keep the one we have.
        log.warn(
            "Open files limit: {limit} (cannot raise it to {hard}: {error})",
            limit=soft,
            hard=hard,
            error=e,
        )
        return int(soft)
    log.info("Open files limit: {limit} (raised from {old})", limit=hard, old=soft)
    return int(hard)


def run_serve(
    make: Callable[[], ProxyService],
    reactor: Any,
    level: LogLevel,
    out: TextIO,
    err: TextIO,
    *,
    begin_logging: Callable[[list[ILogObserver]], None],
    resource: Any = None,
) -> int:
    """
    Run the proxy in the foreground until the reactor stops.

    :param make: Builds the service (called once logging has begun).
    :param reactor: The reactor to run.
    :param level: The least level logged.
    :param out: Where the log goes.
    :param err: Where a start-up failure is told, in one line.
    :param begin_logging: ``globalLogBeginner.beginLoggingTo``.
    :param resource: As for :func:`raise_open_files_limit`.
    :return: The exit code: 0 after a clean stop, 1 if the proxy could not
        start.
    """
    begin_logging([filtered(serve_observer(out, reactor), level)])
    raise_open_files_limit(resource)
    steady_mmap_threshold()
    try:
        service = make()
    except (StartupError, OSError) as e:
        err.write(f"pypiproxy serve: error: {e}\n")
        return 1
    errors: list[StartupError] = []

    def start() -> None:
        try:
            service.startService()
        except StartupError as e:
            errors.append(e)
            reactor.stop()
        else:
            freeze_heap()

    def stop() -> Deferred[Any]:
        return service.stopService()

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", stop)
    reactor.run()
    error = errors[0] if errors else service.failure
    if error is not None:
        err.write(f"pypiproxy serve: error: {error}\n")
        return 1
    return 0


class TwistdService(MultiService):
    """
    The proxy under ``twistd``: logs through twistd's observer behind the
    ``--log-level`` filter, raises the open-files limit, and ends twistd
    with one logged line and exit status 1 if the proxy cannot start.
    """

    def __init__(
        self,
        proxy: ProxyService,
        level: LogLevel,
        server_options: usage.Options | None = None,
        resource: Any = None,
    ) -> None:
        """
        :param proxy: The proxy service.
        :param level: The least level logged.
        :param server_options: twistd's own options (whose logging choice
            is kept), or ``None`` to leave twistd's observer unfiltered.
        :param resource: As for :func:`raise_open_files_limit`.
        """
        super().__init__()
        self.proxy = proxy
        self._level = level
        self._server_options = server_options
        self._resource = resource
        proxy.setServiceParent(self)

    def setServiceParent(self, parent: Any) -> None:
        """
        Join ``parent`` (twistd's application) and give it the filtered log
        observer twistd starts logging to, unless ``twistd --logger`` names
        one.
        """
        super().setServiceParent(parent)
        options = self._server_options
        set_component = getattr(parent, "setComponent", None)
        if options is None or options.get("logger") or set_component is None:
            return
        set_component(ILogObserver, filtered(twistd_observer(options), self._level))

    def startService(self) -> None:
        """
        Raise the open-files limit and start the proxy.

        :raises SystemExit: With status 1, after logging why in one line,
            if it cannot start.
        """
        raise_open_files_limit(self._resource)
        steady_mmap_threshold()
        try:
            super().startService()
        except StartupError as e:
            log.critical("Cannot start: {error}", error=str(e))
            raise SystemExit(1) from None
        freeze_heap()
