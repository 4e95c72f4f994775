# -*- test-case-name: tests.app.test_analyzecli -*-
"""
``pypiproxy analyze PROJECT``: its options (the upstream, cache and dummy
options of ``serve`` plus the target and the projects) and its wiring: the
components come from :mod:`twisted_pypi.app.compose`, the work is
:func:`twisted_pypi.resolve.analyze.analyze`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from packaging.requirements import InvalidRequirement, Requirement
from twisted.python import usage

from twisted_pypi.app.logs import COMMAND_LOG_LEVEL
from twisted_pypi.app.tap import Options as ServeOptions
from twisted_pypi.app.upstreamcompose import upstream_clients
from twisted_pypi.core.config import ProxyConfig, parse_count
from twisted_pypi.core.metadata import MAX_DOWNLOAD_SIZE
from twisted_pypi.resolve.target import PLATFORM_SYNTAX, Target, full_python_version

__all__ = ["AnalyzeOptions", "main", "run_analyze"]


class AnalyzeOptions(ServeOptions):
    """
    The options of ``pypiproxy analyze``: the upstream, cache and dummy
    options of ``serve`` plus the target and the projects.
    """

    synopsis = "[options] PROJECT[SPECIFIER] ..."
    default_log_level = COMMAND_LOG_LEVEL
    longdesc = (
        "Resolve the projects' dependency tree through the upstream index for "
        "a Python version and platform (default: this interpreter), and print "
        "every dependency with its version and download size, which ones the "
        "--dummy projects replace (with everything only they pull in), the "
        "total download with and without the dummies, and --dummy flags for "
        "the heaviest packages. Progress goes to standard error."
    )
    optParameters = [
        [
            "python-version",
            None,
            None,
            "The Python version to resolve for, e.g. 3.11 [default: this one].",
        ],
        [
            "platform",
            None,
            None,
            f"The platform tag to resolve for, e.g. {PLATFORM_SYNTAX}"
            " [default: this machine].",
        ],
        ["top", None, 3, "How many --dummy flags to suggest.", parse_count],
    ]

    def opt_listen(self, description: str) -> None:
        """
        Not used: analyze does not listen (an option of serve).
        """
        raise usage.UsageError("--listen is an option of serve, not of analyze")

    def opt_offline(self) -> None:
        """
        Not used: analyze asks the upstream (an option of serve).
        """
        raise usage.UsageError("--offline is an option of serve, not of analyze")

    def parseArgs(self, *projects: str) -> None:
        """
        The projects to analyze, as requirements (``torch``,
        ``requests[socks]>=2.31``).
        """
        if not projects:
            raise usage.UsageError("give a project to analyze, e.g. 'analyze torch'")
        requirements = []
        for text in projects:
            try:
                requirement = Requirement(text)
            except InvalidRequirement as e:
                raise usage.UsageError(f"{text!r} is not a requirement: {e}") from None
            if requirement.url or requirement.marker:
                raise usage.UsageError(
                    f"{text!r}: give a project name with extras and versions"
                    " only, e.g. requests[socks]>=2.31"
                )
            requirements.append(requirement)
        self["requirements"] = tuple(requirements)

    def postOptions(self) -> None:
        """
        Build the configuration (as ``serve`` does) and the target.
        """
        super().postOptions()
        python, platform = self["python-version"], self["platform"]
        try:
            if python is not None:
                full_python_version(python)
        except ValueError as e:
            raise usage.UsageError(f"--python-version: {e}") from None
        try:
            self["target"] = Target.create(python, platform)
        except ValueError as e:
            raise usage.UsageError(f"--platform: {e}") from None


async def run_analyze(
    reactor: Any,
    options: Mapping[str, Any],
    out: TextIO,
    err: TextIO,
    max_download: int = MAX_DOWNLOAD_SIZE,
) -> int:
    """
    Resolve, print the report, and give the exit code.

    :param reactor: The running reactor.
    :param options: Parsed :class:`AnalyzeOptions`.
    :param out: Where the report goes.
    :param err: Where progress and errors go.
    :param max_download: The largest file downloaded whole to read its
        metadata (wheels are read by ranges where their origin allows).
    :return: 0, or 1 when the resolution failed.
    """
    # The command's own code, loaded when it runs (not by `pypiproxy serve`).
    from twisted_pypi.app.commandcompose import analysis_sources
    from twisted_pypi.resolve.analyze import analyze

    config: ProxyConfig = options["config"]

    def say(message: str) -> None:
        """Write a progress line to ``err`` at once."""
        err.write(message + "\n")
        err.flush()

    clients = upstream_clients(config, reactor)
    try:
        pages, metadata = analysis_sources(config, reactor, clients, say, max_download)
        return await analyze(
            options["requirements"],
            options["target"],
            pages,
            metadata,
            reactor,
            dummies=[spec.project for spec in config.dummies],
            top=options["top"],
            out=out,
            say=say,
        )
    finally:
        await clients.close()


async def main(reactor: Any, options: Mapping[str, Any]) -> None:
    """
    The ``pypiproxy analyze`` command, for ``twisted.internet.task.react``.

    :param reactor: The running reactor.
    :param options: Parsed :class:`AnalyzeOptions`.
    :raises SystemExit: With code 1 when the resolution failed.
    """
    code = await run_analyze(reactor, options, sys.stdout, sys.stderr)
    if code:
        raise SystemExit(code)
