# -*- test-case-name: tests.mirror.test_findlinks -*-
"""
The export's flat "find links" page, ``find-links.html`` at the tree's
root: one HTML page whose anchors point at every exported distribution
file, for ``pip install --no-index --find-links URL`` and ``uv pip install
--no-index --find-links URL`` (the form of download.pytorch.org's
``torch_stable.html``).

Installers resolve its links against the page's own URL, so they are
relative (``packages/<project>/<file>``) and the page works wherever the
tree is served, even from a plain object store that cannot map a directory
URL to its ``index.html``.  Each anchor carries the same attributes as on
the project's PEP 503 page: the ``#sha256=`` fragment, ``data-requires-python``,
``data-yanked`` and ``data-core-metadata``.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.render import render_project_html

__all__ = ["FIND_LINKS", "render_find_links"]

#: The page's name, in the export's root.
FIND_LINKS = "find-links.html"


def render_find_links(pages: Iterable[tuple[str, ProjectPage]]) -> bytes:
    """
    The find-links page listing the files of ``pages``.

    :param pages: Each exported project's name and page, in the order to
        list them.
    :return: The UTF-8 HTML page.
    """
    links: dict[int, str] = {}
    files: list[DistFile] = []
    for project, page in pages:
        for dist in page.files:
            links[id(dist)] = f"packages/{project}/{quote(dist.filename)}"
            files.append(dist)
    combined = ProjectPage(name="find-links", files=tuple(files), api_version=(1, 0))
    return render_project_html(combined, lambda dist: links[id(dist)])
