"""
The ``pypiproxy`` command.

``pypiproxy serve [options]`` runs the same service as
``twistd -n pypiproxy [options]``, in the foreground, logging to standard
output.  ``pypiproxy analyze PROJECT`` shows a project's dependency tree with
download sizes and what ``--dummy`` projects would save.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from twisted.application.service import IService
from twisted.internet.defer import Deferred
from twisted.python import usage

from . import __version__
from .analyze import AnalyzeOptions
from .tap import Options as ServeOptions


class Options(usage.Options):
    """
    The ``pypiproxy`` command line.
    """

    synopsis = "pypiproxy <command> [options]"
    longdesc = (
        "twisted-pypi: a caching proxy for Python package indexes. "
        "'pypiproxy serve --help' lists the proxy's options."
    )
    subCommands = [
        ["serve", None, ServeOptions, "Run the proxy in the foreground."],
        [
            "analyze",
            None,
            AnalyzeOptions,
            "Show a project's dependencies, their sizes and what dummies save.",
        ],
    ]

    def opt_version(self) -> None:
        """
        Print the version and exit.
        """
        print(f"twisted-pypi {__version__}")
        sys.exit(0)

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a command is required, e.g. 'pypiproxy serve'")


def main(argv: Sequence[str] | None = None) -> None:
    """
    Run the ``pypiproxy`` command.

    :param argv: The arguments, without the program name; ``sys.argv[1:]``
        when ``None``.
    """
    options = Options()
    try:
        options.parseOptions(list(sys.argv[1:] if argv is None else argv))
    except usage.UsageError as e:
        sys.stderr.write(f"{options}\npypiproxy: error: {e}\n")
        raise SystemExit(2) from None
    if options.subCommand == "serve":
        serve(options.subOptions)
    elif options.subCommand == "analyze":
        analyze(options.subOptions)


def analyze(options: AnalyzeOptions) -> None:
    """
    Run ``pypiproxy analyze`` and exit: 0 on success, 1 if the resolution
    failed.

    :param options: Parsed ``analyze`` options.
    """
    from twisted.internet.task import react

    from .analyze import main

    react(main, [options])


def serve(options: ServeOptions) -> None:
    """
    Run the proxy service until interrupted, logging to standard output.

    :param options: Parsed ``serve`` options.
    """
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from .service import make_service

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)])
    service: IService = make_service(options["config"], reactor)

    def start() -> None:
        try:
            service.startService()
        except Exception:
            reactor.stop()
            raise

    def stop() -> Deferred[None] | None:
        return service.stopService()  # type: ignore[no-any-return]

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", stop)
    reactor.run()
