"""
Tests for :mod:`twisted_pypi.core.sizes`.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.sizes import format_size


class FormatSizeTests(SynchronousTestCase):
    """
    :func:`format_size`, the one byte-count formatter.
    """

    def test_format_size(self) -> None:
        """
        Sizes are shown in binary units with one decimal.
        """
        self.assertEqual(
            [format_size(n) for n in (None, 0, 1023, 1024, 5 << 20, 3 << 30)],
            ["?", "0 B", "1023 B", "1.0 KiB", "5.0 MiB", "3.0 GiB"],
        )

    def test_unknown(self) -> None:
        """
        An unknown size reads as the caller's placeholder.
        """
        self.assertEqual(format_size(None, unknown="-"), "-")

    def test_largest_unit(self) -> None:
        """
        Sizes past the GiB range stay in TiB, however large.
        """
        self.assertEqual(format_size(5 << 40), "5.0 TiB")
        self.assertEqual(format_size(2048 << 40), "2048.0 TiB")
