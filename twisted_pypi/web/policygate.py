# -*- test-case-name: tests.web.test_policygate -*-
"""
The supply-chain policy at the file routes: a file (or its ``.metadata``)
the policy holds back is refused with 403 and the reason in one plain-text
line, also when it is cached, so that a pinned lockfile cannot fetch around
the policy.

Every refusal of a file is answered by :func:`refuse` and noted by
:func:`let_through`, whatever refuses it: a rule of the policy, or the
upstream's quarantine of its project (the files route asks
:meth:`~twisted_pypi.sources.remote.PageCache.refusal` first).  So a client
sees one kind of answer, and the log, the metrics and the status page count
and list quarantine refusals beside the policy's.

The decision is the one the project's page gives the file (see
:func:`twisted_pypi.core.policy.decide`); the page is read only when the
file's age matters (a minimum age or a snapshot applies): a ``--deny`` rule
needs only the file's name.  A file the page does not list has no known
age: it is held back wherever an age is needed (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.web.http import FORBIDDEN
from twisted.web.server import Request

from twisted_pypi.core.decisions import PolicyRecord
from twisted_pypi.core.links import METADATA
from twisted_pypi.core.lookup import LookupFailed, ProjectNotFound
from twisted_pypi.core.model import DistFile, ProjectPage
from twisted_pypi.core.names import project_of_filename
from twisted_pypi.core.policy import Decision, Rule, decide
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.sources.policyview import PolicyView
from twisted_pypi.sources.remote import PageCache
from twisted_pypi.web.errors import send_failure

__all__ = ["FileGuard", "let_through", "refuse"]


class FileGuard:
    """
    Lets through, or refuses, the files asked for under ``/files/`` and
    ``/local/`` (or under a snapshot's).
    """

    def __init__(
        self,
        view: PolicyView,
        pages: Mapping[str, PageCache],
        snapshot: float | None = None,
    ) -> None:
        """
        :param view: The policy, its clock and its record.
        :param pages: The page cache of each remote index, by name.
        :param snapshot: The snapshot's moment, if any.
        """
        self._view = view
        self._pages = pages
        self._snapshot = snapshot

    def _needs_time(self, index: str, project: str) -> bool:
        """Whether a file's age can change the decision."""
        policy = self._view.policy
        if self._snapshot is not None:
            return True
        return policy.min_age_of(index)[0] > 0 and project not in policy.exempt

    async def remote(
        self, request: Request, segments: tuple[str, ...], project: str | None
    ) -> bool:
        """
        Decide for a file of a remote index: let it through, or answer.

        :param request: The request (answered when the file is refused).
        :param segments: ``(index, scheme, host, *path)`` of the file or of
            its ``.metadata``.
        :param project: The project whose page lists it, if known.
        :return: Whether the request may go on (``False``: it was answered).
        """
        index, name = segments[0], segments[-1]
        base = segments
        if name.endswith(METADATA):
            base = (*segments[:-1], name[: -len(METADATA)])
        listed = DistFile(base[-1], "")
        first = self._decide(listed, project or "", index)
        if (
            project is not None
            and not _denied(first)
            and self._needs_time(index, project)
        ):
            try:
                listed = await self._remote_file(index, base, project) or listed
            except LookupFailed as e:
                send_failure(request, e)
                return False
            first = self._decide(listed, project, index)
        return self._answer(request, index, name, first)

    async def _remote_file(
        self, index: str, base: tuple[str, ...], project: str
    ) -> DistFile | None:
        """
        The file as its project's page lists it (the cached page first).

        :raises LookupFailed: When the page could not be had (not when the
            project is not found: the file is then not listed).
        """
        pages = self._pages[index]
        entry = await pages.cached_project(project)
        listed = entry.file_at(base) if entry is not None else None
        if listed is not None:
            return listed
        try:
            lookup = await pages.get_project(project)
        except ProjectNotFound:
            return None
        found: DistFile | None = (await lookup.entry.loaded()).file_at(base)
        return found

    async def local(self, request: Request, index: LocalIndex, filename: str) -> bool:
        """
        Decide for a file of a local index: let it through, or answer.

        :param request: The request (answered when the file is refused).
        :param index: The local index.
        :param filename: The file or its ``.metadata``.
        :return: Whether the request may go on.
        """
        base = filename.removesuffix(METADATA)
        project = project_of_filename(base) or ""
        name = index.index.name
        listed = DistFile(base, "")
        decision = self._decide(listed, project, name)
        if not _denied(decision) and self._needs_time(name, project):
            try:
                page = (await index.get_project(project)).entry.page
            except LookupFailed:
                page = None
            if isinstance(page, ProjectPage):
                listed = next((f for f in page.files if f.filename == base), listed)
            decision = self._decide(listed, project, name)
        return self._answer(request, name, filename, decision)

    def _decide(self, dist: DistFile, project: str, index: str) -> Decision:
        """The policy's decision for a file, now."""
        view = self._view
        return decide(
            view.policy, dist, project, index, view.clock.seconds(), self._snapshot
        )

    def _answer(
        self, request: Request, index: str, name: str, decision: Decision
    ) -> bool:
        """
        Note the decision; refuse the file if it is held back.

        :return: Whether the request may go on.
        """
        return let_through(
            request, decision, self._view.record, index, name, self._snapshot
        )


def _denied(decision: Decision) -> bool:
    """Whether a ``--deny`` rule holds the file back (its age is moot)."""
    return decision.held and decision.rule is Rule.DENY


def let_through(
    request: Request,
    decision: Decision,
    record: PolicyRecord | None,
    index: str,
    name: str,
    snapshot: float | None = None,
) -> bool:
    """
    Note the decision taken for a file asked for, and refuse it (see
    :func:`refuse`) if it is held back.

    :param request: The request.
    :param decision: What was decided.
    :param record: Where decisions are logged and counted, if anywhere.
    :param index: The index whose file it is.
    :param name: The file (or its ``.metadata``) asked for.
    :param snapshot: The snapshot it was asked under, if any.
    :return: Whether the request may go on (``False``: it was answered).
    """
    if record is not None:
        record.download(index, name, decision, snapshot)
    if not decision.held:
        return True
    refuse(request, decision)
    return False


def refuse(request: Request, decision: Decision) -> None:
    """
    Answer 403 with the decision in one plain-text line, and finish: the
    one answer to every refusal of a file.  Never kept by caches: a
    decision changes with the policy, the time and the upstream's word.

    :param request: A request nothing was written to yet.
    :param decision: Why the file is held back.
    """
    body = (decision.message + "\n").encode("utf-8")
    request.setResponseCode(FORBIDDEN)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    request.setHeader(b"content-length", str(len(body)).encode())
    request.setHeader(b"cache-control", b"no-store")
    if request.method != b"HEAD":
        request.write(body)
    request.finish()
