"""
Tests for :mod:`twisted_pypi.pypijson.cache`: where an index keeps its JSON
API. Serving ``/pypi/<project>/json`` through the cache is tested in
``tests/web/test_jsonapi.py``.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.pypijson.cache import json_api_base


class JsonApiBaseTests(SynchronousTestCase):
    """
    Where an index keeps its JSON API.
    """

    def test_simple_suffix(self) -> None:
        """
        An index at ``.../simple/`` has its JSON API at ``.../pypi/``; others
        have none.
        """
        self.assertEqual(
            json_api_base("https://pypi.org/simple/"), "https://pypi.org/pypi/"
        )
        self.assertEqual(
            json_api_base("http://h:81/mirror/simple/"), "http://h:81/mirror/pypi/"
        )
        self.assertIsNone(json_api_base("https://h/root/pypi/+simple/"))
        self.assertIsNone(json_api_base("https://h/simple/extra/"))
