# -*- test-case-name: tests.app.test_exportcli -*-
"""
``pypiproxy export DIR`` (or ``s3://BUCKET/PREFIX``): its options (those of
``serve`` that choose the indexes, the cache and the dummies, and where to)
and its wiring: the
components come from :mod:`twisted_pypi.app.compose`, the work is
:func:`twisted_pypi.mirror.export.export_tree`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from twisted.python import usage
from twisted.python.filepath import FilePath

from twisted_pypi.app.logs import COMMAND_LOG_LEVEL
from twisted_pypi.app.policyoptions import snapshot_moment, snapshot_parameter
from twisted_pypi.app.storecompose import bucket_client
from twisted_pypi.app.tap import Options as ServeOptions
from twisted_pypi.core.config import (
    ProxyConfig,
    StoreConfig,
    parse_bucket_url,
    parse_s3_endpoint,
)
from twisted_pypi.objectstore.errors import S3Error
from twisted_pypi.objectstore.signing import NoCredentials

if TYPE_CHECKING:
    from twisted_pypi.mirror.exporttree import ExportTree

__all__ = ["ExportOptions", "main", "run_export"]


class ExportOptions(ServeOptions):
    """
    The options of ``pypiproxy export``: those of ``serve`` that choose the
    indexes, the cache and the dummies, and the directory.
    """

    synopsis = "[options] DIR|s3://BUCKET/PREFIX"
    default_log_level = COMMAND_LOG_LEVEL
    longdesc = (
        "Write what the cache holds, as an --offline proxy with the same options "
        "would serve it, to DIR as a static index: PEP 503 HTML and PEP 691 JSON "
        "pages under DIR/simple/, files under DIR/packages/, with relative "
        "links. Only projects that changed since the last export to DIR are "
        "rewritten. Nothing is fetched. s3://BUCKET/PREFIX writes the same tree "
        "to a bucket (--s3-endpoint, --s3-region), with content types set, for "
        "its website endpoint or a CDN; objects already there are kept. The "
        "supply-chain policy (--min-age, --deny, ...) applies at the time of "
        "the export (or at --snapshot): what it holds back is left out."
    )
    optParameters = [snapshot_parameter("Export")]

    def opt_listen(self, description: str) -> None:
        """
        Ignored: an option of serve (accepted so that export can read the
        proxy's --config file).
        """

    def cache_reader(self) -> str:
        """
        ``export`` reads the cache alone: without ``--index`` it exports
        the indexes the cache holds.
        """
        return "export"

    def parseArgs(self, *args: str) -> None:
        """
        The directory to export to (created if needed), or the bucket.
        """
        if len(args) != 1:
            raise usage.UsageError(
                "give one directory (or s3://BUCKET/PREFIX) to export to"
            )
        if args[0].startswith("s3://"):
            try:
                parse_bucket_url(args[0], "export")
            except ValueError as e:
                raise usage.UsageError(str(e)) from None
            self["bucket"] = args[0]
            self["directory"] = None
        else:
            self["bucket"] = None
            self["directory"] = os.path.abspath(os.path.expanduser(args[0]))

    def postOptions(self) -> None:
        """
        Build the configuration (as ``serve`` does) and read ``--snapshot``.
        """
        super().postOptions()
        self["moment"] = snapshot_moment(self)

    def writes_to_bucket(self) -> bool:
        """
        Whether the export goes to a bucket.
        """
        return self.get("bucket") is not None


async def run_export(reactor: Any, options: Mapping[str, Any], err: TextIO) -> int:
    """
    Export the cache as ``options`` say and print a summary.

    :param reactor: The running reactor.
    :param options: Parsed :class:`ExportOptions`.
    :param err: Where the summary goes.
    :return: The exit code: 0, or 1 if the export failed.
    """
    # The command's own code, loaded when it runs (not by `pypiproxy serve`).
    from twisted_pypi.app.commandcompose import export_sources
    from twisted_pypi.mirror.export import export_tree
    from twisted_pypi.mirror.exporttree import BucketTree, DirectoryTree

    config: ProxyConfig = options["config"]
    pages, cache, local, metadata = export_sources(config, reactor)
    tree: ExportTree
    closing = None
    try:
        if options.get("bucket"):
            bucket, prefix = parse_bucket_url(options["bucket"], "export")
            url, region = parse_s3_endpoint(
                options["s3-endpoint"], options["s3-region"]
            )
            store = StoreConfig(bucket, prefix, url, region)
            client, pool = bucket_client(store, reactor, config.connect_timeout)
            closing = pool.closeCachedConnections
            tree = BucketTree(client, bucket, prefix)
        else:
            tree = DirectoryTree(FilePath(options["directory"]))
        report = await export_tree(
            tree,
            pages,
            cache,
            local,
            config,
            metadata,
            snapshot=options.get("moment"),
        )
    except (OSError, ValueError, S3Error, NoCredentials) as e:
        err.write(f"pypiproxy export: {e}\n")
        return 1
    finally:
        if closing is not None:
            await closing()
    err.write(f"{report.describe()} to {tree.where}\n")
    others = _other_indexes(cache.root, {index.name for index in config.indexes})
    if others:
        err.write(
            f"note: the cache also holds pages of {', '.join(others)}; give export"
            " the --index options of the proxy to export them\n"
        )
    return 0


def _other_indexes(root: FilePath[str], names: set[str]) -> list[str]:
    """The names of the indexes whose pages the cache holds, but not ``names``."""
    try:
        found = root.child("pages").listdir()
    except OSError:
        return []
    return sorted(set(found) - names)


async def main(reactor: Any, options: Mapping[str, Any]) -> None:
    """
    The ``pypiproxy export`` command, for ``twisted.internet.task.react``.

    :param reactor: The running reactor.
    :param options: Parsed :class:`ExportOptions`.
    :raises SystemExit: With code 1 when the export failed.
    """
    code = await run_export(reactor, options, sys.stderr)
    if code:
        raise SystemExit(code)
