"""
Sample simple-index pages (PEP 691 JSON like PyPI's, PEP 503 HTML like a
Nexus-style proxy's) and shorthands for parsing them, shared by the tests of
:mod:`twisted_pypi.core.parse` and its readers.
"""

from __future__ import annotations

import json
from typing import Any

from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.parse import parse_project_page

__all__ = [
    "FILES",
    "JSON_TYPE",
    "LEGACY_FILENAMES",
    "NEXUS_HTML",
    "PAGE_URL",
    "PROVENANCE",
    "PYPI_JSON",
    "SDIST",
    "SHA_META",
    "SHA_SDIST",
    "SHA_WHEEL",
    "WHEEL",
    "file_entry",
    "html_page",
    "json_body",
    "parse_html",
    "parse_json",
    "parse_one_html",
    "parse_one_json",
]

PAGE_URL = "https://pypi.org/simple/sampleproject/"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
FILES = "https://files.pythonhosted.org/packages"
WHEEL = "sampleproject-3.0.0-py3-none-any.whl"
SDIST = "sampleproject-3.0.0.tar.gz"
SHA_WHEEL = "4f0de1e7ab3d0e6a1f5b1e8c6a9d4d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6978"
SHA_SDIST = "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1"
SHA_META = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
PROVENANCE = f"https://pypi.org/integrity/sampleproject/3.0.0/{WHEEL}/provenance"

#: Filenames real indexes list that packaging's strict filename rules refuse:
#: legacy formats, versions split wrongly at the last dash, bad wheel tags,
#: another project's file, and no version at all.
LEGACY_FILENAMES = (
    "python-dateutil-2.4.1.tar.bz2",
    "Pillow-3.1.0-rc1.tar.gz",
    "kubernetes-1.0.0-alpha.2.tar.gz",
    "joblib-0.8.3-r1.tar.gz",
    "pydantic-0.18-py36+-none-any.whl",
    "sampleproject-1.0-py2.7.egg",
    "sampleproject-1.0.win32.exe",
    "sampleproject-1.0.win32.msi",
    "sampleproject-1.0-1.noarch.rpm",
    "sampleproject-1.0.tar.bz2",
    "README",
)

#: A JSON project page shaped like PyPI's (API 1.4).
PYPI_JSON: dict[str, Any] = {
    "alternate-locations": [],
    "files": [
        {
            "core-metadata": {"sha256": SHA_META},
            "data-dist-info-metadata": {"sha256": SHA_META},
            "filename": WHEEL,
            "hashes": {"sha256": SHA_WHEEL},
            "provenance": PROVENANCE,
            "requires-python": ">=3.8",
            "size": 4662,
            "upload-time": "2024-02-14T21:20:41.123456Z",
            "url": f"{FILES}/ec/a8/5ec62d18adde/{WHEEL}",
            "yanked": False,
        },
        {
            "core-metadata": False,
            "data-dist-info-metadata": False,
            "filename": SDIST,
            "hashes": {"sha256": SHA_SDIST},
            "provenance": None,
            "requires-python": ">=3.8",
            "size": 5103,
            "upload-time": "2024-02-14T21:20:43Z",
            "url": f"{FILES}/67/a8/a2a5b2bb0d4b/{SDIST}",
            "yanked": "Broken metadata",
        },
    ],
    "meta": {"_last-serial": 22052520, "api-version": "1.4"},
    "name": "sampleproject",
    "project-status": {"status": "active", "reason": "still maintained"},
    "versions": ["2.0.0", "3.0.0", "4.0.0"],
}

#: An HTML project page like one a Nexus-style proxy serves.
NEXUS_HTML = f"""<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.0">
    <title>Links for sampleproject</title>
  </head>
  <body>
    <h1>Links for sampleproject</h1>
    <a href="../../packages/sampleproject/3.0.0/{WHEEL}#sha256={SHA_WHEEL}"
       data-requires-python="&gt;=3.8,&lt;4"
       data-dist-info-metadata="sha256={SHA_META}">{WHEEL}</a><br/>
    <A HREF="https://mirror.example.org/files/{SDIST}#SHA256={SHA_SDIST.upper()}"
       data-yanked="Use &quot;4.0&quot; instead">{SDIST}</A><br/>
  </body>
</html>
""".encode()


def json_body(page: dict[str, Any]) -> bytes:
    """
    :param page: A JSON page.
    :return: Its encoding.
    """
    return json.dumps(page).encode("utf-8")


def html_page(*anchors: str, head: str = "") -> bytes:
    """
    :param anchors: The ``<a>`` elements of the page.
    :param head: Extra content for ``<head>``.
    :return: A small HTML page.
    """
    body = "\n".join(anchors)
    return (
        f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()
    )


def file_entry(filename: str = WHEEL, **fields: Any) -> dict[str, Any]:
    """
    :param filename: The file's name.
    :param fields: Further keys of the file object.
    :return: A JSON file object with a URL on files.pythonhosted.org.
    """
    entry: dict[str, Any] = {
        "filename": filename,
        "url": f"{FILES}/aa/bb/{filename}",
        "hashes": {"sha256": SHA_WHEEL},
    }
    entry.update(fields)
    return entry


def parse_json(page: dict[str, Any]) -> ProjectPage:
    """
    :param page: A JSON page.
    :return: It, parsed.
    """
    return parse_project_page(json_body(page), JSON_TYPE, PAGE_URL, "sampleproject")


def parse_one_json(**fields: Any) -> DistFile:
    """
    :param fields: Keys of one file object (see :func:`file_entry`).
    :return: The only file of a page listing just that object.
    """
    page = parse_json({"meta": {"api-version": "1.1"}, "files": [file_entry(**fields)]})
    [f] = page.files
    return f


def parse_html(body: bytes, content_type: str | None = "text/html") -> ProjectPage:
    """
    :param body: An HTML page.
    :param content_type: Its Content-Type.
    :return: It, parsed.
    """
    return parse_project_page(body, content_type, PAGE_URL, "sampleproject")


def parse_one_html(anchor: str) -> DistFile:
    """
    :param anchor: One ``<a>`` element.
    :return: The only file of a page holding just that anchor.
    """
    [f] = parse_html(html_page(anchor)).files
    return f
