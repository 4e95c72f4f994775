# -*- test-case-name: tests.app.test_warmcli -*-
"""
``pypiproxy warm``: its options (those of ``serve`` that choose the indexes,
the cache and the dummies, plus the requirements and the targets) and its
wiring: the components come from :mod:`twisted_pypi.app.compose`, the work
is :func:`twisted_pypi.mirror.warm.warm`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, TextIO

from attrs import evolve
from packaging.requirements import Requirement
from twisted.python import usage

from twisted_pypi.app.cachedindexes import remember_indexes
from twisted_pypi.app.logs import COMMAND_LOG_LEVEL
from twisted_pypi.app.policyoptions import snapshot_moment, snapshot_parameter
from twisted_pypi.app.tap import Options as ServeOptions
from twisted_pypi.app.upstreamcompose import upstream_clients
from twisted_pypi.core.config import ProxyConfig, parse_count
from twisted_pypi.core.runner import thread_runner
from twisted_pypi.mirror.reqfile import (
    RequirementsError,
    parse_requirement_args,
    parse_requirements_file,
)
from twisted_pypi.resolve.target import (
    Target,
    compatible_platforms,
    full_python_version,
)

__all__ = ["WarmOptions", "main", "run_warm"]


class WarmOptions(ServeOptions):
    """
    The options of ``pypiproxy warm``: the index, cache and dummy options of
    ``serve``, the requirements and the target environments.
    """

    synopsis = "[options] [-r FILE ...] [REQUIREMENT ...]"
    default_log_level = COMMAND_LOG_LEVEL
    longdesc = (
        "Resolve the requirements (from -r files and the arguments) with their "
        "dependencies for every target environment, and put into the cache "
        "directory every page, .metadata and file an install there needs: the "
        "best wheel of each project, else its sdist, and what building the "
        "sdists needs. Targets are the cross product of --python-version and "
        "--platform (default: this interpreter on this machine). Safe while a "
        "proxy runs on the same cache directory; files already cached are not "
        "downloaded again. The supply-chain policy (--min-age, --deny, ...) "
        "applies as the proxy applies it: what it holds back is not chosen, "
        "so the cache gets what a client of the proxy may install (at "
        "--snapshot, what the snapshot serves). Progress and a summary go to "
        "standard error; the exit code is 1 if anything could not be resolved "
        "or fetched."
    )
    optParameters = [
        [
            "concurrency",
            None,
            4,
            "How many files to download at once.",
            lambda text: parse_count(text, 1),
        ],
        snapshot_parameter("Warm"),
    ]

    def __init__(self) -> None:
        """
        Start with no requirements files and no explicit targets.
        """
        super().__init__()
        self["requirement-files"] = []
        self["python-versions"] = []
        self["platforms"] = []

    def opt_requirement(self, path: str) -> None:
        """
        A requirements file in pip's format (repeatable).
        """
        self["requirement-files"].append(path)

    opt_r = opt_requirement

    def opt_python_version(self, version: str) -> None:
        """
        A Python version to warm for, e.g. 3.11 (repeatable) [default: this
        one].
        """
        try:
            full_python_version(version)
        except ValueError as e:
            raise usage.UsageError(f"--python-version: {e}") from None
        self["python-versions"].append(version)

    def opt_platform(self, platform: str) -> None:
        """
        A platform tag to warm for (repeatable), e.g. manylinux_2_28_x86_64,
        macosx_11_0_arm64, win_amd64 [default: this machine].
        """
        try:
            compatible_platforms(platform)
        except ValueError as e:
            raise usage.UsageError(f"--platform: {e}") from None
        self["platforms"].append(platform)

    def opt_listen(self, description: str) -> None:
        """
        Ignored: an option of serve (accepted so that warm can read the
        proxy's --config file).
        """

    def opt_offline(self) -> None:
        """
        Ignored: an option of serve (warm always asks the indexes).
        """

    def parseArgs(self, *requirements: str) -> None:
        """
        Requirements given as arguments (``requests[socks]>=2.31``).
        """
        self["requirement-args"] = requirements

    def postOptions(self) -> None:
        """
        Build the configuration (as ``serve`` does), read the requirements
        and make the targets.
        """
        super().postOptions()
        warnings: list[str] = []
        requirements: list[Requirement] = []
        try:
            for path in self["requirement-files"]:
                parsed = parse_requirements_file(path)
                requirements += parsed.requirements
                warnings += parsed.warnings
            requirements += parse_requirement_args(self["requirement-args"])
        except RequirementsError as e:
            raise usage.UsageError(str(e)) from None
        if not requirements:
            raise usage.UsageError(
                "nothing to warm: give -r requirements.txt or requirements"
            )
        self["requirements"] = tuple(requirements)
        self["warnings"] = tuple(warnings)
        targets: list[Target] = []
        for python in self["python-versions"] or [None]:
            for platform in self["platforms"] or [None]:
                target = Target.create(python, platform)
                if target not in targets:
                    targets.append(target)
        self["targets"] = tuple(targets)
        self["moment"] = snapshot_moment(self)


async def run_warm(reactor: Any, options: Mapping[str, Any], err: TextIO) -> int:
    """
    Warm the cache and print a summary.

    :param reactor: The running reactor.
    :param options: Parsed :class:`WarmOptions`.
    :param err: Where progress, the summary and problems go.
    :return: 0, or 1 when something could not be resolved or fetched.
    """
    # The command's own code, loaded when it runs (not by `pypiproxy serve`).
    from twisted_pypi.app.commandcompose import cache_filler
    from twisted_pypi.mirror.warm import warm

    config: ProxyConfig = options["config"]

    def say(message: str) -> None:
        """Write a progress line to ``err`` at once."""
        err.write(message + "\n")
        err.flush()

    for warning in options["warnings"]:
        say(f"warning: {warning}")
    config = evolve(config, offline=False)  # the proxy's, not warm's
    # Export and serve --offline find the indexes by it.
    await thread_runner(reactor)(lambda: remember_indexes(config))
    clients = upstream_clients(config, reactor)
    try:
        filler = cache_filler(
            config,
            reactor,
            clients,
            say,
            options["concurrency"],
            options.get("moment"),
        )
        return await warm(
            filler,
            reactor,
            options["requirements"],
            options["targets"],
            say,
        )
    finally:
        await clients.close()


async def main(reactor: Any, options: Mapping[str, Any]) -> None:
    """
    The ``pypiproxy warm`` command, for ``twisted.internet.task.react``.

    :param reactor: The running reactor.
    :param options: Parsed :class:`WarmOptions`.
    :raises SystemExit: With code 1 when something could not be warmed.
    """
    code = await run_warm(reactor, options, sys.stderr)
    if code:
        raise SystemExit(code)
