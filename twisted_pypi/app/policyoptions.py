# -*- test-case-name: tests.app.test_policyoptions -*-
"""
The options of the supply-chain policy (``--min-age``, ``--min-age-exempt``,
``--deny``, ``--policy-dry-run``; ``min-age=`` of ``--index`` is read with
the index), as a mixin of :class:`twisted_pypi.app.tap.Options`, and the
:class:`~twisted_pypi.core.policy.Policy` they make.

Like every option, these come from the command line, the TOML file and the
``PYPIPROXY_*`` variables alike (all read from the one table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twisted.python import usage

from twisted_pypi.app.indexoptions import parse_project
from twisted_pypi.core.config import IndexConfig, LocalConfig
from twisted_pypi.core.moments import parse_duration
from twisted_pypi.core.policy import Policy, parse_deny

__all__ = ["POLICY_FLAGS", "POLICY_PARAMETERS", "PolicyOptions"]

#: The rows of the policy's flags, for ``optFlags``.
POLICY_FLAGS: list[list[Any]] = [
    [
        "policy-dry-run",
        None,
        "Hold nothing back: log and count what --min-age and --deny would "
        "hold back, to try a policy before enforcing it.",
    ],
]

#: The rows of the policy's parameters, for ``optParameters``.
POLICY_PARAMETERS: list[list[Any]] = [
    [
        "min-age",
        None,
        None,
        "Hold back files uploaded less than this long ago, e.g. 7d, 36h or "
        "90m (a release cool-down; an index may set its own with "
        "--index ...,min-age=); local indexes are never held back "
        "[default: 0, off].",
        parse_duration,
    ],
]


class PolicyOptions(usage.Options):
    """
    The policy's repeatable options and the policy they make (mixed into
    the proxy's options; its table takes :data:`POLICY_FLAGS` and
    :data:`POLICY_PARAMETERS`).
    """

    def __init__(self) -> None:
        super().__init__()
        self["min-age-exempt"] = set()
        self["deny"] = []

    def opt_min_age_exempt(self, project: str) -> None:
        """
        A project --min-age never holds back, for a fix needed today
        (repeatable).
        """
        try:
            self["min-age-exempt"].add(parse_project(project, "--min-age-exempt"))
        except ValueError as e:
            raise usage.UsageError(str(e)) from None

    def opt_deny(self, spec: str) -> None:
        """
        Hold back the files a PEP 508 requirement matches, e.g. evilpkg (the
        whole project: its page is 404), urllib3<2 or requests==2.32.0
        (repeatable).
        """
        try:
            self["deny"].append(parse_deny(spec))
        except ValueError as e:
            raise usage.UsageError(str(e)) from None

    def policy(
        self, indexes: Sequence[IndexConfig], locals_: Sequence[LocalConfig]
    ) -> Policy:
        """
        The policy these options set.

        :param indexes: The remote indexes (their own ``min-age=``).
        :param locals_: The local indexes (never held back by age).
        """
        return Policy(
            min_age=self["min-age"] or 0.0,
            index_min_age={i.name: i.min_age for i in indexes if i.min_age is not None},
            unaged=frozenset(local.name for local in locals_),
            exempt=frozenset(self["min-age-exempt"]),
            deny=tuple(self["deny"]),
            dry_run=bool(self["policy-dry-run"]),
        )
