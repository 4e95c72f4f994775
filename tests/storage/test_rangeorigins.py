"""
Tests for :mod:`twisted_pypi.storage.rangeorigins`: which origins honour
ranges, kept in the cache directory.
"""

from __future__ import annotations

import json

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.rangeorigins import (
    RANGES_FILE,
    read_range_origins,
    record_range_origins,
)


class RangeOriginsTests(SynchronousTestCase):
    """
    :func:`record_range_origins` and :func:`read_range_origins`.
    """

    def setUp(self) -> None:
        self.root = FilePath(self.mktemp())

    def test_missing(self) -> None:
        """
        Without a file, nothing is known.
        """
        self.assertEqual(read_range_origins(self.root), {})

    def test_round_trip(self) -> None:
        """
        What is recorded is read back, in a versioned file in the cache
        directory (made if need be).
        """
        known = {"https://b.example": False, "http://a.example:8080": True}
        record_range_origins(self.root, known)
        self.assertEqual(read_range_origins(self.root), known)
        data = json.loads(self.root.child(RANGES_FILE).getContent())
        self.assertEqual(data["version"], 1)

    def test_unreadable(self) -> None:
        """
        A file that is not JSON of the expected shape knows nothing; entries
        that are not http(s) origins with a boolean are left out.
        """
        self.root.makedirs()
        path = self.root.child(RANGES_FILE)
        path.setContent(b"not json")
        self.assertEqual(read_range_origins(self.root), {})
        path.setContent(b'{"origins": []}')
        self.assertEqual(read_range_origins(self.root), {})
        path.setContent(
            json.dumps(
                {
                    "origins": {
                        "https://ok.example": True,
                        "ftp://no.example": True,
                        "https://nope.example": "yes",
                    }
                }
            ).encode()
        )
        self.assertEqual(read_range_origins(self.root), {"https://ok.example": True})
