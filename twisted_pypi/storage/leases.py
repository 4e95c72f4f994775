# -*- test-case-name: tests.storage.test_leases -*-
"""
Leases on files in an S3-compatible object store (:class:`S3Leases`), so
that one node of a cluster downloads each file.

A file's lease is the object ``<prefix>leases/<file key>``, a
:class:`~twisted_pypi.storage.leasing.LeaseRecord` in JSON.  Every change
is a conditional write, so two nodes racing cannot both win:

- a claim creates it with ``If-None-Match: *`` (412: it exists);
- a lease found expired (or one of this node's own URL, left by a process
  that died, or one the caller saw unserved) is replaced with ``If-Match``
  on the entity tag read: only one of the nodes that read it succeeds;
- the holder renews it every ``renew_every`` seconds with ``If-Match`` on
  its own last entity tag (412: another node took it over: it is lost);
- the holder releases it with a ``DELETE`` with ``If-Match``, so it never
  deletes a lease another node took over.

Expiry times are wall-clock times: the nodes' clocks must agree to well
within the lease's time to live (NTP does).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from attrs import define, evolve, field
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_pypi.objectstore.bodies import BytesProducer, read_limited
from twisted_pypi.objectstore.client import S3Client
from twisted_pypi.objectstore.errors import (
    AlreadyExists,
    NotFound,
    PreconditionFailed,
    S3Error,
)
from twisted_pypi.objectstore.objects import header, run
from twisted_pypi.objectstore.s3xml import unquote_etag
from twisted_pypi.objectstore.signing import payload_hash
from twisted_pypi.storage.leasing import (
    RENEW_EVERY,
    TTL,
    Claim,
    ClaimFailed,
    Following,
    ILease,
    ILeases,
    LeaseRecord,
    Owned,
)

__all__ = ["LEASES", "S3Lease", "S3Leases"]

_log = Logger()

#: Where the leases are, under the store's prefix.
LEASES = "leases/"

#: Create, read, replace rounds before a claim gives up.
_ATTEMPTS = 4

#: The largest lease object read.
_MAX_LEASE = 64 * 1024


@implementer(ILeases)
@define(eq=False)
class S3Leases:
    """
    One node's leases, kept in a bucket.

    :ivar node_url: This node's ``--node-url``, written in its leases.
    :ivar ttl: Seconds a lease lives unless renewed.
    :ivar renew_every: Seconds between renewals.
    """

    _client: S3Client
    _bucket: str
    _prefix: str
    node_url: str
    _clock: IReactorTime
    ttl: float = TTL
    renew_every: float = RENEW_EVERY
    _new_id: Callable[[], str] = field(default=lambda: uuid.uuid4().hex)

    def key_for(self, segments: Sequence[str]) -> str:
        """
        The lease object's key for a file.

        :param segments: The file's place in the cache.
        """
        return self._prefix + LEASES + "/".join(segments)

    def claim(
        self, segments: Sequence[str], supersede: Following | None = None
    ) -> Deferred[Claim]:
        """
        See :meth:`twisted_pypi.storage.leasing.ILeases.claim`.
        """
        return run(self._claim(tuple(segments), supersede))

    async def _claim(
        self, segments: tuple[str, ...], supersede: Following | None
    ) -> Claim:
        """Create, or read and take over, the lease; or say who holds it."""
        key, name = self.key_for(segments), "/".join(segments)
        try:
            for _ in range(_ATTEMPTS):
                record = self._record(name)
                try:
                    etag = await self._client.put(
                        self._bucket, key, record.encode(), create_only=True
                    )
                    return Owned(self._hold(key, record, etag))
                except AlreadyExists:
                    pass
                try:
                    info, data = await self._client.read(self._bucket, key, _MAX_LEASE)
                except NotFound:
                    continue  # released since: create it again
                found = _decode(data)
                if found is not None and not self._stale(found, info.etag, supersede):
                    return Following(found, info.etag)
                try:
                    etag = await self.replace(key, record, info.etag)
                    return Owned(self._hold(key, record, etag))
                except PreconditionFailed:
                    continue  # another node took it over first, or it went
        except S3Error as e:
            raise ClaimFailed(f"cannot claim {name}: {e}") from e
        raise ClaimFailed(f"cannot claim {name}: the lease kept changing")

    def _record(self, name: str) -> LeaseRecord:
        """A new lease of this node on a file, from now."""
        expires = self._clock.seconds() + self.ttl
        return LeaseRecord(self.node_url, name, self._new_id(), expires)

    def _stale(
        self, found: LeaseRecord, etag: str, supersede: Following | None
    ) -> bool:
        """
        Whether a lease found may be taken over: it expired, or it is this
        node's own (a former process's), or the caller found it unserved.
        """
        if not found.live(self._clock.seconds()) or found.node_url == self.node_url:
            return True
        return supersede is not None and supersede.etag == etag

    def _hold(self, key: str, record: LeaseRecord, etag: str) -> S3Lease:
        """A lease just written, its renewals started."""
        lease = S3Lease(self, key, record, etag)
        lease.schedule()
        return lease

    def replace(self, key: str, record: LeaseRecord, etag: str) -> Deferred[str]:
        """
        Overwrite the lease object if it is still the version ``etag``.

        :return: A Deferred firing with the new entity tag, or failing with
            :class:`~twisted_pypi.objectstore.errors.PreconditionFailed`
            if it changed or went.
        """
        body = record.encode()
        headers = {"If-Match": f'"{etag}"', "Content-Type": "application/json"}

        async def work() -> str:
            response = await self._client.send(
                "PUT", self._bucket, key, None, headers,
                BytesProducer(body), payload_hash(body),
            )  # fmt: skip
            await read_limited(response, _MAX_LEASE, f"PUT {self._bucket}/{key}")
            return unquote_etag(header(response, "etag"))

        return run(work())

    def delete(self, key: str, etag: str) -> Deferred[None]:
        """
        Delete the lease object if it is still the version ``etag``.

        :return: A Deferred failing with
            :class:`~twisted_pypi.objectstore.errors.PreconditionFailed`
            if it changed.
        """
        headers = {"If-Match": f'"{etag}"'}

        async def work() -> None:
            response = await self._client.send(
                "DELETE", self._bucket, key, None, headers, expect=(200, 204)
            )
            await read_limited(response, _MAX_LEASE, f"DELETE {self._bucket}/{key}")

        return run(work())

    @property
    def clock(self) -> IReactorTime:
        """The clock that times the renewals."""
        return self._clock


def _decode(data: bytes) -> LeaseRecord | None:
    """A lease object's record, or ``None`` if it is not one."""
    try:
        return LeaseRecord.decode(data)
    except ValueError:
        return None


@implementer(ILease)
@define(eq=False)
class S3Lease:
    """
    A lease this node holds on a file, renewed until released.

    :ivar record: The lease as last written.
    :ivar taken: Whether another node took it over.
    """

    _leases: S3Leases
    _key: str
    record: LeaseRecord
    _etag: str
    taken: bool = field(default=False, init=False)
    _timer: IDelayedCall | None = field(default=None, init=False)
    _renewing: Deferred[Any] | None = field(default=None, init=False)
    _released: bool = field(default=False, init=False)

    @property
    def lost(self) -> bool:
        """
        Whether another node took it over, or it expired unrenewed.
        """
        return self.taken or not self.record.live(self._leases.clock.seconds())

    def schedule(self) -> None:
        """Renew it in ``renew_every`` seconds."""
        self._timer = self._leases.clock.callLater(
            self._leases.renew_every, self._renew
        )

    def _renew(self) -> None:
        """Push the expiry forward, if it is still ours."""
        self._timer = None
        now = self._leases.clock.seconds()
        renewed = evolve(self.record, expires=now + self._leases.ttl)
        d: Deferred[Any] = self._leases.replace(self._key, renewed, self._etag)
        self._renewing = d
        d.addCallbacks(self._renewed, self._not_renewed, (renewed,))

    def _renewed(self, etag: str, renewed: LeaseRecord) -> None:
        """Keep the new version; renew again later."""
        self._renewing = None
        self.record, self._etag = renewed, etag
        if not self._released:
            self.schedule()

    def _not_renewed(self, reason: Failure) -> None:
        """Taken over (stop renewing), or the store failed (try again later)."""
        self._renewing = None
        if reason.check(PreconditionFailed):
            self.taken = True
            _log.warn(
                "The lease on {key} was taken over by another node",
                key=self.record.key,
            )
            return
        _log.warn(
            "Cannot renew the lease on {key}: {why}",
            key=self.record.key,
            why=reason.getErrorMessage(),
        )
        if not self._released:
            self.schedule()

    def release(self) -> Deferred[None]:
        """
        See :meth:`twisted_pypi.storage.leasing.ILease.release`.
        """
        if self._released:
            return succeed(None)
        self._released = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return run(self._delete())

    async def _delete(self) -> None:
        """Delete it once a renewal under way ended, unless it was taken."""
        if self._renewing is not None:
            await self._renewing  # its callbacks never fail
        if self.taken:
            return
        try:
            await self._leases.delete(self._key, self._etag)
        except (NotFound, PreconditionFailed):
            pass  # gone already, or taken over: not ours to delete
        except Exception as e:
            _log.warn(
                "Cannot release the lease on {key} (it will expire): {why}",
                key=self.record.key,
                why=str(e) or type(e).__name__,
            )
