# -*- test-case-name: tests.app.test_storeoptions -*-
"""
The options of a node that shares a store with others (``--store``,
``--s3-endpoint``, ``--s3-region``, ``--node-url``, ``--cluster-secret``),
for the option table of :class:`twisted_pypi.app.tap.Options`, and how they
are checked together; and the check of ``--cache-dir``.

Like every option, these come from the command line, the TOML file and the
``PYPIPROXY_*`` variables alike (all read from the one table).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from twisted.python import usage

from twisted_pypi.app.indexoptions import parse_buckets
from twisted_pypi.core.cluster import parse_cluster
from twisted_pypi.core.config import ClusterConfig, LocalConfig, StoreConfig

__all__ = ["STORE_PARAMETERS", "check_cache_dir", "store_settings"]

#: The rows of the store's and the cluster's options, for ``optParameters``.
STORE_PARAMETERS: list[list[Any]] = [
    [
        "store",
        None,
        None,
        "Keep cached files, pages and JSON documents in this S3 bucket, "
        "s3://BUCKET[/PREFIX], shared by every node using it; --cache-dir "
        "then holds downloads in flight and a read cache [default: the "
        "cache directory is the store].",
    ],
    [
        "s3-endpoint",
        None,
        None,
        "The URL of the S3-compatible server of --store (SeaweedFS, MinIO, "
        "Ceph RGW...) [default: AWS's endpoint for --s3-region].",
    ],
    ["s3-region", None, None, "The region of --store [default: us-east-1]."],
    [
        "node-url",
        None,
        None,
        "The URL at which the other nodes on --store reach this node "
        "directly (not through the load balancer), e.g. http://10.0.0.5:8080; "
        "with --cluster-secret, a file one node downloads is streamed to the "
        "others' clients [default: none, no cross-node streaming].",
    ],
    [
        "cluster-secret",
        None,
        None,
        "The secret the nodes on --store share to authenticate to each "
        "other (16 characters or more), or @FILE to read it from a file; "
        "goes with --node-url [default: none].",
    ],
]


def store_settings(
    options: Mapping[str, Any], writes_to_bucket: bool = False
) -> tuple[StoreConfig | None, list[LocalConfig], ClusterConfig | None]:
    """
    The shared store, the local indexes (bound to their buckets) and the
    cluster settings from parsed options.

    :param options: The parsed options (the keys of
        :data:`STORE_PARAMETERS`, ``local`` and ``index-ttl``).
    :param writes_to_bucket: Whether the command writes to a bucket itself
        (``export s3://...``).
    :raise usage.UsageError: If a value is not usable, or the cluster
        options are given without ``--store``, saying which.
    """
    try:
        store, locals_ = parse_buckets(
            options["store"],
            options["s3-endpoint"],
            options["s3-region"],
            options["local"],
            options["index-ttl"],
            writes_to_bucket,
        )
        cluster = parse_cluster(options["node-url"], options["cluster-secret"])
    except ValueError as e:
        raise usage.UsageError(str(e)) from None
    if cluster is not None and store is None:
        raise usage.UsageError(
            "--node-url and --cluster-secret need --store: nodes stream files"
            " to each other only when they share a store"
        )
    return store, locals_, cluster


def check_cache_dir(path: str) -> None:
    """
    Refuse a cache directory that is a file or cannot be created or written.

    :param path: The absolute ``--cache-dir``.
    :raise usage.UsageError: Saying why.
    """
    existing = path
    while not os.path.exists(existing):
        parent = os.path.dirname(existing)
        if parent == existing:
            break
        existing = parent
    if not os.path.isdir(existing):
        raise usage.UsageError(f"--cache-dir {path!r}: {existing!r} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise usage.UsageError(f"--cache-dir {path!r}: {existing!r} is not writable")
