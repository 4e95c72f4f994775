"""
Tests for ``/snapshot/<TIMESTAMP>/`` (:mod:`twisted_pypi.web.snapshot`): the
index as it was at a moment, through the proxy's whole tree.
"""

from __future__ import annotations

import json

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
from twisted_pypi.core.policy import Policy, parse_deny

#: Between the month-old release and the 3-day-old one.
BETWEEN = snapshot_text(NOW - 10 * DAY)

#: The same moment's date (midnight).
DATE = BETWEEN[:10]


class SnapshotPageTests(PolicyProxyCase):
    """
    A snapshot's pages.
    """

    def test_page(self) -> None:
        """
        ``/snapshot/<date between>/simple/demo/`` lists only the older
        release, in both representations, with ``versions`` to match; its
        links are relative, so they resolve below the snapshot.
        """
        proxy = self.proxy()
        answer = proxy.get(f"/snapshot/{DATE}/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(self.listed(answer), [OLD.filename])
        data = json.loads(answer.body)
        self.assertEqual(data["versions"], ["1.0"])
        self.assertTrue(data["files"][0]["url"].startswith("../../files/"))
        html = proxy.get(f"/snapshot/{BETWEEN}/simple/demo/").body.decode()
        self.assertIn(OLD.filename, html)
        self.assertNotIn(RECENT.filename, html)
        plain = proxy.get("/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(len(self.listed(plain)), 3)

    def test_files(self) -> None:
        """
        Below the snapshot, a file uploaded after it is refused with the
        reason; one from before downloads.
        """
        proxy = self.proxy()
        base = f"/snapshot/{BETWEEN}"
        refused = proxy.get(base + proxy.file_path(RECENT.filename))
        self.assertEqual(refused.code, 403)
        self.assertIn(b", after snapshot ", refused.body)
        old = proxy.get(base + proxy.file_path(OLD.filename))
        self.assertEqual((old.code, old.body), (200, OLD.content))
        self.assertEqual(proxy.get(proxy.file_path(RECENT.filename)).code, 200)

    def test_combined(self) -> None:
        """
        A snapshot combines with the policy: ``--deny`` still holds back a
        release of the snapshot.
        """
        proxy = self.proxy(Policy(deny=(parse_deny("demo==1.0"),)))
        answer = proxy.get(f"/snapshot/{BETWEEN}/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(self.listed(answer), [])

    def test_redirects_stay(self) -> None:
        """
        The redirects of a snapshot's index stay below the snapshot.
        """
        proxy = self.proxy()
        answer = proxy.get(f"/snapshot/{DATE}/simple/Demo/")
        self.assertEqual(answer.code, 301)
        self.assertEqual(
            answer.header("location"),
            f"/snapshot/{DATE}T00:00:00Z/simple/demo/",
        )
        listing = proxy.get(f"/snapshot/{DATE}/simple")
        self.assertEqual(
            listing.header("location"), f"/snapshot/{DATE}T00:00:00Z/simple/"
        )
        self.assertEqual(proxy.get(f"/snapshot/{DATE}/simple/").code, 200)

    def test_base_url(self) -> None:
        """
        With ``--base-url``, a snapshot's links are absolute and name the
        snapshot.
        """
        proxy = self.proxy(base_url="https://pypi.example/")
        answer = proxy.get(f"/snapshot/{DATE}/simple/demo/", headers=JSON_ACCEPT)
        url = json.loads(answer.body)["files"][0]["url"]
        self.assertTrue(
            url.startswith(f"https://pypi.example/snapshot/{DATE}T00:00:00Z/files/"),
            url,
        )

    def test_newest_excluded_after(self) -> None:
        """
        A snapshot after every release lists them all.
        """
        proxy = self.proxy()
        answer = proxy.get(
            f"/snapshot/{snapshot_text(NOW)}/simple/demo/", headers=JSON_ACCEPT
        )
        self.assertEqual(len(self.listed(answer)), 3)
        self.assertIn(NEWEST.filename, self.listed(answer))


class BadSnapshotTests(PolicyProxyCase):
    """
    Timestamps that are not.
    """

    def test_bad_timestamp(self) -> None:
        """
        A timestamp that is not RFC 3339 is 400, saying what to write.
        """
        proxy = self.proxy()
        for stamp in ("yesterday", "2025-02-30", "2025-06-01T12:00:00"):
            answer = proxy.get(f"/snapshot/{stamp}/simple/demo/")
            self.assertEqual(answer.code, 400, stamp)
            self.assertIn(b"Bad snapshot: ", answer.body)
        self.assertIn(b"add Z", proxy.get("/snapshot/2025-06-01T12:00/simple/").body)

    def test_no_timestamp(self) -> None:
        """
        ``/snapshot/`` itself is 404, saying how to name a moment.
        """
        answer = self.proxy().get("/snapshot/")
        self.assertEqual(answer.code, 404)
        self.assertIn(b"/snapshot/2025-06-01/simple/", answer.body)
