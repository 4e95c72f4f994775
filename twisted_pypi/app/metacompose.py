# -*- test-case-name: tests.app.test_metacompose -*-
"""
The parts of the composition root (:mod:`twisted_pypi.app.compose`) that
give every wheel the proxy lists its core metadata: the catalog of the
metadata the proxy made (in the record store: the cache directory or
``--store``), what is known of the origins' ranges (kept in the cache
directory), the service that makes it (:mod:`twisted_pypi.files.metadata`),
hooked to the downloads' commits, and what the pages advertise
(:mod:`twisted_pypi.sources.metaadvert`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.filepath import FilePath

from twisted_pypi.app.storecompose import record_store
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.runner import Runner
from twisted_pypi.files.download import Downloads
from twisted_pypi.files.metadata import MetadataFiles
from twisted_pypi.sources.metaadvert import MetadataAdvertiser
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.storage.metacatalog import (
    CATALOG_AREA,
    CATALOG_SUFFIX,
    MetadataCatalog,
)
from twisted_pypi.storage.rangeorigins import read_range_origins, record_range_origins
from twisted_pypi.storage.space import space_report
from twisted_pypi.upstream.ranged import RangeSupport

__all__ = ["MetadataParts", "core_metadata"]

_log = Logger()


@frozen
class MetadataParts:
    """
    What gives every wheel its core metadata.

    :ivar catalog: The hashes of the metadata the proxy made.
    :ivar support: Which origins honour ranges.
    :ivar files: Makes and finds the metadata.
    :ivar advertiser: What the pages of remote indexes advertise.
    """

    catalog: MetadataCatalog
    support: RangeSupport
    files: MetadataFiles
    advertiser: MetadataAdvertiser


def core_metadata(
    config: ProxyConfig,
    cache: FileCache,
    fetch: Callable[..., Deferred[Any]],
    reactor: Any,
    run: Runner,
    downloads: Downloads | None = None,
    count: Callable[[str], object] | None = None,
    *,
    probe: bool = True,
) -> MetadataParts:
    """
    The core metadata parts over ``cache`` (reads what is known of origins
    from the cache directory: call it before the reactor runs).

    :param config: The settings (the cache directory, the store).
    :param cache: The file store.
    :param fetch: The upstream file fetcher.
    :param reactor: The clock.
    :param run: The runner.
    :param downloads: The downloads, whose commits read the metadata of the
        wheels (and which are waited for or started when nothing else gives
        a wheel's metadata).
    :param count: Told the source of each ``.metadata`` served.
    :param probe: Whether pages may probe an unknown origin for ranges
        (not offline, nor for the commands that only read the cache).
    """
    root = FilePath(config.cache_dir)
    records = record_store(
        config,
        CATALOG_AREA,
        CATALOG_SUFFIX,
        space=space_report(cache.space, reactor),
    )
    catalog = MetadataCatalog(records)
    support = RangeSupport(read_range_origins(root))

    def keep(known: dict[str, bool]) -> None:
        """Write what is known of the origins, in the runner."""
        run(lambda: record_range_origins(root, known)).addErrback(_not_kept)

    support.changed = keep
    files = MetadataFiles(cache, catalog, fetch, reactor, run, support, count)
    if downloads is not None:
        files.downloads = downloads
        downloads.committed = files.committed
    advertiser = MetadataAdvertiser(
        catalog, support, files.probe if probe else None, reactor
    )
    return MetadataParts(catalog, support, files, advertiser)


def _not_kept(failure: Failure) -> None:
    """Log a failure to write what is known of the origins."""
    _log.warn(
        "Could not keep which upstreams honour ranges: {why}",
        why=failure.getErrorMessage(),
    )
