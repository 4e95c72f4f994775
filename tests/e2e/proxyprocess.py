"""
The real proxy process for end-to-end tests: ``twistd -n pypiproxy`` run as a
subprocess listening on a port of 127.0.0.1 the system picks, which the test
learns from the process's log.

The process gets an environment of its own (that of
:func:`~tests.realinstall.clean_env`, without ``PYPIPROXY_*`` settings) and
imports the very ``twisted_pypi`` the tests run, its twistd plugin included.
It is stopped (``SIGTERM``, then ``SIGKILL``) when the test ends, whatever
happened.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence

from twisted.internet import reactor
from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.interfaces import IProcessTransport
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath
from twisted.trial.unittest import TestCase

import twisted_pypi
from tests.realinstall import clean_env

__all__ = ["ProxyProcess", "start_twistd_proxy", "twistd_argv"]

#: Seconds the process may take to start listening, or to stop.
_PATIENCE = 30.0

#: The log lines that give the port: the proxy's own "Listening on ENDPOINT:
#: URL" line, or Twisted's "SITE starting on PORT".
_PORT = re.compile(
    rb"(?:Listening on \S+: http://127\.0\.0\.1:|starting on )(?P<port>\d+)"
)


def twistd_argv(options: Sequence[str]) -> list[str]:
    """
    The command that runs ``twistd -n pypiproxy`` with ``options``, logging
    to standard output, with no pid file: the ``twistd`` script beside this
    Python, else ``python -m twisted`` (the same program).

    :param options: The ``pypiproxy`` options.
    """
    script = os.path.join(os.path.dirname(sys.executable), "twistd")
    twistd = (
        [script] if os.access(script, os.X_OK) else [sys.executable, "-m", "twisted"]
    )
    return [*twistd, "-n", "--pidfile=", "--logfile=-", "pypiproxy", *options]


class ProxyProcess(ProcessProtocol):
    """
    A running ``twistd -n pypiproxy``: its log, the port it listens on, its
    end.

    :ivar log: Everything it wrote (standard output and error).
    :ivar listening: Fires with the port once the log names it; fails if
        the process ends first.
    :ivar ended: Fires with the exit code (``-1`` when ended by a signal).
    :ivar signal: The signal that ended it, if one did (twistd stopped by
        ``SIGTERM`` shuts down cleanly, then ends itself with ``SIGTERM``
        so that whoever started it knows why).
    """

    def __init__(self) -> None:
        """Not started yet."""
        self.log = b""
        self.listening: Deferred[int] = Deferred()
        self.ended: Deferred[int] = Deferred()
        self.transport: IProcessTransport | None = None
        self.signal: int | None = None

    @property
    def url(self) -> str:
        """
        The proxy's index URL (once listening).
        """
        assert self.listening.called
        match = _PORT.search(self.log)
        assert match is not None
        return f"http://127.0.0.1:{int(match['port'])}/simple/"

    def outReceived(self, data: bytes) -> None:
        """Keep the log; report the port once it appears."""
        self.log += data
        if not self.listening.called:
            match = _PORT.search(self.log)
            if match is not None:
                self.listening.callback(int(match["port"]))

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        """Report the exit code; a start that never listened fails."""
        code = getattr(reason.value, "exitCode", None)
        self.signal = getattr(reason.value, "signal", None)
        if not self.listening.called:
            self.listening.errback(
                AssertionError(
                    "twistd ended before listening:\n"
                    + self.log.decode("utf-8", "replace")
                )
            )
        self.ended.callback(code if code is not None else -1)

    async def stop(self) -> None:
        """
        Stop the process: ``SIGTERM``, then ``SIGKILL`` if it does not end
        in time.  Nothing happens if it ended already.
        """
        if self.ended.called or self.transport is None:
            return
        waiting: Deferred[None] = Deferred()

        def done(code: int) -> int:
            if not waiting.called:
                waiting.callback(None)
            return code

        self.ended.addCallback(done)
        self.transport.signalProcess("TERM")
        waiting.addTimeout(_PATIENCE, reactor)
        try:
            await waiting
        except TimeoutError:
            if not self.ended.called:
                self.transport.signalProcess("KILL")
                await self.ended


async def start_twistd_proxy(
    test: TestCase,
    home: FilePath[str],
    options: Sequence[str],
    extra_env: Mapping[str, str] | None = None,
) -> ProxyProcess:
    """
    Start ``twistd -n pypiproxy`` listening on ``tcp:0:interface=127.0.0.1``
    with ``options``, in ``home``; stopped when ``test`` ends.

    :param test: The test.
    :param home: The process's home and working directory.
    :param options: More ``pypiproxy`` options (the index, the cache dir).
    :param extra_env: More environment variables (AWS credentials, say).
    :return: The process, listening (see :attr:`ProxyProcess.url`).
    """
    env = {
        k: v
        for k, v in clean_env(home).items()
        if not k.upper().startswith("PYPIPROXY_")
    }
    # The twisted_pypi the tests import, and the twisted/plugins beside it.
    env.update(extra_env or {})
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(twisted_pypi.__file__))
    process = ProxyProcess()
    argv = twistd_argv(["--listen", "tcp:0:interface=127.0.0.1", *options])
    reactor.spawnProcess(process, argv[0], argv, env=env, path=home.path)
    test.addCleanup(lambda: Deferred.fromCoroutine(process.stop()))
    listening = process.listening
    listening.addTimeout(_PATIENCE, reactor)
    await listening
    return process
