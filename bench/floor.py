"""
The floor of test d: nginx serving, as static files, a copy of the answers
twisted-pypi gave (its JSON project pages, with their PEP 658 metadata, the
``.metadata`` files and the wheels, at the same paths).  No proxy logic at
all, nginx's own speed: no proxy, however fast, can make an installer
faster than this server does, so its warm install time beside nginx
``proxy_cache``'s says how much of the warm-install time any proxy can
win at all (the rest is the installer's own work).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path

from bench import procs

__all__ = ["copy_answers", "static_conf"]

#: What the copy's project pages are (every installer in test d reads it).
JSON = "application/vnd.pypi.simple.v1+json"

#: The file a project's directory answers with.
INDEX = "index.v1_json"

_NGINX_STATIC = """\
    server {{
        listen {host}:{port};
        root {root};
        index {index};
    }}
"""


def _get(url: str, accept: str | None = None) -> bytes:
    """The body of a ``GET`` that must succeed."""
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        body: bytes = response.read()
        return body


def _save(root: Path, url: str, body: bytes) -> None:
    """Write ``body`` where nginx finds ``url``'s (percent-decoded) path."""
    path = root / urllib.parse.unquote(urllib.parse.urlsplit(url).path).lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def copy_answers(simple_url: str, projects: list[str], root: Path) -> int:
    """
    Copy what the proxy at ``simple_url`` answers for ``projects``: each
    project's JSON page, and each file it lists with its ``.metadata`` where
    the page advertises one.

    :param simple_url: The proxy's ``/simple/`` URL.
    :param projects: Project names.
    :param root: The document root to fill.
    :return: How many files were copied.
    """
    copied = 0
    for project in projects:
        page_url = urllib.parse.urljoin(simple_url, f"{project}/")
        body = _get(page_url, JSON)
        _save(root, page_url + INDEX, body)
        copied += 1
        for entry in json.loads(body)["files"]:
            url = urllib.parse.urljoin(page_url, entry["url"])
            _save(root, url, _get(url))
            copied += 1
            if entry.get("core-metadata"):
                _save(root, url + ".metadata", _get(url + ".metadata"))
                copied += 1
    return copied


def static_conf(root: Path, port: int) -> str:
    """
    :param root: The copy made by :func:`copy_answers`.
    :param port: The port to listen on.
    :return: The ``http`` block body of the static server.
    """
    return _NGINX_STATIC.format(host=procs.HOST, port=port, root=root, index=INDEX)
