"""
Tests for :mod:`twisted_pypi.web.policygate`: the files the supply-chain
policy holds back are refused at ``/files/`` and ``/local/``, with the page
read only when a file's age matters.
"""

from __future__ import annotations

import os

from twisted.python.filepath import FilePath

from tests.policyfakes import DAY, NEWEST, NOW, OLD, PolicyProxyCase
from tests.wheels import build_wheel
from twisted_pypi.core.config import LocalConfig
from twisted_pypi.core.moments import snapshot_text
from twisted_pypi.core.policy import Policy, parse_deny

#: A local index's wheel, written "now".
LOCAL = build_wheel("private", "1.0")


class RemoteTests(PolicyProxyCase):
    """
    ``/files/``.
    """

    def test_deny_needs_no_page(self) -> None:
        """
        A ``--deny`` rule decides by the file's name alone: the project's
        page is not asked for.
        """
        proxy = self.proxy(Policy(deny=(parse_deny("demo==3.0"),)))
        answer = proxy.get(proxy.file_path(NEWEST.filename))
        self.assertEqual(answer.code, 403)
        self.assertEqual(self.index.count("/simple/demo/"), 0)

    def test_unlisted(self) -> None:
        """
        A file the page does not list has no known age: while a minimum
        age applies it is refused (fail closed), saying so.
        """
        proxy = self.proxy(Policy(min_age=DAY))
        answer = proxy.get(proxy.file_path("demo-9.0-py3-none-any.whl"))
        self.assertEqual(answer.code, 403)
        self.assertEqual(
            answer.body, b"held back: upload time unknown, needed by --min-age 1d\n"
        )

    def test_page_unavailable(self) -> None:
        """
        When the page cannot be had, the file is not served: the upstream's
        failure is answered.
        """
        self.index.fail["/simple/demo/"] = 503
        proxy = self.proxy(Policy(min_age=DAY))
        answer = proxy.get(proxy.file_path(OLD.filename))
        self.assertEqual(answer.code, 502)
        self.assertEqual(self.index.count(f"/packages/{OLD.filename}"), 0)

    def test_head(self) -> None:
        """
        A ``HEAD`` for a held-back file is 403 too, with no body.
        """
        proxy = self.proxy(Policy(min_age=7 * DAY))
        answer = proxy.get(proxy.file_path(NEWEST.filename), method="HEAD")
        self.assertEqual((answer.code, answer.body), (403, b""))


class LocalTests(PolicyProxyCase):
    """
    ``/local/``.
    """

    def local(self) -> LocalConfig:
        """A local index holding :data:`LOCAL`, written a day before NOW."""
        directory = FilePath(self.mktemp())
        directory.makedirs()
        wheel = directory.child(LOCAL.filename)
        wheel.setContent(LOCAL.content)
        os.utime(wheel.path, (NOW - DAY, NOW - DAY))
        return LocalConfig("wheels", directory.path)

    def test_never_aged(self) -> None:
        """
        A local index's files are never held back by the minimum age.
        """
        config = self.local()
        proxy = self.proxy(
            Policy(min_age=7 * DAY, unaged=frozenset({"wheels"})), local=[config]
        )
        self.assertEqual(proxy.get(f"/local/wheels/{LOCAL.filename}").code, 200)

    def test_denied_and_snapshot(self) -> None:
        """
        ``--deny`` holds back a local index's files too, and a snapshot
        before a local file was written refuses it.
        """
        config = self.local()
        denied = self.proxy(Policy(deny=(parse_deny("private"),)), local=[config])
        self.assertEqual(denied.get(f"/local/wheels/{LOCAL.filename}").code, 403)
        proxy = self.proxy(local=[config])
        before = snapshot_text(NOW - 2 * DAY)
        answer = proxy.get(f"/snapshot/{before}/local/wheels/{LOCAL.filename}")
        self.assertEqual(answer.code, 403)
        after = snapshot_text(NOW)
        answer = proxy.get(f"/snapshot/{after}/local/wheels/{LOCAL.filename}")
        self.assertEqual((answer.code, answer.body), (200, LOCAL.content))
