"""
The supply-chain policy through the proxy's whole tree
(:func:`twisted_pypi.web.root.make_root`): a fake upstream whose ``demo``
was released 30 days, 3 days and 1 hour ago (by the test's clock), and
proxies with ``--min-age``, ``--min-age-exempt``, ``--deny`` and
``--policy-dry-run``.
"""

from __future__ import annotations

import json
from typing import cast

from twisted.logger import ILogObserver, LogEvent, formatEvent, globalLogPublisher

from tests.apifakes import JsonFakeIndex
from tests.fakeindex import FakeIndex
from tests.policyfakes import (
    DAY,
    JSON_ACCEPT,
    NEWEST,
    NOW,
    OLD,
    RECENT,
    PolicyProxyCase,
    iso,
)
from twisted_pypi.core.policy import Policy, parse_deny

WEEK = Policy(min_age=7 * DAY)


class MinAgeTests(PolicyProxyCase):
    """
    ``--min-age 7d``.
    """

    def test_pages(self) -> None:
        """
        Both representations of the page list only the month-old release,
        and ``versions`` only its version; without a policy all three are
        listed.
        """
        proxy = self.proxy(WEEK)
        answer = proxy.get("/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(self.listed(answer), [OLD.filename])
        self.assertEqual(json.loads(answer.body)["versions"], ["1.0"])
        html = proxy.get("/simple/demo/").body.decode()
        self.assertIn(OLD.filename, html)
        self.assertNotIn(RECENT.filename, html)
        self.assertNotIn(NEWEST.filename, html)
        plain = self.proxy().get("/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(len(self.listed(plain)), 3)

    def test_ages_in(self) -> None:
        """
        As time passes, the 3-day-old release is listed once it is a week
        old, and its file is served.
        """
        proxy = self.proxy(WEEK)
        proxy.get("/simple/demo/", headers=JSON_ACCEPT)
        proxy.clock.advance(4 * DAY + 1)
        self.assertEqual(proxy.get(proxy.file_path(RECENT.filename)).code, 200)
        answer = proxy.get("/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(self.listed(answer), [OLD.filename, RECENT.filename])

    def test_file_refused(self) -> None:
        """
        A direct request for a held-back file, or its ``.metadata``, is 403
        with the reason in plain text, and the upstream is never asked for
        it; the old release downloads.
        """
        proxy = self.proxy(WEEK)
        answer = proxy.get(proxy.file_path(RECENT.filename))
        self.assertEqual(answer.code, 403)
        self.assertEqual(answer.header("content-type"), "text/plain; charset=utf-8")
        moment = iso(NOW - 3 * DAY)[:16] + "Z"
        self.assertEqual(
            answer.body.decode(),
            f"held back: uploaded {moment}, younger than --min-age 7d\n",
        )
        metadata = proxy.get(proxy.file_path(RECENT.filename) + ".metadata")
        self.assertEqual(metadata.code, 403)
        self.assertEqual(self.index.count(f"/packages/{RECENT.filename}"), 0)
        old = proxy.get(proxy.file_path(OLD.filename))
        self.assertEqual((old.code, old.body), (200, OLD.content))

    def test_cached_file_refused(self) -> None:
        """
        A held-back file is refused even when the cache holds it (a pinned
        lockfile cannot fetch around the policy).
        """
        plain = self.proxy()
        self.assertEqual(plain.get(plain.file_path(NEWEST.filename)).code, 200)
        self.assertEqual(plain.get(plain.file_path(NEWEST.filename)).code, 200)
        proxy = self.proxy(WEEK)
        answer = proxy.get(proxy.file_path(NEWEST.filename))
        self.assertEqual(answer.code, 403)
        self.assertIn(b"younger than --min-age 7d", answer.body)
        self.assertEqual(self.index.count(f"/packages/{NEWEST.filename}"), 1)

    def test_exempt(self) -> None:
        """
        ``--min-age-exempt`` gets every release of the project, files too.
        """
        proxy = self.proxy(Policy(min_age=7 * DAY, exempt=frozenset({"demo"})))
        answer = proxy.get("/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(len(self.listed(answer)), 3)
        self.assertEqual(proxy.get(proxy.file_path(NEWEST.filename)).code, 200)

    def test_per_index(self) -> None:
        """
        An index's own ``min-age=`` wins over ``--min-age``.
        """
        proxy = self.proxy(
            Policy(min_age=7 * DAY, index_min_age={"upstream.test": 2 * DAY})
        )
        answer = proxy.get("/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(self.listed(answer), [OLD.filename, RECENT.filename])


class HtmlUpstreamTests(PolicyProxyCase):
    """
    An HTML-only upstream gives no upload times.
    """

    mode = "html"

    def test_held_back(self) -> None:
        """
        Its files are no older than the proxy's first sight of them (or of
        no known age at all): a minimum age holds back a page first seen
        now entirely, saying why; without one they are all served.
        """
        proxy = self.proxy(WEEK)
        answer = proxy.get("/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(self.listed(answer), [])
        refused = proxy.get(proxy.file_path(OLD.filename))
        self.assertEqual(refused.code, 403)
        self.assertTrue(refused.body.startswith(b"held back: "), refused.body)
        self.assertIn(b"--min-age 7d", refused.body)
        self.assertIn("--min-age 7d", proxy.get("/").body.decode())
        plain = self.proxy().get("/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(len(self.listed(plain)), 3)


class DryRunTests(PolicyProxyCase):
    """
    ``--policy-dry-run``.
    """

    def test_serves_and_logs(self) -> None:
        """
        Everything is served, and what would have been held back is logged
        once per file and counted (pages and downloads).
        """
        events: list[LogEvent] = []
        observer = cast(ILogObserver, events.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        proxy = self.proxy(Policy(min_age=7 * DAY, dry_run=True))
        for _ in range(2):
            answer = proxy.get("/simple/demo/", headers=JSON_ACCEPT)
            self.assertEqual(len(self.listed(answer)), 3)
        self.assertEqual(proxy.get(proxy.file_path(NEWEST.filename)).code, 200)
        lines = [formatEvent(e) for e in events if "Policy:" in e.get("log_format", "")]
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(all("would be held back: uploaded" in x for x in lines))
        record = proxy.stats.policy
        self.assertEqual(record.held, {("min-age", "dry-run"): 2})
        self.assertEqual(record.refused, {("min-age", "dry-run"): 1})


class DenyTests(PolicyProxyCase):
    """
    ``--deny``.
    """

    def test_version(self) -> None:
        """
        ``--deny 'demo==2.0'`` hides that version only, and refuses its
        files.
        """
        proxy = self.proxy(Policy(deny=(parse_deny("demo==2.0"),)))
        answer = proxy.get("/simple/demo/", headers=JSON_ACCEPT)
        self.assertEqual(self.listed(answer), [OLD.filename, NEWEST.filename])
        self.assertEqual(json.loads(answer.body)["versions"], ["1.0", "3.0"])
        refused = proxy.get(proxy.file_path(RECENT.filename))
        self.assertEqual(refused.code, 403)
        self.assertEqual(refused.body, b"held back: denied by --deny 'demo==2.0'\n")
        self.assertEqual(proxy.get(proxy.file_path(NEWEST.filename)).code, 200)

    def test_project(self) -> None:
        """
        ``--deny demo`` makes the page 404, saying why, without asking the
        upstream, and its files 403 (cached or not).
        """
        plain = self.proxy()
        self.assertEqual(plain.get(plain.file_path(OLD.filename)).code, 200)
        pages = self.index.count("/simple/demo/")
        proxy = self.proxy(Policy(deny=(parse_deny("demo"),)))
        page = proxy.get("/simple/demo/")
        self.assertEqual(page.code, 404)
        self.assertIn(b"held back: denied by --deny &#x27;demo&#x27;", page.body)
        for wheel in (OLD, NEWEST):
            self.assertEqual(proxy.get(proxy.file_path(wheel.filename)).code, 403)
        self.assertEqual(self.index.count("/simple/demo/"), pages)


class JsonApiTests(PolicyProxyCase):
    """
    The JSON API (``/pypi/<project>/json``) under a policy.
    """

    def make_index(self) -> FakeIndex:
        """An upstream with the JSON API."""
        return JsonFakeIndex()

    def test_releases(self) -> None:
        """
        The files held back are left out, and so are the releases left
        with none; ``--deny`` of the project makes it 404.
        """
        proxy = self.proxy(WEEK)
        data = json.loads(proxy.get("/pypi/demo/json").body)
        self.assertEqual(list(data["releases"]), ["1.0"])
        self.assertEqual(
            [f["filename"] for f in data["releases"]["1.0"]], [OLD.filename]
        )
        self.assertEqual(data["urls"], [])
        plain = json.loads(self.proxy().get("/pypi/demo/json").body)
        self.assertEqual(sorted(plain["releases"]), ["1.0", "2.0", "3.0"])
        denied = self.proxy(Policy(deny=(parse_deny("demo"),)))
        self.assertEqual(denied.get("/pypi/demo/json").code, 404)


class ReportTests(PolicyProxyCase):
    """
    What the status page and the metrics say.
    """

    def test_status_and_metrics(self) -> None:
        """
        The status page shows the policy and the latest decisions with
        their reasons; the metrics count them by rule.
        """
        proxy = self.proxy(Policy(min_age=7 * DAY, deny=(parse_deny("evil"),)))
        proxy.get("/simple/demo/")
        proxy.get(proxy.file_path(NEWEST.filename))
        status = proxy.get("/").body.decode()
        self.assertIn("Supply-chain policy", status)
        self.assertIn(RECENT.filename, status)
        self.assertIn("younger than --min-age 7d", status)
        metrics = proxy.get("/-/metrics").body.decode()
        self.assertIn(
            'pypiproxy_policy_held_back_total{mode="enforced",rule="min-age"} 2.0',
            metrics,
        )
        self.assertIn(
            'pypiproxy_policy_refused_downloads_total{mode="enforced",rule="min-age"}'
            " 1.0",
            metrics,
        )

    def test_no_policy(self) -> None:
        """
        Without a policy the status page has no policy section and nothing
        is decided.
        """
        proxy = self.proxy()
        proxy.get("/simple/demo/")
        proxy.get(proxy.file_path(NEWEST.filename))
        self.assertNotIn("Supply-chain policy", proxy.get("/").body.decode())
        self.assertEqual(list(proxy.stats.policy.latest), [])
