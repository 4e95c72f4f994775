"""
Tests for :mod:`twisted_pypi.storage.leasing`: the lease record and what a
claim answers.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.leasing import RENEW_EVERY, TTL, LeaseRecord


class LeaseRecordTests(SynchronousTestCase):
    """
    :class:`LeaseRecord`.
    """

    def test_roundtrip(self) -> None:
        """A record encodes to JSON and decodes back to itself."""
        record = LeaseRecord("http://a:8080", "pypi/https/h/f.whl", "abc", 12.5)
        self.assertEqual(LeaseRecord.decode(record.encode()), record)
        self.assertIn(b'"node": "http://a:8080"', record.encode())

    def test_not_a_lease(self) -> None:
        """Bytes that are not a lease record raise ValueError."""
        late = b'{"node": "a", "key": "k", "lease": "l", "expires": "soon"}'
        for data in (b"", b"garbage", b"[]", b'{"node": "x"}', b"\xff", late):
            with self.subTest(data=data):
                self.assertRaises(ValueError, LeaseRecord.decode, data)

    def test_live(self) -> None:
        """A record is live strictly before its expiry."""
        record = LeaseRecord("http://a", "k", "l", 100.0)
        self.assertTrue(record.live(99.9))
        self.assertFalse(record.live(100.0))

    def test_timing(self) -> None:
        """
        A lease lives at most 30 seconds unrenewed and is renewed several
        times within its life.
        """
        self.assertLessEqual(TTL, 30.0)
        self.assertLessEqual(RENEW_EVERY * 3, TTL)
