"""
The proxy's settings, as frozen records, and the parsers that turn option
strings into them.

Every parser raises :class:`ValueError` with a message fit for a user; the
command-line layer turns it into a ``UsageError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from attrs import field, frozen

from twisted_pypi.core.dummyspec import DummySpec
from twisted_pypi.core.links import LinkPrefixes
from twisted_pypi.core.policy import Policy

__all__ = [
    "DEFAULT_INDEX",
    "ClusterConfig",
    "IndexConfig",
    "LocalConfig",
    "ProxyConfig",
    "StoreConfig",
    "index_name_for",
    "parse_bucket_url",
    "parse_count",
    "parse_http_url",
    "parse_s3_endpoint",
    "parse_seconds",
    "parse_size",
    "parse_store",
]

#: The upstream index used when none is given.
DEFAULT_INDEX = "https://pypi.org/simple/"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """
    A size such as ``500M``, ``20G``, ``1.5GiB`` or ``1048576`` in bytes.

    Units are binary (``1K`` is 1024 bytes).

    :param text: The size as the user wrote it.
    :raises ValueError: If ``text`` is not a positive size.
    """
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a size: use a number of bytes or a number with "
            "K, M, G or T, for example 500M or 20G"
        )
    size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise ValueError(f"{text!r}: the size must be larger than zero")
    return size


def parse_seconds(text: str) -> float:
    """
    A non-negative duration in seconds.

    :param text: The number as the user wrote it.
    :raises ValueError: If ``text`` is not a non-negative number.
    """
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{text!r}: the number of seconds must be 0 or more")
    return value


def parse_count(text: str, minimum: int = 0) -> int:
    """
    A whole number of at least ``minimum``.

    :param text: The number as the user wrote it.
    :param minimum: The smallest value allowed.
    :raises ValueError: If ``text`` is not such a number.
    """
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise ValueError(f"{text!r}: use {minimum} or more")
    return value


def parse_http_url(text: str, what: str) -> str:
    """
    An absolute ``http`` or ``https`` URL, with a trailing slash added.

    :param text: The URL as the user wrote it.
    :param what: What the URL is for, used in the error message.
    :raises ValueError: If ``text`` is not an absolute http(s) URL.
    """
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 -- validates the port
    except ValueError as e:
        raise ValueError(f"{what} {text!r} is not a valid URL: {e}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} {text!r} must be an absolute http:// or https:// URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} {text!r} must not have a query or fragment")
    return text if text.endswith("/") else text + "/"


def index_name_for(url: str) -> str:
    """
    The default name of an index: its host, with the port when one is given.

    :param url: The index URL.
    """
    parts = urlsplit(url)
    host = parts.hostname or "index"
    return f"{host}:{parts.port}" if parts.port else host


@frozen
class IndexConfig:
    """
    One upstream simple index.

    :ivar name: A short name, used in file URLs, cache paths and logs.
    :ivar url: The index's base URL, ending in ``/``, without credentials.
    :ivar ttl: Seconds a cached page from this index stays fresh.
    :ivar username: The user for HTTP basic auth, or ``None``.
    :ivar password: The password for HTTP basic auth (never shown in ``repr``).
    :ivar min_age: The index's own minimum age of the files it serves
        (``min-age=``), in seconds, or ``None`` for ``--min-age``'s.
    """

    name: str
    url: str
    ttl: float = 600.0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    min_age: float | None = None

    @property
    def credentials(self) -> tuple[str, str] | None:
        """
        ``(username, password)`` when the index needs HTTP basic auth.
        """
        if self.username is None:
            return None
        return (self.username, self.password or "")


@frozen
class LocalConfig:
    """
    A directory of wheels and sdists served as an index of its own.

    :ivar name: A short name, used in URLs and logs.
    :ivar path: The directory, absolute, or ``s3://BUCKET/PREFIX/``.
    :ivar bucket: For a bucket: the bucket, its prefix, endpoint and region
        (the ``--s3-*`` options); ``None`` for a directory (or a bucket
        whose options are not known yet).
    :ivar ttl: Seconds a bucket's listing stays good (the page TTL).
    """

    name: str
    path: str
    bucket: StoreConfig | None = None
    ttl: float = 600.0


#: A bucket name as S3 allows it (path-style addressing).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

#: A region name (``us-east-1``, ``eu-central-2``...).
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,49}$")


@frozen
class StoreConfig:
    """
    The S3 bucket (``--store``) that holds the cached files, page records
    and JSON documents of every node sharing it.

    :ivar bucket: The bucket's name.
    :ivar prefix: ``""``, or the path of every key, ending in ``/``.
    :ivar endpoint: The store's URL, without a path.
    :ivar region: The region requests are signed for.
    """

    bucket: str
    prefix: str
    endpoint: str
    region: str = "us-east-1"

    @property
    def url(self) -> str:
        """``s3://BUCKET/PREFIX``, as the user gave it."""
        return f"s3://{self.bucket}/{self.prefix}"


@frozen
class ClusterConfig:
    """
    How this node takes part in a cluster (``--node-url`` and
    ``--cluster-secret``; parsed by
    :func:`twisted_pypi.core.cluster.parse_cluster`).

    :ivar node_url: The URL at which the other nodes reach this node
        directly (not through the load balancer), without a trailing slash.
    :ivar secret: The shared secret nodes sign their requests with (never
        in the repr, never logged).
    """

    node_url: str
    secret: bytes = field(repr=False)


def parse_bucket_url(url: str, what: str) -> tuple[str, str]:
    """
    ``s3://BUCKET[/PREFIX]`` as its bucket and prefix (``""`` or ending in
    ``/``).

    :param url: The value.
    :param what: The option, for messages.
    :raises ValueError: If it is not that.
    """
    scheme, sep, rest = url.partition("://")
    if scheme != "s3" or not sep:
        raise ValueError(f"{what} {url!r} must be s3://BUCKET or s3://BUCKET/PREFIX")
    bucket, _, path = rest.partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ValueError(
            f"{what} {url!r}: {bucket!r} is not a bucket name (3 to 63 lower-case"
            " letters, digits, dots and hyphens)"
        )
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") or not p.isprintable() for p in parts):
        raise ValueError(f"{what} {url!r}: the prefix {path!r} is not a plain path")
    return bucket, "".join(p + "/" for p in parts)


def parse_s3_endpoint(endpoint: str | None, region: str | None) -> tuple[str, str]:
    """
    ``--s3-endpoint`` and ``--s3-region``, with their defaults.

    :return: The endpoint (without a trailing ``/``) and the region.
    :raises ValueError: If a value is not usable, saying which.
    """
    region = region or "us-east-1"
    if not _REGION.match(region):
        raise ValueError(f"--s3-region {region!r} is not a region name")
    if endpoint is None:
        endpoint = f"https://s3.{region}.amazonaws.com"
    else:
        endpoint = parse_http_url(endpoint, "--s3-endpoint")
        parts_of = urlsplit(endpoint)
        if parts_of.path != "/" or parts_of.username is not None:
            raise ValueError(
                f"--s3-endpoint {parts_of.hostname!r}: give the URL without a path"
                " or credentials (they come from the AWS environment)"
            )
    return endpoint.rstrip("/"), region


def parse_store(
    url: str | None,
    endpoint: str | None,
    region: str | None,
    *,
    other_buckets: bool = False,
) -> StoreConfig | None:
    """
    ``--store s3://BUCKET[/PREFIX]`` with ``--s3-endpoint`` and
    ``--s3-region``.

    :param url: The ``--store`` value, or ``None`` (then there is no shared
        store, and neither of the others may be given unless
        ``other_buckets``).
    :param endpoint: The ``--s3-endpoint`` value, or ``None`` for AWS's
        endpoint of the region.
    :param region: The ``--s3-region`` value, or ``None`` for ``us-east-1``.
    :param other_buckets: Whether other options (``--local
        NAME=s3://...``) use the endpoint and region.
    :raises ValueError: If a value is not usable, saying which.
    """
    if url is None:
        if not other_buckets and (endpoint is not None or region is not None):
            raise ValueError("--s3-endpoint and --s3-region need --store")
        return None
    bucket, prefix = parse_bucket_url(url, "--store")
    endpoint, region = parse_s3_endpoint(endpoint, region)
    return StoreConfig(bucket, prefix, endpoint, region)


@frozen
class ProxyConfig:
    """
    Everything the proxy service needs to know.

    :ivar listen: Twisted server endpoint strings to listen on.
    :ivar indexes: The upstream indexes, highest priority first.
    :ivar cache_dir: The directory that holds cached pages and files.
    :ivar cache_size: The most bytes the file cache may hold, or ``None``.
    :ivar base_url: The external URL of the proxy (ending in ``/``) when it sits
        behind another server, or ``None`` to emit relative links.
    :ivar connect_timeout: Seconds to wait for an upstream connection and its
        response headers.
    :ivar idle_timeout: Seconds an upstream body may stay silent.
    :ivar header_timeout: Seconds a client has to send a request's line and
        headers (``--header-timeout``), or ``None`` for no deadline.
    :ivar stale_wait: Seconds a client waits for a page refresh before a stale
        copy is served instead.
    :ivar max_page_size: The largest upstream project page accepted, in bytes.
    :ivar max_list_size: The largest upstream project list accepted, in bytes.
    :ivar dummies: Projects answered with generated placeholder wheels.
    :ivar locals: Local indexes; they rank above every remote index.
    :ivar routes: Project (normalized) to the name of the one index that
        serves it.
    :ivar merge: Projects (normalized) whose files are merged from every
        index that has them, the first index winning on a filename.
    :ivar offline: Make no outbound connection: serve only what the cache
        holds (see ``docs/offline.md``).
    :ivar admin_token: The token that ``DELETE`` requests under
        ``/-/cache/`` must carry, or ``None`` to turn cache control over
        HTTP off (never shown in ``repr``).
    :ivar access_log: The file that gets one Combined Log Format line per
        request, or ``None``.
    :ivar store: The shared S3 store, or ``None``: the cache directory is
        the store.
    :ivar cluster: How this node reaches the other nodes sharing the store,
        or ``None``: it never streams files from or to them.
    :ivar policy: The supply-chain policy: what is held back
        (``--min-age``, ``--deny``...; see :mod:`twisted_pypi.core.policy`).
    :ivar links: The prefixes of the links on served pages, from
        ``base_url`` (not an argument).
    """

    listen: tuple[str, ...] = ("tcp:8080",)
    indexes: tuple[IndexConfig, ...] = field(
        factory=lambda: (IndexConfig(index_name_for(DEFAULT_INDEX), DEFAULT_INDEX),)
    )
    cache_dir: str = "."
    cache_size: int | None = None
    base_url: str | None = None
    connect_timeout: float = 10.0
    idle_timeout: float = 30.0
    header_timeout: float | None = 20.0
    stale_wait: float = 3.0
    max_page_size: int = 64 << 20
    max_list_size: int = 512 << 20
    dummies: tuple[DummySpec, ...] = ()
    locals: tuple[LocalConfig, ...] = ()
    routes: Mapping[str, str] = field(factory=dict)
    merge: frozenset[str] = frozenset()
    upload_users: str | None = None
    max_upload_size: int = 100 << 20
    offline: bool = False
    admin_token: str | None = field(default=None, repr=False)
    access_log: str | None = None
    store: StoreConfig | None = None
    cluster: ClusterConfig | None = None
    policy: Policy = field(factory=Policy)
    links: LinkPrefixes = field(init=False, eq=False, repr=False)

    @links.default
    def _links(self) -> LinkPrefixes:
        """
        Built once, from ``base_url``.
        """
        return LinkPrefixes.for_base_url(self.base_url)
