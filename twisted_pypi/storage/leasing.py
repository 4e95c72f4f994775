# -*- test-case-name: tests.storage.test_leasing -*-
"""
What the proxy may ask of the leases that make one node of a cluster the
one that downloads a file (:class:`ILeases`), and what a claim answers.

A node about to download a file claims it.  It either owns the file's
lease (:class:`Owned`: it downloads from the upstream, its lease renewed
until it releases it), or finds another node's live lease
(:class:`Following`: it streams the file from that node).  The lease's
body is a :class:`LeaseRecord`.  How leases are kept (an object store) is
the implementation's business: see :mod:`twisted_pypi.storage.leases`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from attrs import frozen
from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface

__all__ = [
    "RENEW_EVERY",
    "TTL",
    "Claim",
    "ClaimFailed",
    "Following",
    "ILease",
    "ILeases",
    "LeaseRecord",
    "Owned",
]

#: Seconds a lease lives unless renewed.
TTL = 20.0

#: Seconds between renewals of a lease held.
RENEW_EVERY = 5.0


@frozen
class LeaseRecord:
    """
    The body of a lease: who holds which file, until when.

    :ivar node_url: The holder's ``--node-url``.
    :ivar key: The file's key (its segments joined by ``/``).
    :ivar lease_id: This lease's id (a new one each claim).
    :ivar expires: When it expires unless renewed, in seconds since the
        epoch (the holder's clock).
    """

    node_url: str
    key: str
    lease_id: str
    expires: float

    def live(self, now: float) -> bool:
        """
        Whether it has not expired at ``now``.
        """
        return now < self.expires

    def encode(self) -> bytes:
        """
        The lease object's bytes (JSON).
        """
        return json.dumps(
            {
                "node": self.node_url,
                "key": self.key,
                "lease": self.lease_id,
                "expires": self.expires,
            },
            sort_keys=True,
        ).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> LeaseRecord:
        """
        A lease object's record.

        :raise ValueError: If the bytes are not one.
        """
        try:
            fields = json.loads(data)
            record = cls(
                str(fields["node"]),
                str(fields["key"]),
                str(fields["lease"]),
                float(fields["expires"]),
            )
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as e:
            raise ValueError(f"not a lease: {e}") from None
        return record


class ILease(Interface):
    """
    A lease this node holds: renewed until released (or lost).
    """

    record = Attribute("The :class:`LeaseRecord` last written.")
    lost = Attribute(
        "Whether another node took the lease over, or it expired before it "
        "could be renewed: then this node no longer owns the file (its "
        "download goes on, unannounced)."
    )

    def release() -> Deferred[None]:
        """
        Stop renewing it and delete it, unless another node took it over.

        :return: A Deferred firing once it is gone; it never fails (a lease
            left behind expires).
        """


@frozen
class Owned:
    """
    This node holds the file's lease: it downloads the file.

    :ivar lease: The lease, to release when the download ends.
    """

    lease: ILease


@frozen
class Following:
    """
    Another node holds a live lease on the file: stream it from there.

    :ivar holder: The lease found.
    :ivar etag: The lease object's entity tag, to take exactly that lease
        over (see :meth:`ILeases.claim`).
    """

    holder: LeaseRecord
    etag: str


#: What a claim answers.
Claim = Owned | Following


class ClaimFailed(Exception):
    """
    A claim could not tell who holds a file: the store failed, or other
    nodes kept replacing the lease.  The caller downloads without a lease.
    """


class ILeases(Interface):
    """
    The leases of one node on the files it downloads.
    """

    def claim(
        segments: Sequence[str],  # noqa: N805 -- an interface's method
        supersede: Following | None = None,
    ) -> Deferred[Claim]:
        """
        Claim a file: create its lease if there is none, take it over if it
        expired (or is a former lease of this node's own URL), else answer
        who holds it.  Two nodes claiming at once: exactly one owns it.

        :param segments: The file's place in the cache.
        :param supersede: A lease found before whose holder does not serve
            the file: take exactly that lease over even if it is live.
        :return: A Deferred firing with :class:`Owned` or
            :class:`Following`, or failing with :class:`ClaimFailed` if it
            could not tell.
        """
