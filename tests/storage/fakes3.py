"""
A fake of :class:`~twisted_pypi.objectstore.client.S3Client` for the unit
tests of the S3 stores: objects in a dict, each call recorded, answers at
once (or failing, as the test says).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from attrs import define, field
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IConsumer, IPushProducer
from twisted.internet.task import CooperativeTask, Cooperator
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from tests.consumers import Consumer
from twisted_pypi.objectstore.errors import (
    AlreadyExists,
    NotFound,
    PreconditionFailed,
    StoreUnavailable,
)
from twisted_pypi.objectstore.objects import ObjectInfo
from twisted_pypi.objectstore.s3xml import ListedObject, ListPage

__all__ = ["FakeBody", "FakeS3", "at_once"]


def at_once(work: Iterator[None]) -> CooperativeTask:
    """
    A cooperator that runs every step of ``work`` at once (upload bodies
    read from their file within the call that starts them).
    """
    cooperator = Cooperator(
        terminationPredicateFactory=lambda: lambda: False,
        scheduler=lambda call: call(),  # type: ignore[arg-type,return-value]
        started=True,
    )
    return cooperator.cooperate(work)


@implementer(IPushProducer)
class _Connection:
    """The producer of a fake body (never paused for long)."""

    def pauseProducing(self) -> None:
        """Paused."""

    def resumeProducing(self) -> None:
        """Resumed."""

    def stopProducing(self) -> None:
        """Stopped."""


@define
class FakeBody:
    """
    A body read at once: written whole to a consumer (or cut after
    ``cut`` bytes: then the stream fails).
    """

    data: bytes
    cut: int | None = None

    def stream_to(self, consumer: IConsumer) -> Deferred[None]:
        """Write the body to ``consumer``."""
        consumer.registerProducer(_Connection(), True)
        consumer.write(self.data[: self.cut])
        consumer.unregisterProducer()
        if self.cut is not None and self.cut < len(self.data):
            return fail(StoreUnavailable("body cut short: the store closed it"))
        return succeed(None)

    def discard(self) -> None:
        """Not read."""


@define
class FakeS3:
    """
    Objects by ``(bucket, key)``.

    :ivar objects: The bytes of each object.
    :ivar calls: ``(method, key)`` of every call.
    :ivar down: Fail every call with ``StoreUnavailable``.
    :ivar page_size: The most objects per listing page.
    :ivar cut: Cut every body read after this many bytes, if set.
    """

    objects: dict[tuple[str, str], bytes] = field(factory=dict)
    calls: list[tuple[str, str]] = field(factory=list)
    down: bool = False
    page_size: int = 1000
    endpoint: str = "http://fake.test"
    cut: int | None = None

    def _info(self, bucket: str, key: str) -> ObjectInfo:
        """An object's information (its entity tag from its bytes)."""
        data = self.objects[bucket, key]
        return ObjectInfo(len(data), f"etag-{len(data)}-{hash(data) & 0xFFFF:x}", 1e9)

    def _check(self, method: str, key: str) -> None:
        """Record a call; raise if the store is down."""
        self.calls.append((method, key))
        if self.down:
            raise StoreUnavailable("connection refused", resource=key)

    def put(
        self,
        bucket: str,
        key: str,
        body: bytes | IBodyProducer,
        *,
        create_only: bool = False,
        **ignored: Any,
    ) -> Deferred[str]:
        """Store the body (produced at once)."""
        try:
            self._check("PUT", key)
        except StoreUnavailable:
            return fail()
        if create_only and (bucket, key) in self.objects:
            return fail(AlreadyExists("exists", 412, "PreconditionFailed", key))
        if not isinstance(body, bytes):
            consumer = Consumer()
            body.startProducing(consumer)
            body = b"".join(consumer.chunks)
        self.objects[bucket, key] = body
        return succeed(self._info(bucket, key).etag)

    def head(self, bucket: str, key: str) -> Deferred[ObjectInfo]:
        """An object's information."""
        try:
            self._check("HEAD", key)
        except StoreUnavailable:
            return fail()
        if (bucket, key) not in self.objects:
            return fail(NotFound("no such key", 404, "NoSuchKey", key))
        return succeed(self._info(bucket, key))

    def get(
        self,
        bucket: str,
        key: str,
        offset: int = 0,
        length: int | None = None,
        if_match: str | None = None,
    ) -> Deferred[FakeBody]:
        """A range of an object (the version ``if_match`` names, if given)."""
        try:
            self._check("GET", key)
        except StoreUnavailable:
            return fail()
        if (bucket, key) not in self.objects:
            return fail(NotFound("no such key", 404, "NoSuchKey", key))
        info = self._info(bucket, key)
        if if_match is not None and if_match != info.etag:
            return fail(PreconditionFailed("changed", 412, "PreconditionFailed", key))
        data = self.objects[bucket, key]
        end = len(data) if length is None else offset + length
        return succeed(FakeBody(data[offset:end], self.cut))

    def delete(self, bucket: str, key: str) -> Deferred[None]:
        """Forget an object."""
        try:
            self._check("DELETE", key)
        except StoreUnavailable:
            return fail()
        self.objects.pop((bucket, key), None)
        return succeed(None)

    def list_objects(
        self, bucket: str, prefix: str = "", token: str | None = None, **ignored: Any
    ) -> Deferred[ListPage]:
        """A page of the listing, ``page_size`` objects at most."""
        try:
            self._check("LIST", prefix)
        except StoreUnavailable:
            return fail()
        keys = sorted(
            k for b, k in self.objects if b == bucket and k.startswith(prefix)
        )
        start = int(token or 0)
        chosen = keys[start : start + self.page_size]
        listed = tuple(
            ListedObject(k, i.size, i.etag, i.modified)
            for k in chosen
            for i in [self._info(bucket, k)]
        )
        after = start + len(chosen)
        return succeed(ListPage(listed, (), str(after) if after < len(keys) else None))
