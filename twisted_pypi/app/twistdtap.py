# -*- test-case-name: tests.app.test_twistdtap -*-
"""
What ``twistd pypiproxy`` runs (the plugin in ``twisted/plugins`` names this
module): the proxy's :class:`~twisted_pypi.app.tap.Options` and
:func:`~twisted_pypi.app.tap.makeService`, but a bad option is told in one
line and the exit status is 1, as ``pypiproxy serve`` tells it.  twistd
itself would print its whole usage (over a hundred lines) before the line
that says what was wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from twisted.python import usage

from twisted_pypi.app import tap

__all__ = ["Options", "makeService"]

makeService = tap.makeService


class Options(tap.Options):
    """
    ``twistd pypiproxy``'s options: those of ``pypiproxy serve``.
    """

    def parseOptions(self, options: Sequence[str] | None = None) -> None:
        """
        Parse as :class:`~twisted_pypi.app.tap.Options` does.

        :raise SystemExit: Saying, in one line, what was wrong with an
            option (``--help`` and ``--version`` exit as usual).
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            raise SystemExit(
                f"twistd pypiproxy: error: {e} (see 'twistd pypiproxy --help')"
            ) from None
