"""
A runner that records the work it runs, and a record store that refuses
to be called outside it: for the tests that every
:class:`~twisted_pypi.storage.recordstore.IRecordStore` call made from the
reactor goes through the injected runner (a shared store's calls block for
a round trip).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from attrs import define, field
from twisted.internet.defer import Deferred, fail, succeed
from zope.interface import implementer

from twisted_pypi.storage.recordstore import IRecordStore, Record

__all__ = ["GuardedRecords", "QueuedRunner", "RecordingRunner"]

T = TypeVar("T")


@define
class RecordingRunner:
    """
    A runner that runs work at once, noting that it runs it.

    :ivar inside: Whether work is running now.
    :ivar runs: How many pieces of work it ran.
    """

    inside: bool = False
    runs: int = 0

    def __call__(self, work: Callable[[], T]) -> Deferred[T]:
        """Run ``work`` at once, flagged as inside the runner."""
        self.runs += 1
        self.inside = True
        try:
            result = work()
        except Exception:
            return fail()
        finally:
            self.inside = False
        return succeed(result)


class QueuedRunner(RecordingRunner):
    """
    A runner that keeps the work it is given until the test runs it (as a
    pool thread would, later), so a test sees what happens while the work
    is away.

    :ivar queued: The work not run yet, with the Deferred of each.
    """

    def __init__(self) -> None:
        super().__init__()
        self.queued: list[tuple[Callable[[], Any], Deferred[Any]]] = []

    def __call__(self, work: Callable[[], T]) -> Deferred[T]:
        """Keep ``work``; it runs on :meth:`run_one` or :meth:`run_all`."""
        d: Deferred[T] = Deferred()
        self.queued.append((work, d))
        return d

    def run_one(self) -> None:
        """
        Run the oldest work kept, flagged as inside the runner, and fire its
        Deferred with the outcome.
        """
        work, d = self.queued.pop(0)
        super().__call__(work).chainDeferred(d)

    def run_all(self) -> None:
        """Run the work kept, and any it leads to, in turn."""
        while self.queued:
            self.run_one()


@implementer(IRecordStore)
@define
class GuardedRecords:
    """
    A record store that raises :class:`AssertionError` when called outside
    its runner's work, and records the calls.

    :ivar records: The store it wraps.
    :ivar runner: The runner its calls must come through.
    :ivar calls: The names of the methods called.
    """

    records: Any
    runner: RecordingRunner
    calls: list[str] = field(factory=list)

    def _check(self, name: str) -> None:
        """Record a call; refuse one from outside the runner."""
        self.calls.append(name)
        if not self.runner.inside:
            raise AssertionError(f"{name} called outside the runner")

    def load(self, index: str, key: str) -> Record | None:
        """See :meth:`IRecordStore.load`."""
        self._check("load")
        result: Record | None = self.records.load(index, key)
        return result

    def save(self, index: str, key: str, record: Record) -> bool:
        """See :meth:`IRecordStore.save`."""
        self._check("save")
        return bool(self.records.save(index, key, record))

    def remove(self, index: str, key: str) -> bool:
        """See :meth:`IRecordStore.remove`."""
        self._check("remove")
        return bool(self.records.remove(index, key))

    def keys(self, index: str) -> list[str]:
        """See :meth:`IRecordStore.keys`."""
        self._check("keys")
        return list(self.records.keys(index))

    def indexes(self) -> list[str]:
        """See :meth:`IRecordStore.indexes`."""
        self._check("indexes")
        return list(self.records.indexes())
