# -*- test-case-name: tests.files.test_follower -*-
"""
What the file layer asks of the places it streams files to.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IConsumer

__all__ = ["IFollowerSink"]


class IFollowerSink(IConsumer):
    """
    Where a follower writes a file's bytes: a consumer (the follower
    registers as its streaming producer) that can also start, finish and
    abort the body.
    """

    def start(length: int | None) -> None:
        """
        The body begins (the upstream's headers arrived).

        :param length: Its length, if known.
        """

    def finish() -> None:
        """
        Every byte was written and the file verified.
        """

    def abort() -> None:
        """
        The body cannot be completed: cut it off so that the receiver cannot
        mistake it for a whole one.  Nothing happens if the sink is gone.
        """

    def when_closed() -> Deferred[None]:
        """
        :return: A Deferred firing with ``None`` once the sink is closed:
            finished, or gone (the client left).
        """
