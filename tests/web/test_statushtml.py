"""
Tests for :mod:`twisted_pypi.web.statushtml`: how durations and counts read,
and the status page's small tag patterns, flattened.
"""

from __future__ import annotations

import time

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.template import Flattenable, flattenString

from twisted_pypi.web.statushtml import (
    CSS,
    format_duration,
    group,
    kv,
    plural,
    when,
)


def flat(case: SynchronousTestCase, root: Flattenable) -> str:
    """
    ``root`` flattened to text.
    """
    return case.successResultOf(flattenString(None, root)).decode("utf-8")


class TextTests(SynchronousTestCase):
    """
    Durations and counts read naturally.
    """

    def test_durations(self) -> None:
        """
        Durations are given in their largest units; negative ones as none.
        """
        self.assertEqual(
            [format_duration(s) for s in (-1, 59, 61, 3 * 3600 + 1260, 2 * 86400)],
            ["0 s", "59 s", "1 min", "3 h 21 min", "2 d 0 h"],
        )

    def test_plural(self) -> None:
        """
        One of a thing is singular; other counts take "s", or "es" after "s".
        """
        self.assertEqual(
            [plural(1, "client"), plural(0, "client"), plural(2, "miss")],
            ["1 client", "0 clients", "2 misses"],
        )

    def test_stylesheet_needs_no_escaping(self) -> None:
        """
        The stylesheet holds nothing the flattener would escape.
        """
        self.assertFalse(set("<>&") & set(CSS))


class TagTests(SynchronousTestCase):
    """
    The tag patterns the page's sections are made of.
    """

    def test_kv(self) -> None:
        """
        Rows make a definition list; names and text values are escaped.
        """
        html = flat(self, kv([("a<b", "1 & 2"), ("c", "x")]))
        self.assertEqual(
            html,
            '<dl class="kv"><dt>a&lt;b</dt><dd>1 &amp; 2</dd><dt>c</dt><dd>x</dd></dl>',
        )

    def test_group(self) -> None:
        """
        A group is its title and its list, or its title and "None.".
        """
        self.assertEqual(
            flat(self, group("Routes", [])),
            '<h3>Routes</h3><p class="muted">None.</p>',
        )
        self.assertEqual(
            flat(self, group("Routes", [("p", "→ i")])),
            '<h3>Routes</h3><dl class="kv"><dt>p</dt><dd>→ i</dd></dl>',
        )

    def test_when(self) -> None:
        """
        A moment reads as how long ago it was, with its UTC time as a
        tooltip; no moment reads "never".
        """
        moment = 1_700_000_000.0
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))
        self.assertEqual(
            flat(self, when(moment, moment + 300)),
            f'<span title="{stamp}">5 min ago</span>',
        )
        self.assertEqual(
            flat(self, when(None, moment)), '<span class="muted">never</span>'
        )
