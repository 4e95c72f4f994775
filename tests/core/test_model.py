"""
Tests for :mod:`twisted_pypi.core.model`: the records of what a simple index
says.
"""

from __future__ import annotations

from attrs.exceptions import FrozenInstanceError
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.model import (
    NEWEST_API_VERSION,
    DistFile,
    ProjectList,
    ProjectPage,
)

SIZED = DistFile("x-1.0.tar.gz", "https://h/x-1.0.tar.gz", size=3)
UNSIZED = DistFile("x-2.0.tar.gz", "https://h/x-2.0.tar.gz")


class RecordTests(SynchronousTestCase):
    """
    The records are immutable values.
    """

    def test_mappings_copied(self) -> None:
        """
        A record keeps a copy of the mappings it was given, so changing the
        caller's mapping does not change the record; ``None`` is empty.
        """
        hashes = {"sha256": "ab"}
        dist = DistFile("x-1.0.tar.gz", "https://h/x", hashes=hashes)
        hashes["sha256"] = "cd"
        self.assertEqual(dist.hashes, {"sha256": "ab"})
        self.assertEqual(ProjectList(meta_extra=None).meta_extra, {})

    def test_frozen_and_equal(self) -> None:
        """
        Records cannot be changed, and equal fields make equal records.
        """
        with self.assertRaises(FrozenInstanceError):
            SIZED.size = 4  # type: ignore[misc]
        self.assertEqual(
            SIZED, DistFile("x-1.0.tar.gz", "https://h/x-1.0.tar.gz", size=3)
        )


class UpstreamMetadataTests(SynchronousTestCase):
    """
    Whose core metadata a file's ``core_metadata`` advertises.
    """

    def test_upstream_metadata(self) -> None:
        """
        A file has the index's metadata when the index advertised some and
        the proxy did not make it; the mark takes no part in equality.
        """
        url = "https://h/x-1.0-py3-none-any.whl"
        offered = DistFile("x-1.0-py3-none-any.whl", url, core_metadata=True)
        made = DistFile(
            "x-1.0-py3-none-any.whl", url, core_metadata=True, synthesized_metadata=True
        )
        self.assertTrue(offered.upstream_metadata)
        self.assertFalse(made.upstream_metadata)
        self.assertFalse(DistFile("x-1.0-py3-none-any.whl", url).upstream_metadata)
        self.assertFalse(
            DistFile(
                "x-1.0-py3-none-any.whl", url, core_metadata=False
            ).upstream_metadata
        )
        self.assertEqual(offered, made)


class ServedApiVersionTests(SynchronousTestCase):
    """
    :meth:`ProjectPage.served_api_version`.
    """

    def test_complete_page(self) -> None:
        """
        A page with ``versions`` and every size claims the upstream's version,
        capped at the newest this proxy knows.
        """
        page = ProjectPage("x", (SIZED,), versions=("1.0",), api_version=(1, 1))
        self.assertEqual(page.served_api_version(), (1, 1))
        newer = ProjectPage("x", (SIZED,), versions=("1.0",), api_version=(1, 99))
        self.assertEqual(newer.served_api_version(), NEWEST_API_VERSION)

    def test_incomplete_page(self) -> None:
        """
        A page without ``versions``, or with a file of unknown size, claims
        1.0 whatever the upstream declared.
        """
        no_versions = ProjectPage("x", (SIZED,), api_version=(1, 1))
        self.assertEqual(no_versions.served_api_version(), (1, 0))
        unsized = ProjectPage(
            "x", (SIZED, UNSIZED), versions=("1.0", "2.0"), api_version=(1, 1)
        )
        self.assertEqual(unsized.served_api_version(), (1, 0))
