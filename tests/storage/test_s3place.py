"""
Tests for :mod:`twisted_pypi.storage.s3place`: the key layout in a bucket.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.storage.s3place import BucketPlace


class BucketPlaceTests(SynchronousTestCase):
    """
    Keys in a bucket follow the layout of a local cache directory.
    """

    def test_file_key(self) -> None:
        """
        A file's object key is ``PREFIX/files/`` and its segments.
        """
        place = BucketPlace("b", "team/")
        key = ("pypi", "https", "h", "six-1.0.whl")
        self.assertEqual(place.file_key(key), "team/files/pypi/https/h/six-1.0.whl")
        self.assertEqual(place.key_of(place.file_key(key)), key)
        self.assertEqual(
            BucketPlace("b").file_key(key), "files/pypi/https/h/six-1.0.whl"
        )
        self.assertEqual(str(place), "s3://b/team/")

    def test_foreign_keys(self) -> None:
        """
        Object keys outside ``files/`` or with an unsafe segment hold no file;
        unsafe file keys are refused.
        """
        place = BucketPlace("b", "team/")
        self.assertIsNone(place.key_of("team/pages/pypi/six.page"))
        self.assertIsNone(place.key_of("team/files/pypi/../x"))
        self.assertIsNone(place.key_of("files/pypi/x"))
        self.assertRaises(ValueError, place.file_key, ("pypi", ".."))
        self.assertRaises(ValueError, place.file_key, ())

    def test_area_prefix(self) -> None:
        """
        Records of a kind live under ``PREFIX/<area>/``; ``files`` is not an
        area.
        """
        place = BucketPlace("b", "team/")
        self.assertEqual(place.area_prefix("pages"), "team/pages/")
        self.assertRaises(ValueError, place.area_prefix, "files")
        self.assertRaises(ValueError, place.area_prefix, "a/b")
