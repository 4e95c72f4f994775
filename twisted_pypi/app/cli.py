"""
The ``pypiproxy`` command.

``pypiproxy serve [options]`` runs the same service as
``twistd -n pypiproxy [options]``, in the foreground, logging to standard
output.  ``pypiproxy analyze PROJECT`` shows a project's dependency tree with
download sizes and what ``--dummy`` projects would save.  ``pypiproxy passwd
FILE USER`` adds a user to an upload users file or changes their password.
``pypiproxy warm -r requirements.txt`` fills the cache for an offline proxy
(``serve --offline``); ``pypiproxy export DIR`` writes the cache as a static
index (see ``docs/offline.md``).  ``pypiproxy cache list|stats|purge|verify``
works on the cache directory (see ``docs/configuration.md``).  ``pypiproxy
policy explain PROJECT`` shows which of a project's files the supply-chain
policy serves (see ``docs/policy.md``).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import IO, Any

from twisted.python import usage

from twisted_pypi.app import analyzecli, exportcli, policycli, warmcli
from twisted_pypi.app.analyzecli import AnalyzeOptions
from twisted_pypi.app.argorder import GnuOptions
from twisted_pypi.app.cachecli import CacheOptions
from twisted_pypi.app.exportcli import ExportOptions
from twisted_pypi.app.logs import command_observer
from twisted_pypi.app.output import BROKEN_PIPE_STATUS, discard_stdout
from twisted_pypi.app.policycli import PolicyCommand
from twisted_pypi.app.tap import Options as ServeOptions
from twisted_pypi.app.warmcli import WarmOptions
from twisted_pypi.upload import users

__all__ = [
    "Options",
    "PasswdOptions",
    "analyze",
    "export",
    "main",
    "passwd",
    "serve",
    "usage_error",
    "warm",
]


class PasswdOptions(GnuOptions):
    """
    ``pypiproxy passwd FILE USER``.
    """

    synopsis = "[options] FILE USER"
    longdesc = (
        "Add USER to the upload users FILE, or change their password, with a "
        "bcrypt hash. The password is asked for twice, or read from standard "
        "input with --password-stdin."
    )
    optFlags = [
        ["password-stdin", None, "Read the password (one line) from standard input."]
    ]
    optParameters = [
        ["rounds", None, users.DEFAULT_ROUNDS, "The bcrypt cost, 4 to 31.", int],
    ]

    def parseArgs(self, *args: str) -> None:
        """
        The users file and the user name.
        """
        if len(args) != 2:
            raise usage.UsageError("expected two arguments: FILE USER")
        file, user = args
        if not users.is_valid_user(user):
            raise usage.UsageError(
                f"{user!r} is not a valid user name: no spaces or colons,"
                " and it may not start with '#'"
            )
        self["file"] = file
        self["user"] = user

    def postOptions(self) -> None:
        if not 4 <= self["rounds"] <= 31:
            raise usage.UsageError("--rounds must be between 4 and 31")


class Options(GnuOptions):
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
        [
            "passwd",
            None,
            PasswdOptions,
            "Add a user to an upload users file, or change their password.",
        ],
        [
            "warm",
            None,
            WarmOptions,
            "Put into the cache everything installing some requirements needs.",
        ],
        [
            "export",
            None,
            ExportOptions,
            "Write the cache as a static index (HTML and JSON pages, files).",
        ],
        [
            "cache",
            None,
            CacheOptions,
            "List, count, purge or verify what the cache directory holds.",
        ],
        [
            "policy",
            None,
            PolicyCommand,
            "Explain which files of a project the supply-chain policy serves.",
        ],
    ]

    opt_version = ServeOptions.opt_version

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a command is required, e.g. 'pypiproxy serve'")


def usage_error(options: Options, error: usage.UsageError) -> str:
    """
    What a bad command line is told: one line naming what is wrong and
    where the help is; the whole usage only when no command was given.

    :param options: The options, as far as they were parsed.
    :param error: What was wrong.
    """
    if options.subCommand is None:
        return f"{options}\npypiproxy: error: {error}\n"
    help_command = f"pypiproxy {options.subCommand} --help"
    return f"pypiproxy: error: {error} (see '{help_command}')\n"


def main(argv: Sequence[str] | None = None) -> None:
    """
    Run the ``pypiproxy`` command.

    :param argv: The arguments, without the program name; ``sys.argv[1:]``
        when ``None``.
    """
    try:
        try:
            _main(argv)
        finally:
            # Output to a pipe is buffered: flush it here, where a reader
            # that went away can still be handled, not at exit.
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``pypiproxy --help | head``): say nothing
        # more, and keep the interpreter's last flush from failing loudly.
        discard_stdout()
        raise SystemExit(BROKEN_PIPE_STATUS) from None


def _main(argv: Sequence[str] | None) -> None:
    """
    Parse the arguments and run the command they name.

    :param argv: As for :func:`main`.
    """
    options = Options()
    try:
        options.parseOptions(list(sys.argv[1:] if argv is None else argv))
    except usage.UsageError as e:
        sys.stderr.write(usage_error(options, e))
        raise SystemExit(2) from None
    if options.subCommand == "serve":
        serve(options.subOptions)
    elif options.subCommand == "analyze":
        analyze(options.subOptions)
    elif options.subCommand == "passwd":
        raise SystemExit(passwd(options.subOptions))
    elif options.subCommand == "warm":
        warm(options.subOptions)
    elif options.subCommand == "export":
        export(options.subOptions)
    elif options.subCommand == "policy":
        _run_command(policycli.main, options.subOptions.subOptions)
    elif options.subCommand == "cache":
        from twisted_pypi.app.cachecli import run

        raise SystemExit(run(options.subOptions))


def analyze(options: AnalyzeOptions) -> None:
    """
    Run ``pypiproxy analyze`` and exit: 0 on success, 1 if the resolution
    failed.

    :param options: Parsed ``analyze`` options.
    """
    _run_command(analyzecli.main, options)


def warm(options: WarmOptions) -> None:
    """
    Run ``pypiproxy warm`` and exit: 0 on success, 1 if anything could not
    be resolved or fetched.

    :param options: Parsed ``warm`` options.
    """
    _run_command(warmcli.main, options)


def export(options: ExportOptions) -> None:
    """
    Run ``pypiproxy export`` and exit: 0 on success, 1 on failure.

    :param options: Parsed ``export`` options.
    """
    _run_command(exportcli.main, options)


def _run_command(
    main: Callable[[Any, Any], Coroutine[Any, Any, None]], options: ServeOptions
) -> None:
    """
    Run a command's ``main`` with the reactor, logging to standard error at
    its ``--log-level``, and exit.

    :param main: The command, ``main(reactor, options)``.
    :param options: Its parsed options.
    """
    from twisted.internet.task import react
    from twisted.logger import globalLogBeginner

    observer = command_observer(sys.stderr, options["log-level"])
    # The commands write their progress to sys.stderr themselves: leave it.
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    react(main, [options])


def serve(options: ServeOptions) -> None:
    """
    Run the proxy service until interrupted, logging to standard output.

    :param options: Parsed ``serve`` options.
    :raises SystemExit: With status 1 (after one line on standard error)
        if the proxy could not start, else 0.
    """
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner

    from twisted_pypi.app.service import make_service
    from twisted_pypi.app.startup import run_serve

    code = run_serve(
        lambda: make_service(options["config"], reactor),
        reactor,
        options["log-level"],
        sys.stdout,
        sys.stderr,
        begin_logging=globalLogBeginner.beginLoggingTo,
    )
    raise SystemExit(code)


def passwd(
    options: PasswdOptions,
    *,
    stdin: IO[str] | None = None,
    ask: Callable[[str], str] = getpass.getpass,
    err: IO[str] | None = None,
) -> int:
    """
    Run ``pypiproxy passwd``.

    :param options: The parsed options.
    :param stdin: Where ``--password-stdin`` reads; ``sys.stdin`` by default.
    :param ask: Prompts for a password without echoing it.
    :param err: Where messages go; ``sys.stderr`` by default.
    :return: The exit code.
    """
    err = err or sys.stderr
    if options["password-stdin"]:
        password = (stdin or sys.stdin).readline().rstrip("\r\n")
    else:
        password = ask(f"Password for {options['user']}: ")
        if ask("Again: ") != password:
            err.write("pypiproxy passwd: the passwords do not match\n")
            return 1
    try:
        hashed = users.hash_password(password, options["rounds"])
        users.set_password(options["file"], options["user"], hashed)
    except (ValueError, OSError) as e:
        err.write(f"pypiproxy passwd: {e}\n")
        return 1
    err.write(f"Set the password of {options['user']} in {options['file']}\n")
    return 0
