# -*- test-case-name: tests.app.test_argorder -*-
"""
Options where users type them: before and after positional arguments
(GNU style, as pip, uv and git accept them).

:class:`twisted.python.usage.Options` stops reading options at the first
positional argument, so ``pypiproxy export DIR --cache-dir C`` would take
``--cache-dir`` for a second directory.  :func:`gnu_order` puts the
arguments in the order ``usage.Options`` reads: every option first, then
``--``, then the positional arguments in the order given.  For options with
subcommands it moves options given before the subcommand's name after it
when they belong to the subcommand (``pypiproxy --cache-dir C export DIR``).

As with GNU ``getopt``, ``--`` ends the options, and the environment
variable ``POSIXLY_CORRECT`` turns the reordering off.

:class:`GnuOptions` also names the option in the error for a value that an
option's type refuses (``--timeout: 'abc' is not a number of seconds``),
where :mod:`twisted.python.usage` says only "Parameter type enforcement
failed", and its ``--help`` ends quietly when the reader of the output went
away, under ``twistd`` too (see :mod:`twisted_pypi.app.output`).
"""

from __future__ import annotations

import getopt
import sys
from collections.abc import Sequence
from typing import Any

from twisted.python import usage

from twisted_pypi.app.output import print_and_exit

__all__ = ["GnuOptions", "gnu_order"]


def gnu_order(options: usage.Options, argv: Sequence[str]) -> list[str]:
    """
    ``argv`` in the order ``options`` reads it: options first.

    :param options: The options about to parse ``argv``.
    :param argv: The arguments as typed.
    :raises usage.UsageError: For an unknown option or one without its
        value, as the real parse would.
    """
    argv = list(argv)
    subcommands = getattr(options, "subCommands", None)
    if subcommands:
        return _subcommand_first(options, subcommands, argv)
    try:
        found, positional = getopt.gnu_getopt(argv, options.shortOpt, options.longOpt)
    except getopt.GetoptError as e:
        raise usage.UsageError(str(e)) from None
    ordered = _unparse(options, found)
    return [*ordered, "--", *positional] if positional else ordered


def _unparse(options: usage.Options, found: list[tuple[str, str]]) -> list[str]:
    """
    The arguments that give ``options`` the options ``getopt`` ``found``.
    """
    arguments: list[str] = []
    for option, value in found:
        if option.startswith("--"):
            takes_value = f"{option[2:]}=" in options.longOpt
            arguments.append(f"{option}={value}" if takes_value else option)
        else:
            takes_value = f"{option[1:]}:" in options.shortOpt
            arguments += [option, value] if takes_value else [option]
    return arguments


def _subcommand_first(
    options: usage.Options, subcommands: Sequence[Sequence[Any]], argv: list[str]
) -> list[str]:
    """
    ``argv`` with the options given before the subcommand's name that only
    the subcommand takes moved after the name (the parent's own stay).
    """
    parsers = {}
    for name, short, parser, _ in subcommands:
        parsers[name] = parser
        if short:
            parsers[short] = parser
    for i, word in enumerate(argv):
        if word == "--":
            break
        if word not in parsers:
            continue
        split = _split(options, parsers[word](), argv[:i])
        if split is not None:
            own, theirs = split
            return [*own, word, *theirs, *argv[i + 1 :]]
    return argv


def _split(
    parent: usage.Options, sub: usage.Options, argv: list[str]
) -> tuple[list[str], list[str]] | None:
    """
    The options in ``argv`` that ``parent`` takes, and those only ``sub``
    takes; ``None`` if ``argv`` is not all options of either.
    """
    shorts = parent.shortOpt + sub.shortOpt
    longs = list(dict.fromkeys([*parent.longOpt, *sub.longOpt]))
    try:
        found, rest = getopt.getopt(argv, shorts, longs)
    except getopt.GetoptError:
        return None
    if rest:
        return None
    own = [(o, v) for o, v in found if _takes(parent, o)]
    theirs = [(o, v) for o, v in found if not _takes(parent, o)]
    return _unparse(parent, own), _unparse(sub, theirs)


def _takes(options: usage.Options, option: str) -> bool:
    """
    Whether ``options`` has ``option`` (``--name`` or ``-x``).
    """
    if option.startswith("--"):
        name = option[2:]
        return name in options.longOpt or f"{name}=" in options.longOpt
    return option[1:] in options.shortOpt.replace(":", "")


class _NamedCoerce(usage.CoerceParameter):
    """
    A typed parameter whose errors name the option.
    """

    def dispatch(self, parameterName: str, value: str | None) -> None:
        """
        Convert and store ``value``.

        :raises usage.UsageError: ``--NAME: <why>`` if the value is refused.
        """
        if value is None:
            raise usage.UsageError(f"--{parameterName} needs a value")
        try:
            converted = self.coerce(value)
        except ValueError as e:
            raise usage.UsageError(f"--{parameterName}: {e}") from None
        self.options.opts[parameterName] = converted


class GnuOptions(usage.Options):
    """
    :class:`usage.Options` that read options before and after positional
    arguments, and name the option when its value is refused.
    """

    def __init__(self) -> None:
        super().__init__()
        dispatch: dict[str, Any] = self._dispatch
        for name, handler in dispatch.items():
            if isinstance(handler, usage.CoerceParameter):
                dispatch[name] = _NamedCoerce(self, handler.coerce)

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Parse ``options`` put in order by :func:`gnu_order`.

        :param options: The arguments; ``sys.argv[1:]`` when ``None``.
        """
        argv = sys.argv[1:] if options is None else options
        super().parseOptions(gnu_order(self, argv))

    def getSynopsis(self) -> str:
        """
        The usage line: for a command, the program, the commands that lead
        to it and its own synopsis (not each parent's whole usage line).
        """
        root: usage.Options = self
        names: list[str] = []
        while root.parent is not None:
            names.append(str(root.parent.subCommand))
            root = root.parent
        if not names or not isinstance(root, GnuOptions):
            return super().getSynopsis()
        program = str(getattr(root, "synopsis", "pypiproxy")).split()[0]
        own = str(getattr(self, "synopsis", "[options]")).rstrip()
        return " ".join([program, *reversed(names), own])

    def opt_help(self) -> None:
        """
        Display this help and exit.
        """
        print_and_exit(str(self))
