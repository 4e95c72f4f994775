"""
The supply-chain policy and the core metadata the proxy makes, through the
proxy's whole tree (:func:`twisted_pypi.web.root.make_root`): a fake
upstream with no PEP 658 metadata whose ``demo`` was released 30 days, 3
days and 1 hour ago, and proxies that give every wheel core metadata (as
the service does) with ``--min-age`` or under a snapshot.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.fakeindex import FakeIndex
from tests.fakes import MemoryProxy
from tests.policyfakes import (
    DAY,
    JSON_ACCEPT,
    NEWEST,
    NOW,
    OLD,
    RECENT,
    PolicyProxyCase,
)
from twisted_pypi.core.moments import snapshot_text
from twisted_pypi.core.policy import Policy

WEEK = Policy(min_age=7 * DAY)

#: Between the month-old release and the 3-day-old one.
BETWEEN = snapshot_text(NOW - 10 * DAY)


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class PolicyMetadataTests(PolicyProxyCase):
    """
    Proxies giving every wheel core metadata, in front of an index that
    offers none and honours ranges.
    """

    def make_index(self) -> FakeIndex:
        """The fake upstream: no PEP 658 metadata, ranges honoured."""
        return FakeIndex(mode=self.mode, metadata=False)

    def proxy(self, policy: Policy | None = None, **kwargs: Any) -> MemoryProxy:
        """A proxy making core metadata, with ``policy``."""
        return super().proxy(policy, synthesized=True, **kwargs)

    def page(self, proxy: MemoryProxy, path: str = "/simple/demo/") -> dict[str, Any]:
        """A JSON project page's files, by filename."""
        answer = proxy.get(path, headers=JSON_ACCEPT)
        self.assertEqual(answer.code, 200, answer.body)
        return {f["filename"]: f for f in json.loads(answer.body)["files"]}

    def asked(self, filename: str) -> int:
        """How many requests the upstream had for ``filename``."""
        return sum(1 for _, p, _ in self.index.file_log if p.endswith("/" + filename))

    def test_held_back_metadata_refused(self) -> None:
        """
        The ``.metadata`` the proxy makes for a held-back wheel is refused
        with 403 and the reason, as an upstream one is, asking the upstream
        nothing for it; a wheel the policy shows has its ``.metadata``.
        """
        proxy = self.proxy(WEEK)
        for wheel in (RECENT, NEWEST):
            before = self.asked(wheel.filename)
            answer = proxy.get(proxy.file_path(wheel.filename) + ".metadata")
            self.assertEqual(answer.code, 403)
            self.assertIn(b"younger than --min-age 7d", answer.body)
            self.assertEqual(self.asked(wheel.filename), before)
        answer = proxy.get(proxy.file_path(OLD.filename) + ".metadata")
        self.assertEqual((answer.code, answer.body), (200, OLD.metadata))

    def test_held_back_cached_metadata_refused(self) -> None:
        """
        The ``.metadata`` the proxy made and keeps for a wheel (made before
        the policy applied) is refused too, like the cached wheel.
        """
        plain = self.proxy()
        made = plain.get(plain.file_path(NEWEST.filename) + ".metadata")
        self.assertEqual((made.code, made.body), (200, NEWEST.metadata))
        proxy = self.proxy(WEEK)
        answer = proxy.get(proxy.file_path(NEWEST.filename) + ".metadata")
        self.assertEqual(answer.code, 403)

    def test_view_advertises(self) -> None:
        """
        The page the policy shows keeps the core metadata advertised for
        the wheels it lists, and is made again when the proxy learns a
        wheel's metadata hash: it then advertises that hash.
        """
        proxy = self.proxy(WEEK)
        listed = self.page(proxy)
        self.assertEqual(list(listed), [OLD.filename])
        self.assertEqual(listed[OLD.filename]["core-metadata"], True)
        made = proxy.get(proxy.file_path(OLD.filename) + ".metadata")
        self.assertEqual(made.code, 200)
        listed = self.page(proxy)
        self.assertEqual(list(listed), [OLD.filename])
        self.assertEqual(
            listed[OLD.filename]["core-metadata"], {"sha256": sha256(OLD.metadata)}
        )

    def test_snapshot(self) -> None:
        """
        Under a snapshot, the page advertises the core metadata of the
        wheels it shows, and their ``.metadata`` is served below the
        snapshot; that of a wheel uploaded after it is refused.
        """
        proxy = self.proxy()
        base = f"/snapshot/{BETWEEN}"
        listed = self.page(proxy, base + "/simple/demo/")
        self.assertEqual(list(listed), [OLD.filename])
        self.assertIn(
            listed[OLD.filename]["core-metadata"],
            (True, {"sha256": sha256(OLD.metadata)}),
        )
        answer = proxy.get(base + proxy.file_path(OLD.filename) + ".metadata")
        self.assertEqual((answer.code, answer.body), (200, OLD.metadata))
        refused = proxy.get(base + proxy.file_path(RECENT.filename) + ".metadata")
        self.assertEqual(refused.code, 403)
