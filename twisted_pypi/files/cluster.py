# -*- test-case-name: tests.files.test_cluster -*-
"""
Where a download's body comes from when nodes share a store: one upstream
fetch per file for the whole cluster.

Before a node downloads a file it claims it
(:class:`~twisted_pypi.storage.leasing.ILeases`):

- it **owns** the file's lease: it fetches from the upstream, the lease
  renewed until the download ends (:meth:`FileSource.ended` releases it,
  after the commit);
- another node holds a live lease: it **follows** that node, GETting the
  file from the node's ``/-/inflight/`` (:mod:`twisted_pypi.upstream.peer`);
  the body feeds this node's own :class:`~twisted_pypi.files.flight.Download`
  (its own clients, its own length and hash checks);
- that node does not serve it (no such download any more, refused, gone):
  the claim is made again, taking over exactly the lease found; whoever
  wins fetches from the upstream, the others follow the winner;
- the leases cannot be had (the store fails): it fetches from the upstream
  without a lease, as a node on its own would.

The holder finishes its clients, peers included, once the file is verified,
and publishes it afterwards; a following node's body therefore usually ends
before the object is in the store.  Before its own commit the following
node waits (:meth:`FileSource.settle`) until the holder published the file
(the commit then finds it and uploads nothing) or the holder's lease is
gone without a publish (the holder died: this node takes the lease and
publishes the file itself).

Each download gets a :class:`FileSource` (:meth:`ClusterFetch.for_file`):
its :meth:`~FileSource.fetch` is the download's fetch function, and
:meth:`~FileSource.ended` releases the lease when the download ends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from attrs import define, field
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger

from twisted_pypi.storage.interfaces import FileStat
from twisted_pypi.storage.leasing import (
    Claim,
    ClaimFailed,
    Following,
    ILease,
    ILeases,
    Owned,
)
from twisted_pypi.upstream.stream import StreamingResponse

__all__ = ["ClusterFetch", "FileSource"]

_log = Logger()

#: Issues an upstream ``GET`` for a URL (as :data:`twisted_pypi.files.intake.Fetch`).
_Fetch = Callable[[str], Deferred[StreamingResponse]]

#: GETs a file in flight on a node (:data:`twisted_pypi.upstream.peer.PeerFetch`).
_PeerFetch = Callable[[str, Sequence[str]], Deferred[StreamingResponse]]

#: Claims after the first, when the node found does not serve the file.
_RETRIES = 2

#: Seconds between looks for the holder's publish: the first, the longest.
_SETTLE_FIRST, _SETTLE_MOST = 0.25, 5.0

#: Seconds a following node waits at most for the holder's publish before
#: publishing the file itself (create-only: whichever lands first stays).
_SETTLE_LIMIT = 600.0

#: Looks a file up in the store (``HEAD`` on a miss), as ``IFileStore.find``.
_Find = Callable[[tuple[str, ...]], Deferred[FileStat | None]]


@define
class ClusterFetch:
    """
    The body of each download: from the upstream if this node owns the
    file's lease, else from the node that does.

    :ivar leases: This node's leases.
    :ivar upstream: Issues an upstream ``GET`` for a URL.
    :ivar peer: GETs a file in flight on another node.
    """

    leases: ILeases
    upstream: _Fetch
    peer: _PeerFetch
    _sources: set[FileSource] = field(factory=set, init=False)

    def for_file(self, segments: Sequence[str]) -> FileSource:
        """
        Where one download's body comes from: make one per download, give
        the download its :meth:`FileSource.fetch`, and call
        :meth:`FileSource.ended` when the download ends.

        :param segments: The file's place in the cache.
        """
        source = FileSource(self, tuple(segments))
        self._sources.add(source)
        return source

    def holding(self) -> list[str]:
        """:return: The keys of the files whose leases this node holds."""
        return sorted(s.name for s in self._sources if s.lease is not None)

    def followed(self) -> dict[str, str]:
        """:return: The keys of the files streamed from other nodes, and which."""
        return {s.name: s.node for s in self._sources if s.node is not None}

    def forget(self, source: FileSource) -> None:
        """A download ended: it no longer counts."""
        self._sources.discard(source)


@define(eq=False)
class FileSource:
    """
    Where one download's body comes from.

    :ivar segments: The file's place in the cache.
    :ivar lease: The file's lease, while this node holds it for this
        download.
    :ivar node: The URL of the node this download streams from, if it does.
    """

    _cluster: ClusterFetch
    segments: tuple[str, ...]
    lease: ILease | None = field(default=None, init=False)
    node: str | None = field(default=None, init=False)
    _ended: bool = field(default=False, init=False)

    @property
    def name(self) -> str:
        """The file's key."""
        return "/".join(self.segments)

    def fetch(self, url: str) -> Deferred[StreamingResponse]:
        """
        The download's fetch function: claim the file, then fetch it from
        the upstream or from the lease's holder.

        :param url: The file's upstream URL.
        """
        return Deferred.fromCoroutine(self._fetch(url))

    def ended(self) -> Deferred[None]:
        """
        The download ended (committed, or failed): release the lease if it
        holds it.  Call it after the commit, so that a node finding no
        lease finds the file.

        :return: A Deferred firing once the lease is released (never
            failing).
        """
        self._ended = True
        self._cluster.forget(self)
        lease, self.lease = self.lease, None
        return succeed(None) if lease is None else lease.release()

    def settle(self, find: _Find, clock: IReactorTime) -> Deferred[None]:
        """
        Called once the file is verified, before this node commits it: if
        it was streamed from another node, wait until that node published
        it, or until its lease is gone without a publish (then this node
        holds the lease, and its commit uploads the file), or at most
        :data:`_SETTLE_LIMIT` seconds.  At once for a file from the
        upstream.

        :param find: Looks the file up in the store.
        :param clock: Times the pauses between looks.
        :return: A Deferred firing when the commit may go ahead; it never
            fails (a store that fails fails the commit).
        """
        if self.node is None:
            return succeed(None)
        return Deferred.fromCoroutine(self._settle(self.node, find, clock))

    async def _settle(self, node: str, find: _Find, clock: IReactorTime) -> None:
        """Look for the holder's publish, with backoff (see :meth:`settle`)."""
        pause, until = _SETTLE_FIRST, clock.seconds() + _SETTLE_LIMIT
        while clock.seconds() < until:
            try:
                if await find(self.segments) is not None:
                    return
                claim = await self._cluster.leases.claim(self.segments)
            except Exception:
                return
            if isinstance(claim, Owned):
                self.lease = claim.lease
                _log.warn(
                    "{node} held {key} and is gone without publishing it:"
                    " publishing it from here",
                    node=node,
                    key=self.name,
                )
                return
            if claim.holder.node_url != node:
                return  # another node took it over: publish too, create-only
            await deferLater(clock, pause)
            pause = min(pause * 2, _SETTLE_MOST)

    async def _fetch(self, url: str) -> StreamingResponse:
        """Claim, then fetch from the upstream or follow the holder."""
        claim = await self._claim(None)
        tries = 0
        while isinstance(claim, Following):
            response = await self._follow(claim)
            if response is not None:
                return response
            tries += 1
            if tries > _RETRIES:
                _log.warn(
                    "No node serves {key}: fetching it from the upstream", key=self.name
                )
                claim = None
                break
            claim = await self._claim(claim)
        if isinstance(claim, Owned):
            if self._ended:  # the download gave up meanwhile
                claim.lease.release()
            else:
                self.lease = claim.lease
        return await self._cluster.upstream(url)

    async def _claim(self, supersede: Following | None) -> Claim | None:
        """The file's claim, or ``None`` if the leases cannot be had."""
        try:
            return await self._cluster.leases.claim(self.segments, supersede)
        except ClaimFailed as e:
            _log.warn(
                "Fetching {key} from the upstream without a lease: {why}",
                key=self.name,
                why=str(e),
            )
            return None

    async def _follow(self, claim: Following) -> StreamingResponse | None:
        """The holder's response, or ``None`` if it does not serve the file."""
        node = claim.holder.node_url
        try:
            response = await self._cluster.peer(node, self.segments)
        except Exception as e:
            why = str(e) or type(e).__name__
        else:
            if response.code == 200:
                self.node = node
                _log.info("Streaming {key} from {node}", key=self.name, node=node)
                return response
            response.discard()
            why = f"it answered {response.code}"
        _log.warn(
            "Node {node} holds the lease on {key} but does not serve it: {why}",
            node=node,
            key=self.name,
            why=why,
        )
        return None
