# -*- test-case-name: tests.app.test_output -*-
"""
Writing to standard output when its reader may have gone away
(``pypiproxy --help | head``, ``twistd pypiproxy --help | head``): the
command then ends quietly with status 1, never with a ``BrokenPipeError``
traceback nor Python's "Exception ignored" message at exit.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

__all__ = ["BROKEN_PIPE_STATUS", "discard_stdout", "print_and_exit"]

#: The exit status when the reader of standard output went away.
BROKEN_PIPE_STATUS = 1


def discard_stdout() -> None:
    """
    Send what is left in standard output's buffer, and anything written
    later, to the null device: the reader went away, and the interpreter's
    last flush must not fail loudly.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


def print_and_exit(text: str) -> NoReturn:
    """
    Print ``text`` and a newline to standard output and exit with status
    0, or quietly with :data:`BROKEN_PIPE_STATUS` if its reader went away.

    :param text: What to print (a help text, a version).
    :raises SystemExit: Always.
    """
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()
        raise SystemExit(BROKEN_PIPE_STATUS) from None
    raise SystemExit(0)
