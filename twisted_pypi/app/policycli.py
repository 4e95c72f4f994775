# -*- test-case-name: tests.app.test_policycli -*-
"""
``pypiproxy policy explain PROJECT``: for each file of a project, whether
the proxy serves it and, if not, which rule holds it back and why, under the
policy the options set (the same options as ``serve``: ``--min-age``,
``--deny``, ``--index ...,min-age=``, ``--config``...), now or at a
``--snapshot``.

The page comes from the indexes as the proxy would ask them (and lands in
the cache directory), or from the cache alone with ``--offline``; the
decisions are :func:`twisted_pypi.core.policy.decide`'s, as the proxy takes
them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from twisted.python import usage

from twisted_pypi.app.argorder import GnuOptions
from twisted_pypi.app.compose import (
    file_cache,
    local_indexes,
    make_page_caches,
    page_routers,
)
from twisted_pypi.app.logs import COMMAND_LOG_LEVEL
from twisted_pypi.app.policyoptions import snapshot_moment, snapshot_parameter
from twisted_pypi.app.tap import Options as ServeOptions
from twisted_pypi.app.upstreamcompose import upstream_clients
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.lookup import LookupFailed, UpstreamUnavailable
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.moments import format_moment
from twisted_pypi.core.names import is_valid_project_name, normalize
from twisted_pypi.core.policy import Decision, decide, file_time
from twisted_pypi.core.runner import thread_runner

__all__ = ["ExplainOptions", "PolicyCommand", "explain", "main", "run_explain"]


class ExplainOptions(ServeOptions):
    """
    The options of ``pypiproxy policy explain``: those of ``serve`` (the
    policy and the indexes) plus ``--snapshot``.
    """

    synopsis = "[options] PROJECT"
    default_log_level = COMMAND_LOG_LEVEL
    longdesc = (
        "Print, for each file of PROJECT, whether the proxy serves it under "
        "the policy the options set (--min-age, --deny, ...) and, if not, "
        "which rule holds it back and why."
    )
    optParameters = [snapshot_parameter("Explain")]

    def opt_listen(self, description: str) -> None:
        """
        Not used: explain does not listen (an option of serve).
        """
        raise usage.UsageError("--listen is an option of serve, not of explain")

    def parseArgs(self, *args: str) -> None:
        """
        The project to explain.
        """
        if len(args) != 1:
            raise usage.UsageError("give one project, e.g. 'policy explain requests'")
        project = args[0]
        if not is_valid_project_name(project):
            raise usage.UsageError(f"{project!r} is not a project name")
        self["project"] = normalize(project)

    def postOptions(self) -> None:
        """
        Build the configuration (as ``serve`` does) and read ``--snapshot``.
        """
        super().postOptions()
        self["moment"] = snapshot_moment(self)


class PolicyCommand(GnuOptions):
    """
    ``pypiproxy policy``: the supply-chain policy's commands.
    """

    synopsis = "explain [options] PROJECT"
    subCommands = [
        [
            "explain",
            None,
            ExplainOptions,
            "Show, for each file of a project, whether it is served and why not.",
        ],
    ]

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a command is required: 'policy explain PROJECT'")


def explain(
    page: ProjectPage,
    index_of: Callable[[DistFile], str],
    config: ProxyConfig,
    now: float,
    snapshot: float | None,
    out: TextIO,
) -> None:
    """
    Print the decision for each file of a page, then a summary line.

    :param page: The project's page (as the router answers for it).
    :param index_of: Gives the name of the index that lists a file.
    :param config: The settings (the policy).
    :param now: The time the decisions are taken at.
    :param snapshot: The snapshot's moment, if any.
    :param out: Where the lines go.
    """
    served = held = 0
    for dist in page.files:
        index = index_of(dist)
        decision = decide(config.policy, dist, page.name, index, now, snapshot)
        served, held = served + (not decision.held), held + decision.held
        out.write(f"{dist.filename}  [{index}]\n    {_line(decision, dist)}\n")
    when = f" at snapshot {format_moment(snapshot)}" if snapshot is not None else ""
    out.write(
        f"{page.name}{when}: {len(page.files)} files, {served} served,"
        f" {held} held back\n"
    )


def _line(decision: Decision, dist: DistFile) -> str:
    """What one file's second line says."""
    if decision.rule is not None:
        return f"{decision.rule.value}: {decision.message}"
    known = file_time(dist)
    age = f"{known[1]} {format_moment(known[0])}" if known else "upload time unknown"
    return f"served ({age})"


async def run_explain(
    reactor: Any, options: Mapping[str, Any], out: TextIO, err: TextIO
) -> int:
    """
    Look the project up and print its files' decisions.

    :param reactor: The running reactor (its time is "now").
    :param options: Parsed :class:`ExplainOptions`.
    :param out: Where the explanation goes.
    :param err: Where errors go.
    :return: 0, or 1 when the project's page could not be had.
    """
    config: ProxyConfig = options["config"]
    project = options["project"]
    clients = upstream_clients(config, reactor)
    try:
        cache = file_cache(config, reactor, bounded=False)
        run = thread_runner(reactor)
        pages = make_page_caches(config, clients.pages, reactor, cache, run)
        local = local_indexes(config, run, reactor)
        router, _ = page_routers(config, pages, cache, local)
        try:
            lookup = await (await router.get_project(project)).loaded()
        except LookupFailed as e:
            why = e.reason if isinstance(e, UpstreamUnavailable) else "not found"
            err.write(f"pypiproxy policy explain: {project}: {why}\n")
            return 1
    finally:
        await clients.close()
    page = lookup.entry.page
    assert isinstance(page, ProjectPage)
    explain(
        page,
        lookup.entry.file_index,
        config,
        reactor.seconds(),
        options["moment"],
        out,
    )
    return 0


async def main(reactor: Any, options: Mapping[str, Any]) -> None:
    """
    The ``pypiproxy policy explain`` command, for
    ``twisted.internet.task.react``.

    :param reactor: The running reactor.
    :param options: Parsed :class:`ExplainOptions`.
    :raises SystemExit: With code 1 when the page could not be had.
    """
    code = await run_explain(reactor, options, sys.stdout, sys.stderr)
    if code:
        raise SystemExit(code)
