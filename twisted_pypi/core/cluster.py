# -*- test-case-name: tests.core.test_cluster -*-
"""
What nodes of a cluster share: the settings that let them reach each other
(:class:`ClusterConfig`, from ``--node-url`` and ``--cluster-secret``), the
path of a download in flight on a node (:func:`inflight_path`), and how a
node-to-node request is signed and checked (:func:`sign`, :func:`verify`).

A request carries :data:`AUTH_HEADER`: ``<timestamp>.<mac>``, the mac an
HMAC-SHA256 under the cluster secret of the method, the request's path (as
sent, percent-encoded) and the timestamp.  It is valid for
:data:`VALIDITY` seconds either side of the receiver's clock, so a captured
header opens only that one path, briefly; the secret never travels.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import quote

from twisted_pypi.core.config import ClusterConfig, parse_http_url
from twisted_pypi.core.secrets import read_secret

__all__ = [
    "AUTH_HEADER",
    "INFLIGHT",
    "VALIDITY",
    "ClusterConfig",
    "inflight_path",
    "parse_cluster",
    "read_cluster_secret",
    "sign",
    "verify",
]

#: The header of a signed node-to-node request.
AUTH_HEADER = b"x-pypiproxy-node-auth"

#: The path (under the root) of the downloads in flight on a node.
INFLIGHT = "/-/inflight/"

#: Seconds a signature stays valid either side of its timestamp.
VALIDITY = 30.0


def read_cluster_secret(value: str) -> bytes:
    """
    The secret from a ``--cluster-secret`` value: the secret itself, or
    ``@FILE`` to read it from a file (keeping it off the command line and
    out of the process list).

    :param value: The option value.
    :raise ValueError: If the file cannot be read, or the secret is empty,
        holds white space or is shorter than 16 characters.
    """
    secret = read_secret("--cluster-secret", value, "secret", min_length=16)
    return secret.encode("utf-8")


def parse_cluster(node_url: str | None, secret: str | None) -> ClusterConfig | None:
    """
    The cluster settings from ``--node-url`` and ``--cluster-secret``.

    :param node_url: The ``--node-url`` value, if given.
    :param secret: The ``--cluster-secret`` value, if given.
    :return: The settings, or ``None`` if neither was given (a node on its
        own, or one that never streams from or to another node).
    :raise ValueError: If only one was given, or either is not valid.
    """
    if node_url is None and secret is None:
        return None
    if node_url is None or secret is None:
        raise ValueError(
            "--node-url and --cluster-secret go together: "
            "nodes need both to stream files to each other"
        )
    url = parse_http_url(node_url, "--node-url")
    return ClusterConfig(url.rstrip("/"), read_cluster_secret(secret))


def inflight_path(segments: Sequence[str]) -> str:
    """
    The path on a node of the download in flight of a file.

    :param segments: The file's place in the cache.
    :return: :data:`INFLIGHT` then the segments, percent-encoded.
    """
    return INFLIGHT + "/".join(quote(s, safe="") for s in segments)


def _mac(secret: bytes, method: bytes, path: bytes, stamp: bytes) -> bytes:
    """The hex HMAC-SHA256 of a request."""
    message = b"\n".join([method.upper(), path, stamp])
    return hmac.new(secret, message, hashlib.sha256).hexdigest().encode("ascii")


def sign(secret: bytes, method: bytes, path: bytes, now: float) -> bytes:
    """
    The :data:`AUTH_HEADER` value of a request.

    :param secret: The cluster secret.
    :param method: The request's method.
    :param path: Its path as sent (percent-encoded, without the query).
    :param now: The time, in seconds since the epoch.
    """
    stamp = b"%d" % (int(now),)
    return stamp + b"." + _mac(secret, method, path, stamp)


def verify(
    secret: bytes, method: bytes, path: bytes, value: bytes | None, now: float
) -> bool:
    """
    Whether a request's :data:`AUTH_HEADER` value is a valid signature of it
    made within :data:`VALIDITY` seconds of ``now`` (compared in constant
    time).

    :param secret: The cluster secret.
    :param method: The request's method.
    :param path: Its path as received (without the query).
    :param value: The header's value, or ``None`` if it is missing.
    :param now: The receiver's time, in seconds since the epoch.
    """
    if not value:
        return False
    stamp, dot, mac = value.strip().partition(b".")
    if not dot or not stamp.isdigit() or len(stamp) > 12:
        return False
    if abs(now - int(stamp)) > VALIDITY:
        return False
    return hmac.compare_digest(mac, _mac(secret, method, path, stamp))
