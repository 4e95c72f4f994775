# -*- test-case-name: tests.app.test_storecompose -*-
"""
The parts of the composition root (:mod:`twisted_pypi.app.compose`) that
build a shared S3 store (``--store``): the file store over a Twisted S3
client, and the record stores over botocore's own client.

Credentials are found the standard AWS ways (environment, shared files and
``AWS_PROFILE``, roles) once, at start-up: finding them may block.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twisted.python.filepath import FilePath
from twisted.web.client import Agent, HTTPConnectionPool

from twisted_pypi.core.config import LocalConfig, ProxyConfig, StoreConfig
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.signing import Signer, load_credentials
from twisted_pypi.storage.bucketindex import BucketIndexPlace
from twisted_pypi.storage.records import LocalRecords
from twisted_pypi.storage.recordstore import IRecordStore
from twisted_pypi.storage.s3files import S3FileStore
from twisted_pypi.storage.s3place import BucketPlace
from twisted_pypi.storage.space import SpaceReport

if TYPE_CHECKING:
    from twisted_pypi.storage.bucketfiles import BucketFiles

__all__ = [
    "StoreObserver",
    "bucket_client",
    "bucket_files",
    "bucket_index_place",
    "observe_calls",
    "record_store",
    "s3_file_store",
]

#: Connections kept open to the store (ranged reads of many clients).
_PERSISTENT = 32


def s3_file_store(
    config: ProxyConfig, store: StoreConfig, reactor: Any, max_size: int | None
) -> S3FileStore:
    """
    The files of ``--store``, with ``--cache-dir`` as their spools and read
    cache.

    :param config: The settings.
    :param store: The shared store.
    :param reactor: Connects, and keeps time.
    :param max_size: The read cache's budget.
    :raise NoCredentials: If no AWS credentials are found.
    """
    client, pool = bucket_client(store, reactor, config.connect_timeout)
    place = BucketPlace(store.bucket, store.prefix)
    files = S3FileStore(client, place, FilePath(config.cache_dir), max_size, reactor)
    files.closing = pool.closeCachedConnections
    return files


def record_store(
    config: ProxyConfig,
    area: str,
    suffix: str,
    root: FilePath[str] | None = None,
    space: SpaceReport | None = None,
    observe: StoreObserver | None = None,
) -> IRecordStore:
    """
    Where records of one kind are kept: in ``--store`` if there is one
    (through botocore's blocking client: records are loaded and saved in
    the thread pool), else in ``<cache-dir>/<area>``.

    :param config: The settings.
    :param area: The records' directory (``pages``, ``pypi-json``).
    :param suffix: Their names' suffix (``.page``, ``.json``).
    :param root: The cache directory, if not ``config.cache_dir``.
    :param space: Told of full disks and successful writes (local records).
    :param observe: Told of each store request's outcome and latency (in
        the thread that made it: see :func:`observe_calls`).
    """
    store = config.store
    if store is None:
        top = root if root is not None else FilePath(config.cache_dir)
        return LocalRecords(top.child(area), suffix, space)
    from twisted_pypi.storage.s3records import S3Records  # see _blocking_client

    client = _blocking_client(config, store)
    if observe is not None:
        observe_calls(client, observe)
    return S3Records(client, BucketPlace(store.bucket, store.prefix), area, suffix)


#: Told of a store request: method, status (``None`` without an answer),
#: seconds, and why no answer came.
StoreObserver = Callable[[str, "int | None", float, str], None]


def observe_calls(client: Any, observe: StoreObserver) -> None:
    """
    Tell ``observe`` of every request a botocore client makes, by its event
    hooks (which run in the thread making the request: ``observe`` must be
    safe to call there, e.g. hand over with ``reactor.callFromThread``).

    :param client: A botocore S3 client.
    :param observe: Records a request's outcome.
    """

    def started(context: dict[str, Any], **_: Any) -> None:
        context["pypiproxy_started"] = time.monotonic()

    def ended(context: dict[str, Any], model: Any, code: int | None, why: str) -> None:
        seconds = time.monotonic() - context.get("pypiproxy_started", time.monotonic())
        method = model.http.get("method", "?") if model is not None else "?"
        observe(method, code, seconds, why)

    def answered(
        http_response: Any, context: dict[str, Any], model: Any, **_: Any
    ) -> None:
        ended(context, model, http_response.status_code, "")

    def failed(exception: Exception, context: dict[str, Any], **kwargs: Any) -> None:
        ended(context, kwargs.get("model"), None, type(exception).__name__)

    # Once per client (the page and JSON record stores share one).
    events = client.meta.events
    events.register("before-call.s3", started, unique_id="pypiproxy-started")
    events.register("after-call.s3", answered, unique_id="pypiproxy-answered")
    events.register("after-call-error.s3", failed, unique_id="pypiproxy-failed")


def bucket_files(config: ProxyConfig, store: StoreConfig) -> BucketFiles:
    """
    The files of ``--store``, for the ``cache`` commands (through
    botocore's blocking client: they run without a reactor).

    :param config: The settings.
    :param store: The shared store.
    """
    from twisted_pypi.storage.bucketfiles import BucketFiles  # see _blocking_client

    client = _blocking_client(config, store)
    return BucketFiles(client, BucketPlace(store.bucket, store.prefix))


def _blocking_client(config: ProxyConfig, store: StoreConfig) -> Any:
    """
    The botocore S3 client of the store (path-style addressing), one per
    store and timeouts in the process: the page and JSON record stores
    share it (a botocore client is thread-safe, and each one built loads
    its service model again).
    """
    return _botocore_client(
        store, config.connect_timeout, max(config.connect_timeout, config.idle_timeout)
    )


@functools.cache
def _botocore_client(
    store: StoreConfig, connect_timeout: float, read_timeout: float
) -> Any:
    """
    Build a botocore S3 client (see :func:`_blocking_client`).

    botocore, and the modules that use its client, are imported only here,
    when a store is configured: a proxy without one does not carry them
    (about ten megabytes).
    """
    from botocore.config import Config
    from botocore.session import get_session

    return get_session().create_client(
        "s3",
        endpoint_url=store.endpoint,
        region_name=store.region,
        config=Config(
            s3={"addressing_style": "path"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": 2, "mode": "standard"},
            max_pool_connections=16,
        ),
    )


def bucket_client(
    store: StoreConfig, reactor: Any, timeout: float
) -> tuple[S3Client, HTTPConnectionPool]:
    """
    A client of a bucket (``--store``'s, a private index's, an export's),
    and its connection pool (close it when done).

    :param store: The bucket, its endpoint and region.
    :param reactor: Connects, and keeps time.
    :param timeout: Seconds to connect and to wait for answers.
    :raise NoCredentials: If no AWS credentials are found.
    """
    pool = HTTPConnectionPool(reactor)
    pool.maxPersistentPerHost = _PERSISTENT
    pool.retryAutomatically = False  # a publish is not retried behind our back
    agent = Agent(reactor, pool=pool, connectTimeout=timeout)
    signer = Signer(load_credentials(), store.region)
    return S3Client(agent, store.endpoint, signer, reactor, timeout), pool


def bucket_index_place(
    config: ProxyConfig, local: LocalConfig, reactor: Any, run: Any = None
) -> BucketIndexPlace:
    """
    The place of a private index kept in a bucket (``--local
    NAME=s3://BUCKET/PREFIX``), its uploads spooled in
    ``<cache-dir>/uploads``.

    :param config: The settings.
    :param local: The private index, its bucket bound.
    :param reactor: Connects, and keeps time.
    :param run: Reads the zips of wheels put into the bucket by other means
        away from the reactor; by default at once.
    :raise NoCredentials: If no AWS credentials are found.
    """
    store = local.bucket
    assert store is not None
    client, _ = bucket_client(store, reactor, config.connect_timeout)
    spools = FilePath(config.cache_dir).child("uploads")
    if not spools.isdir():
        spools.makedirs(ignoreExistingDirectory=True)
    return BucketIndexPlace(
        client, store.bucket, store.prefix, spools.path, local.ttl, run=run
    )
