"""
Records for what a simple index says: one distribution file, one project page,
the project list.

The model is JSON-shaped (PEP 691 is a superset of PEP 503 HTML), so a page read
from either format keeps everything it said and both representations are
rendered from the same record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from attrs import field, frozen

from twisted_pypi.core.links import with_credentials

__all__ = [
    "NEWEST_API_VERSION",
    "CoreMetadata",
    "DistFile",
    "ProjectList",
    "ProjectPage",
    "Yanked",
]

#: A file's ``core-metadata``: ``None`` when the index said nothing, a boolean,
#: or a mapping of hash name to hex digest of the ``.metadata`` file.
CoreMetadata = Union[None, bool, Mapping[str, str]]  # noqa: UP007 (a runtime alias)

#: A file's ``yanked`` state: ``False``, ``True`` (no reason), or the reason.
Yanked = Union[bool, str]  # noqa: UP007 (a runtime alias on 3.10)

#: The newest simple API version this proxy knows how to pass through.
NEWEST_API_VERSION = (1, 4)


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dict(value or {})


@frozen
class DistFile:
    """
    One file listed on a project page.

    :ivar filename: The file's name as the index gave it (a safe path
        segment, not necessarily a valid wheel or sdist name).
    :ivar url: The absolute upstream URL of the file, without a fragment and
        without credentials.
    :ivar hashes: Hash name (lower case) to hex digest, as the index gave them.
    :ivar requires_python: The ``requires-python`` value, unescaped, or ``None``.
    :ivar yanked: ``False``, ``True``, or the yank reason.
    :ivar core_metadata: See :data:`CoreMetadata`.
    :ivar synthesized_metadata: Whether :attr:`core_metadata` is the
        proxy's own (read from the wheel, see :mod:`twisted_pypi.files.metadata`),
        not the index's: its ``.metadata`` is never asked of the upstream.
        Context, not part of what the file is: it takes no part in
        comparisons.
    :ivar gpg_sig: Whether the index says a ``.asc`` signature exists, or ``None``.
    :ivar size: The size in bytes, if the index gave it.
    :ivar upload_time: The upload time as the index gave it (ISO 8601, ``Z``).
    :ivar provenance: The absolute https URL of the PEP 740 provenance, or ``None``.
    :ivar extra: Keys of the JSON file object that this model does not know;
        passed through unchanged.
    :ivar credentials: ``(user, password)`` the index put in the file's link,
        for the upstream request only (see :attr:`fetch_url`); never shown.
    :ivar project: The normalized name of the project whose page listed the
        file, when it was read from a page: the file is served as that page
        describes it, whatever its filename says.  Context, not part of what
        the file is: it takes no part in comparisons.
    :ivar first_seen: When the proxy first saw the file on its index (ISO
        8601, ``Z``), for a file whose index gives no :attr:`upload_time`;
        recorded in the page record, never rendered.  Context: it takes no
        part in comparisons.
    """

    filename: str
    url: str
    hashes: Mapping[str, str] = field(factory=dict, converter=_frozen_mapping)
    requires_python: str | None = None
    yanked: Yanked = False
    core_metadata: CoreMetadata = None
    synthesized_metadata: bool = field(
        default=False, eq=False, repr=False, kw_only=True
    )
    gpg_sig: bool | None = None
    size: int | None = None
    upload_time: str | None = None
    provenance: str | None = None
    extra: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)
    credentials: tuple[str, str] | None = field(default=None, repr=False)
    project: str | None = field(default=None, eq=False, repr=False)
    first_seen: str | None = field(default=None, eq=False, repr=False)

    @property
    def fetch_url(self) -> str:
        """
        The URL to request the file at: :attr:`url` with its credentials.
        """
        return with_credentials(self.url, self.credentials)

    @property
    def upstream_metadata(self) -> bool:
        """
        Whether the index says it has the file's PEP 658 ``.metadata``
        (which the proxy then passes through), not the proxy.
        """
        return bool(self.core_metadata) and not self.synthesized_metadata


@frozen
class ProjectPage:
    """
    A project's page on one index.

    :ivar name: The project's normalized name.
    :ivar files: The files, in the order the index listed them.
    :ivar versions: The PEP 700 ``versions`` list, or ``None`` if not given.
    :ivar api_version: The ``(major, minor)`` API version the upstream declared.
    :ivar status: The PEP 792 project status, or ``None``.
    :ivar status_reason: The PEP 792 status reason, or ``None``.
    :ivar meta_extra: Keys of the JSON ``meta`` object besides ``api-version``
        (for example ``_last-serial``); passed through.
    :ivar extra: Top-level JSON keys this model does not know (for example
        ``alternate-locations``); passed through.
    """

    name: str
    files: tuple[DistFile, ...] = ()
    versions: tuple[str, ...] | None = None
    api_version: tuple[int, int] = (1, 0)
    status: str | None = None
    status_reason: str | None = None
    meta_extra: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)
    extra: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)

    def served_api_version(self) -> tuple[int, int]:
        """
        The API version this page may claim when the proxy serves it.

        Never higher than what the upstream declared or what this proxy knows,
        and 1.0 unless every PEP 700 field that 1.1 makes mandatory is present.
        """
        if self.versions is None or any(f.size is None for f in self.files):
            return (1, 0)
        return min(self.api_version, NEWEST_API_VERSION)


@frozen
class ProjectList:
    """
    The list of projects an index offers.

    :ivar names: The project names as the index displays them.
    :ivar api_version: The ``(major, minor)`` API version the upstream declared.
    :ivar meta_extra: Keys of the JSON ``meta`` object besides ``api-version``.
    """

    names: tuple[str, ...] = ()
    api_version: tuple[int, int] = (1, 0)
    meta_extra: Mapping[str, Any] = field(factory=dict, converter=_frozen_mapping)
