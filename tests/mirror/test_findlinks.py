"""
Tests for :mod:`twisted_pypi.mirror.findlinks`.
"""

from __future__ import annotations

from html.parser import HTMLParser

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.mirror.findlinks import FIND_LINKS, render_find_links


class _Anchors(HTMLParser):
    """Collects the attributes of every ``<a>``."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Keep an anchor's attributes."""
        if tag == "a":
            self.anchors.append(dict(attrs))


def _anchors(page: bytes) -> list[dict[str, str | None]]:
    """The anchors of an HTML page."""
    parser = _Anchors()
    parser.feed(page.decode("utf-8"))
    return parser.anchors


class FindLinksTests(SynchronousTestCase):
    """
    :func:`render_find_links`.
    """

    def test_every_file_relative_with_hash_and_python(self) -> None:
        """
        The page links every file of every project, relative to the tree's
        root, with its sha256 fragment and its ``data-requires-python``.
        """
        app = DistFile(
            filename="app-1.0-py3-none-any.whl",
            url="https://files.test/app-1.0-py3-none-any.whl",
            hashes={"sha256": "a" * 64},
            requires_python=">=3.9",
        )
        lib = DistFile(
            filename="lib 2.0.tar.gz",
            url="https://files.test/lib.tar.gz",
            hashes={"sha256": "b" * 64},
        )
        page = render_find_links(
            [
                ("app", ProjectPage(name="app", files=(app,))),
                ("lib", ProjectPage(name="lib", files=(lib,))),
            ]
        )
        self.assertEqual(
            _anchors(page),
            [
                {
                    "href": f"packages/app/{app.filename}#sha256={'a' * 64}",
                    "data-requires-python": ">=3.9",
                },
                {"href": f"packages/lib/lib%202.0.tar.gz#sha256={'b' * 64}"},
            ],
        )

    def test_name(self) -> None:
        """The page is ``find-links.html``."""
        self.assertEqual(FIND_LINKS, "find-links.html")
