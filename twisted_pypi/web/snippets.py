# -*- test-case-name: tests.web.test_status -*-
"""
The proxy's own URL, and how to point each installer at it: the copy-paste
snippets of the status page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from twisted.web.server import Request

__all__ = ["server_url", "snippets"]

#: Hosts for which pip accepts plain HTTP without ``--trusted-host``.
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def server_url(request: Request, base_url: str | None) -> str:
    """
    The proxy's own URL, ending in ``/``: the configured base URL, else the
    request's scheme and ``Host``.

    :param request: The request being answered.
    :param base_url: The ``--base-url``, or ``None``.
    """
    if base_url is not None:
        return base_url
    host = request.getHeader(b"host") or b"localhost"
    scheme = "https" if request.isSecure() else "http"
    return f"{scheme}://{host.decode('ascii', 'replace')}/"


def snippets(url: str) -> list[tuple[str, str]]:
    """
    How to point each installer at the proxy whose root is ``url``.

    :param url: The proxy's URL, ending in ``/``.
    :return: ``(tool, commands)`` pairs.
    """
    index = url + "simple/"
    try:
        parts = urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or ""
    except ValueError:  # a malformed Host header
        scheme, host = "", ""
    trusted = ""
    if scheme == "http" and host and host not in _LOOPBACK:
        trusted = f" --trusted-host {host}"
    pip = f"pip install --index-url {index}{trusted} PACKAGE\n"
    pip += f"pip config set global.index-url {index}"
    if trusted:
        pip += f"\npip config set global.trusted-host {host}"
    return [
        ("pip", pip),
        (
            "uv",
            f"uv pip install --index-url {index} PACKAGE\n"
            f"export UV_DEFAULT_INDEX={index}",
        ),
        ("poetry", f"poetry source add --priority=primary proxy {index}"),
        ("pdm", f"pdm config pypi.url {index}"),
    ]
