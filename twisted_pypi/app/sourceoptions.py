# -*- test-case-name: tests.app.test_sourceoptions -*-
"""
The options that name where projects come from (``--index``,
``--index-ttl``, ``--local``, ``--route``, ``--merge``, ``--dummy``), as a
mixin of :class:`twisted_pypi.app.tap.Options`, and the indexes they make,
checked together: each name is used once, each route leads to an index
there is.  Each value's syntax is :mod:`~twisted_pypi.app.indexoptions`'s
(``--dummy``'s, :mod:`~twisted_pypi.core.dummyspec`'s).

Like every option, these come from the command line, the TOML file and the
``PYPIPROXY_*`` variables alike (all read from the one table).
"""

from __future__ import annotations

from typing import Any

from twisted.python import usage

from twisted_pypi.app.cachedindexes import cached_indexes
from twisted_pypi.app.indexoptions import (
    parse_index,
    parse_local,
    parse_project,
    parse_route,
)
from twisted_pypi.core.config import DEFAULT_INDEX, IndexConfig, parse_seconds
from twisted_pypi.core.dummyspec import parse_dummy_spec

__all__ = ["SOURCE_PARAMETERS", "SourceOptions"]

#: The rows of the sources' parameters, for ``optParameters``.
SOURCE_PARAMETERS: list[list[Any]] = [
    [
        "index-ttl",
        None,
        600.0,
        "Seconds a cached index page stays fresh.",
        parse_seconds,
    ],
]


class SourceOptions(usage.Options):
    """
    The sources' repeatable options and the indexes they make (mixed into
    the proxy's options; its table takes :data:`SOURCE_PARAMETERS`).
    """

    def __init__(self) -> None:
        super().__init__()
        self["index"] = []
        self["dummy"] = {}
        self["local"] = []
        self["route"] = {}
        self["merge"] = set()

    def opt_index(self, spec: str) -> None:
        """
        An upstream simple index, [NAME=]URL[,ttl=SECONDS][,auth=USER:PASSWORD
        or auth=@FILE][,min-age=DURATION] (repeatable; the order given is the
        priority; min-age= overrides --min-age for it)
        [default: https://pypi.org/simple/; with --offline and for export,
        the indexes the cache holds].
        """
        self["index"].append(spec)

    def opt_local(self, spec: str) -> None:
        """
        A directory of wheels and sdists served as an index of its own,
        NAME=DIR, or a private index kept in a bucket, NAME=s3://BUCKET/PREFIX
        (with --s3-endpoint and --s3-region; listed again every --index-ttl)
        (repeatable); local indexes rank above remote ones.
        """
        try:
            self["local"].append(parse_local(spec))
        except ValueError as e:
            raise usage.UsageError(str(e)) from None

    def opt_route(self, spec: str) -> None:
        """
        PROJECT=NAME: that project comes from that index only (repeatable).
        """
        try:
            project, name = parse_route(spec)
        except ValueError as e:
            raise usage.UsageError(str(e)) from None
        self["route"][project] = name

    def opt_merge(self, project: str) -> None:
        """
        Merge the files of every index that has PROJECT (repeatable); the
        first index wins when two offer the same filename.
        """
        try:
            self["merge"].add(parse_project(project, "--merge"))
        except ValueError as e:
            raise usage.UsageError(str(e)) from None

    def opt_dummy(self, spec: str) -> None:
        """
        Serve tiny generated wheels instead of a project (repeatable):
        NAME (every version the upstream lists), NAME==V1,V2 (only those;
        needs no upstream), with :stub for an importable module that
        explains itself (default :absent, no module) and :module=NAME where
        the import name differs, e.g. torch, tensorflow==2.16.1,
        opencv-python:stub.
        """
        try:
            parsed = parse_dummy_spec(spec)
        except ValueError as e:
            message = str(e)
            if "--dummy" not in message:
                message = f"--dummy: {message}"
            raise usage.UsageError(message) from None
        if parsed.project in self["dummy"]:
            raise usage.UsageError(f"--dummy {parsed.project} is given twice")
        self["dummy"][parsed.project] = parsed

    def indexes(self, cache_dir: str, reader: str | None) -> list[IndexConfig]:
        """
        The remote indexes these options name, checked with the local ones
        and the routes.

        :param cache_dir: The cache directory.
        :param reader: The command, for messages, if it reads the cache
            alone: without ``--index`` it then uses the indexes the cache
            holds.
        :raises usage.UsageError: If an index is malformed, a name is used
            twice, or a route leads to no index.
        """
        if reader is not None and not self["index"]:
            indexes = cached_indexes(
                cache_dir, self["index-ttl"], reader, none_ok=bool(self["local"])
            )
        else:
            try:
                indexes = [
                    parse_index(spec, self["index-ttl"])
                    for spec in self["index"] or [DEFAULT_INDEX]
                ]
            except ValueError as e:
                raise usage.UsageError(str(e)) from None
        names = [i.name for i in indexes] + [local.name for local in self["local"]]
        for name in names:
            if names.count(name) > 1:
                raise usage.UsageError(
                    f"the index name {name!r} is used twice: name each index "
                    "with NAME=URL"
                )
        for project, name in self["route"].items():
            if name not in names:
                raise usage.UsageError(
                    f"--route {project}={name}: there is no index named {name!r} "
                    f"(the indexes are: {', '.join(names)})"
                )
        return indexes
