# -*- test-case-name: tests.upstream.test_describe -*-
"""
Why talking to an upstream failed, in words an operator reads in one log
line.

Twisted's HTTP client reports a lost or refused connection as exceptions
that wrap lists of :class:`~twisted.python.failure.Failure` objects
(``ResponseFailed``, ``ResponseNeverReceived``); their messages are the
lists' ``repr``, ``[<twisted.python.failure.Failure ...ConnectionDone...>]``.
:func:`describe_error` unwraps them and names the cause plainly, never with
a URL (which may carry credentials) or a traceback.
"""

from __future__ import annotations

from twisted.internet import error
from twisted.internet.defer import CancelledError
from twisted.internet.defer import TimeoutError as DeferredTimeout
from twisted.python.failure import Failure

# Twisted's own marker of a body that ended before its length; a private
# name, but the only way to tell a cut body from other failures it wraps.
from twisted.web.http import _DataLoss

__all__ = ["describe_error"]

#: What each kind of connection failure means, most specific first.
_PHRASES: tuple[tuple[type[BaseException], str], ...] = (
    (error.ConnectionDone, "the upstream closed the connection"),
    (error.ConnectionLost, "the connection to the upstream was lost"),
    (error.ConnectionRefusedError, "the upstream refused the connection"),
    (error.DNSLookupError, "the upstream's host name could not be resolved"),
    (error.NoRouteError, "there is no route to the upstream"),
    (error.TCPTimedOutError, "the connection to the upstream timed out"),
    (error.TimeoutError, "connecting to the upstream timed out"),
    (CancelledError, "the request was cancelled"),
    (_DataLoss, "the body ended before its length"),
)


def describe_error(exc: BaseException | Failure | None) -> str:
    """
    Why a request to an upstream failed, as one short phrase.

    :param exc: What the HTTP client (or its timeout) raised, or its
        failure; a ``ResponseFailed`` or ``ResponseNeverReceived`` is
        described by the failures it wraps.
    :return: A phrase such as ``"the upstream closed the connection"``,
        without URLs or ``repr`` of Twisted objects.
    """
    if isinstance(exc, Failure):
        exc = exc.value
    if exc is None:
        return "an unknown error"
    reasons = getattr(exc, "reasons", None)
    if isinstance(reasons, list) and reasons:
        return _describe_reasons(reasons)
    if isinstance(exc, DeferredTimeout) and str(exc):
        return str(exc)  # our own timeouts say what they waited for
    if type(exc).__module__.startswith("OpenSSL"):
        return f"the TLS connection to the upstream failed: {_tls_reasons(exc)}"
    for kind, phrase in _PHRASES:
        if isinstance(exc, kind):
            return phrase
    if isinstance(exc, DeferredTimeout):
        return "the upstream did not answer in time"
    if isinstance(exc, error.ConnectError):
        detail = exc.osError or (exc.args[0] if exc.args else "")
        return f"could not connect to the upstream: {detail or type(exc).__name__}"
    return str(exc) or type(exc).__name__


def _describe_reasons(reasons: list[object]) -> str:
    """
    The phrases of wrapped failures, each once, joined; the body-ended
    marker only when nothing else says why.
    """
    phrases: list[str] = []
    for reason in reasons:
        if isinstance(reason, (Failure, BaseException)):
            phrase = describe_error(reason)
        else:
            phrase = str(reason)
        if phrase not in phrases:
            phrases.append(phrase)
    ended = describe_error(_DataLoss())
    if len(phrases) > 1 and ended in phrases:
        phrases.remove(ended)
    return "; ".join(phrases)


def _tls_reasons(exc: BaseException) -> str:
    """
    What OpenSSL says went wrong (``"certificate verify failed"``): its
    error is a list of ``(library, function, reason)`` tuples.
    """
    errors = exc.args[0] if exc.args else None
    if isinstance(errors, list):
        reasons = [str(e[-1]) for e in errors if isinstance(e, tuple) and e]
        if reasons:
            return "; ".join(reasons)
    return str(exc) or type(exc).__name__
