# -*- test-case-name: tests.web.test_errors -*-
"""
How a failed lookup is answered: the one place that maps a
:class:`~twisted_pypi.core.lookup.LookupFailed` to an HTTP status and its
sentence.

==============================  ====  ==================================
failure                         code  detail
==============================  ====  ==================================
``ProjectDenied`` (policy)      404   ``held back: denied by --deny ...``
``ProjectNotFound`` (other)     404   the caller's (``No such project.``)
``UpstreamTimedOut``            504   ``Upstream timed out: <reason>``
``UpstreamUnavailable`` (other) 502   ``Upstream failed: <reason>``
==============================  ====  ==================================
"""

from __future__ import annotations

from twisted.python.failure import Failure
from twisted.web.http import BAD_GATEWAY, GATEWAY_TIMEOUT, NOT_FOUND
from twisted.web.server import Request

from twisted_pypi.core.lookup import (
    LookupFailed,
    ProjectNotFound,
    UpstreamTimedOut,
    UpstreamUnavailable,
)
from twisted_pypi.sources.policyview import ProjectDenied
from twisted_pypi.web.respond import error_page

__all__ = ["NO_SUCH_PROJECT", "answer_failure", "send_failure"]

#: What a 404 says unless the caller says otherwise.
NO_SUCH_PROJECT = "No such project."


def send_failure(
    request: Request, failure: LookupFailed, *, missing: str = NO_SUCH_PROJECT
) -> None:
    """
    Answer ``request`` (and finish it) with the error page of ``failure``.

    :param request: A request nothing was written to yet.
    :param failure: Why there is nothing to serve.
    :param missing: What a 404 says.
    """
    reason = failure.reason if isinstance(failure, UpstreamUnavailable) else failure
    if isinstance(failure, ProjectDenied):
        code, detail = NOT_FOUND, failure.decision.message
    elif isinstance(failure, ProjectNotFound):
        code, detail = NOT_FOUND, missing
    elif isinstance(failure, UpstreamTimedOut):
        code, detail = GATEWAY_TIMEOUT, f"Upstream timed out: {reason}"
    else:
        code, detail = BAD_GATEWAY, f"Upstream failed: {reason}"
    error_page(request, code, detail, finish=True)


def answer_failure(
    failure: Failure, request: Request, missing: str = NO_SUCH_PROJECT
) -> None:
    """
    An errback: answer with the error page of a failed lookup (any other
    failure passes on).

    :param failure: The failure.
    :param request: A request nothing was written to yet.
    :param missing: What a 404 says.
    """
    failure.trap(LookupFailed)
    assert isinstance(failure.value, LookupFailed)
    send_failure(request, failure.value, missing=missing)
