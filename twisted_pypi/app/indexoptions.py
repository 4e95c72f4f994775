"""
Parsing the options that name package sources: ``--index``, ``--local``,
``--route`` and ``--merge``.

Every parser raises :class:`ValueError` with a message fit for a user.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlsplit, urlunsplit

from attrs import evolve

from twisted_pypi.core.config import (
    IndexConfig,
    LocalConfig,
    StoreConfig,
    index_name_for,
    parse_bucket_url,
    parse_http_url,
    parse_s3_endpoint,
    parse_seconds,
    parse_store,
)
from twisted_pypi.core.moments import parse_duration
from twisted_pypi.core.names import is_valid_project_name, normalize

__all__ = [
    "INDEX_SYNTAX",
    "bind_buckets",
    "parse_buckets",
    "check_name",
    "parse_index",
    "parse_local",
    "parse_project",
    "parse_route",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

#: How ``--index`` is written, for error messages.
INDEX_SYNTAX = (
    "[NAME=]URL[,ttl=SECONDS][,auth=USER:PASSWORD|,auth=@FILE][,min-age=DURATION]"
)


def check_name(name: str, what: str) -> str:
    """
    A source name: letters, digits, ``.``, ``_``, ``:`` and ``-``, starting
    with a letter or digit (it appears in URLs and cache paths).

    :param name: The name as given.
    :param what: The option, for the message.
    """
    if not _NAME.match(name):
        raise ValueError(
            f"{what}: {name!r} is not a valid name (use letters, digits, "
            "'.', '_', ':' and '-', starting with a letter or digit)"
        )
    return name


def parse_index(text: str, default_ttl: float) -> IndexConfig:
    """
    An ``--index`` value:
    ``[NAME=]URL[,ttl=SECONDS][,auth=USER:PASSWORD][,min-age=DURATION]``.

    ``auth=@FILE`` reads ``USER:PASSWORD`` from a file, keeping the secret off
    the command line; credentials in the URL (``https://u:p@host/``) work too
    and are removed from the URL.

    :param text: The option value.
    :param default_ttl: The TTL when none is given.
    """
    first, *settings = text.split(",")
    name = None
    head, sep, rest = first.partition("=")
    if sep and "://" not in head:
        # NAME=URL: what comes before the URL's scheme is the name.
        name, first = check_name(head, "--index"), rest
    url = parse_http_url(first, "--index")
    parts = urlsplit(url)
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if password is not None and username is None:
        # Never keep a secret in the URL (it is shown and logged).
        raise ValueError("--index: credentials in the URL need a user (USER:PASSWORD@)")
    if "@" in parts.netloc:
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        url = urlunsplit(parts._replace(netloc=netloc))
    ttl = default_ttl
    min_age = None
    for setting in settings:
        key, sep, value = setting.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(
                f"--index: {setting!r} is not KEY=VALUE; use {INDEX_SYNTAX}"
            )
        if key == "ttl":
            try:
                ttl = parse_seconds(value)
            except ValueError as e:
                raise ValueError(f"--index: ttl: {e}") from None
        elif key == "auth":
            username, password = _credentials(value)
        elif key == "min-age":
            try:
                min_age = parse_duration(value)
            except ValueError as e:
                raise ValueError(f"--index: min-age: {e}") from None
        else:
            raise ValueError(f"--index: unknown setting {key!r}; use {INDEX_SYNTAX}")
    return IndexConfig(
        name=name or index_name_for(url),
        url=url,
        ttl=ttl,
        username=username,
        password=password,
        min_age=min_age,
    )


def _credentials(value: str) -> tuple[str, str]:
    if value.startswith("@"):
        try:
            with open(value[1:], encoding="utf-8") as f:
                value = f.read().strip()
        except OSError as e:
            raise ValueError(f"--index: cannot read credentials: {e}") from None
    user, sep, password = value.partition(":")
    if not sep or not user:
        raise ValueError("--index: auth must be USER:PASSWORD (or @FILE holding it)")
    return user, password


def parse_local(text: str) -> LocalConfig:
    """
    A ``--local`` value: ``NAME=DIR``, an existing directory, or
    ``NAME=s3://BUCKET[/PREFIX]``, a place in a bucket (its endpoint and
    region are bound later, by :func:`bind_buckets`).

    :param text: The option value.
    """
    name, sep, path = text.partition("=")
    if not sep or not path:
        raise ValueError(f"--local {text!r}: use NAME=DIR or NAME=s3://BUCKET/PREFIX")
    check_name(name, "--local")
    if path.startswith("s3://"):
        bucket, prefix = parse_bucket_url(path, f"--local {name}=")
        return LocalConfig(name, f"s3://{bucket}/{prefix}")
    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(path):
        raise ValueError(f"--local {text!r}: {path!r} is not a directory")
    return LocalConfig(name, path)


def bind_buckets(
    locals_: list[LocalConfig],
    endpoint: str | None,
    region: str | None,
    ttl: float,
) -> list[LocalConfig]:
    """
    The local indexes, those in a bucket given the store's endpoint and
    region (``--s3-endpoint``, ``--s3-region``) and the page TTL.

    :param locals_: The ``--local`` values, as :func:`parse_local` made them.
    :param endpoint: The ``--s3-endpoint`` value, or ``None``.
    :param region: The ``--s3-region`` value, or ``None``.
    :param ttl: Seconds a bucket's listing stays good.
    :raises ValueError: If the endpoint or region is not usable.
    """
    bound = []
    for local in locals_:
        if local.path.startswith("s3://"):
            bucket, prefix = parse_bucket_url(local.path, f"--local {local.name}=")
            url, name = parse_s3_endpoint(endpoint, region)
            store = StoreConfig(bucket, prefix, url, name)
            local = evolve(local, bucket=store, ttl=ttl)
        bound.append(local)
    return bound


def parse_buckets(
    store: str | None,
    endpoint: str | None,
    region: str | None,
    locals_: list[LocalConfig],
    ttl: float,
    writes_to_bucket: bool = False,
) -> tuple[StoreConfig | None, list[LocalConfig]]:
    """
    The options that name buckets: ``--store`` and the local indexes, with
    ``--s3-endpoint`` and ``--s3-region`` (which need a bucket to apply to).

    :param store: The ``--store`` value, or ``None``.
    :param endpoint: The ``--s3-endpoint`` value, or ``None``.
    :param region: The ``--s3-region`` value, or ``None``.
    :param locals_: The ``--local`` values.
    :param ttl: Seconds a bucket's listing stays good.
    :param writes_to_bucket: Whether the command writes to a bucket itself.
    :raises ValueError: If a value is not usable.
    """
    others = writes_to_bucket or any(c.path.startswith("s3://") for c in locals_)
    parsed = parse_store(store, endpoint, region, other_buckets=others)
    return parsed, bind_buckets(locals_, endpoint, region, ttl)


def parse_route(text: str) -> tuple[str, str]:
    """
    A ``--route`` value: ``PROJECT=NAME``.

    :param text: The option value.
    :return: The normalized project and the source name.
    """
    project, sep, name = text.partition("=")
    if not sep:
        raise ValueError(f"--route {text!r}: use PROJECT=INDEX-NAME")
    if not is_valid_project_name(project.strip()):
        raise ValueError(
            f"--route {text!r}: {project.strip()!r} is not a valid project name"
            " (use PROJECT=INDEX-NAME)"
        )
    return normalize(project.strip()), check_name(name.strip(), "--route")


def parse_project(text: str, what: str) -> str:
    """
    A project name option value, normalized.

    :param text: The option value.
    :param what: The option, for the message.
    """
    if not is_valid_project_name(text.strip()):
        raise ValueError(f"{what}: {text!r} is not a valid project name")
    return normalize(text.strip())
