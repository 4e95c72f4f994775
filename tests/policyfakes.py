"""
A fake upstream for the supply-chain policy's tests: ``demo`` released 30
days, 3 days and 1 hour before a moment the test chooses (the test's clock,
or the wall clock for real installers), and a proxy in memory in front of it
with a policy.
"""

from __future__ import annotations

import json
import time
from typing import Any

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.apifakes import ApiProxy, JsonFakeIndex
from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import Answer, MemoryProxy
from tests.wheels import build_wheel
from twisted_pypi.core.policy import Policy

#: Seconds in a day.
DAY = 86400.0

#: The releases of ``demo``: 1.0 a month old, 2.0 three days old, 3.0 an
#: hour old.
OLD = build_wheel("demo", "1.0")
RECENT = build_wheel("demo", "2.0")
NEWEST = build_wheel("demo", "3.0")

#: How many days before "now" each release was uploaded.
AGES = {OLD.filename: 30.0, RECENT.filename: 3.0, NEWEST.filename: 1 / 24}

#: The tests' "now" in memory: 2026-01-01T00:00:00Z.
NOW = 1_767_225_600.0

#: Ask for the JSON form.
JSON_ACCEPT = {"Accept": "application/vnd.pypi.simple.v1+json"}


def iso(moment: float) -> str:
    """A moment as PyPI writes upload times."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(moment))


def add_demo(index: FakeIndex, now: float) -> FakeIndex:
    """
    Add the three releases of ``demo`` to ``index``, uploaded relative to
    ``now``.
    """
    index.add(
        "demo",
        *(
            FakeFile(wheel, upload_time=iso(now - AGES[wheel.filename] * DAY))
            for wheel in (OLD, RECENT, NEWEST)
        ),
    )
    return index


class PolicyProxyCase(SynchronousTestCase):
    """
    Proxies in memory, their clocks at :data:`NOW`, in front of one fake
    upstream (``self.index``) listing :func:`add_demo`'s releases.
    """

    mode = "json"

    def setUp(self) -> None:
        self.index = add_demo(self.make_index(), NOW)
        self.cache_dir = FilePath(self.mktemp())
        self.cache_dir.makedirs()

    def make_index(self) -> FakeIndex:
        """The fake upstream (before ``demo`` is added)."""
        return FakeIndex(mode=self.mode)

    def proxy(self, policy: Policy | None = None, **kwargs: Any) -> MemoryProxy:
        """
        A proxy with ``policy``, sharing the cache directory of the test's
        other proxies.
        """
        kind = ApiProxy if isinstance(self.index, JsonFakeIndex) else MemoryProxy
        proxy = kind(self.index, self.cache_dir, policy=policy, **kwargs)
        proxy.clock.advance(NOW - proxy.clock.seconds())
        return proxy

    def listed(self, answer: Answer) -> list[str]:
        """The filenames of a JSON project page."""
        self.assertEqual(answer.code, 200, answer.body)
        return [f["filename"] for f in json.loads(answer.body)["files"]]
