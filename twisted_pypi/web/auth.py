# -*- test-case-name: tests.web.test_auth -*-
"""
HTTP basic auth in front of a resource, for the users of an upload users
file: a cred portal whose realm hands each user a resource, behind Twisted's
``HTTPAuthSessionWrapper``.  The users file and the password checker are in
:mod:`twisted_pypi.upload.users`.

:class:`UploadGuard` can also check a request's credentials as soon as its
headers are in (:meth:`UploadGuard.authenticate`), so that an upload from
someone who may not upload is refused before its body is read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen
from twisted.cred.error import LoginFailed, UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from twisted.web.guard import BasicCredentialFactory, HTTPAuthSessionWrapper
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource
from zope.interface import implementer

from twisted_pypi.core.runner import Runner
from twisted_pypi.upload.users import CACHE_SECONDS, UsersFileChecker

__all__ = ["REALM", "ResourceRealm", "UploadGuard", "guard", "upload_portal"]

#: The realm named in the ``WWW-Authenticate`` challenge.
REALM = "twisted-pypi upload"


@implementer(IRealm)
@frozen
class ResourceRealm:
    """
    Gives each user the resource ``avatar(user)``.

    :ivar avatar: Makes the resource a user (by name) may use.
    """

    avatar: Callable[[str], IResource]

    def requestAvatar(
        self, avatarId: Any, mind: object, *interfaces: Any
    ) -> tuple[Any, IResource, Callable[[], None]]:
        """
        The resource of user ``avatarId``.

        :raises NotImplementedError: If ``IResource`` is not asked for.
        """
        if IResource not in interfaces:
            raise NotImplementedError("only IResource avatars are offered")
        user = avatarId.decode("utf-8") if isinstance(avatarId, bytes) else avatarId
        return (IResource, self.avatar(str(user)), lambda: None)


def upload_portal(
    users_file: str,
    avatar: Callable[[str], IResource],
    *,
    clock: IReactorTime,
    runner: Runner,
    cache_seconds: float = CACHE_SECONDS,
) -> Portal:
    """
    A portal that admits the users of ``users_file``, each to ``avatar(user)``.

    :param users_file: The users file.
    :param avatar: Makes a user's resource.
    :param clock: Time, for the cache of successes.
    :param runner: Runs the password checks away from the reactor.
    :param cache_seconds: How long a success is remembered.
    :raises UsersFileError: If the users file cannot be read or is invalid.
    """
    checker = UsersFileChecker(users_file, clock, runner, cache_seconds)
    return Portal(ResourceRealm(avatar), [checker])


class UploadGuard(HTTPAuthSessionWrapper):
    """
    Twisted's ``HTTPAuthSessionWrapper`` for HTTP basic auth in realm
    :data:`REALM`, which can also check a request's credentials before its
    body is read.
    """

    #: The ``WWW-Authenticate`` challenge of a 401.
    challenge = b'basic realm="%s"' % REALM.encode()

    def __init__(self, portal: Portal) -> None:
        """
        :param portal: From :func:`upload_portal`.
        """
        self._basic = BasicCredentialFactory(REALM)
        super().__init__(portal, [self._basic])
        self._guarded = portal

    def authenticate(self, request: IRequest) -> Deferred[bool]:
        """
        Check the credentials of a request whose headers are in, as the
        wrapper will when the request is rendered.

        :param request: The request.
        :return: Fires with whether the credentials let the request in
            (``False`` for none, another scheme, or wrong ones), or fails if
            they could not be checked.
        """
        header = request.getHeader(b"authorization") or b""
        scheme, _, response = header.partition(b" ")
        if scheme.lower() != self._basic.scheme:
            return succeed(False)
        try:
            credentials = self._basic.decode(response.strip(), request)
        except LoginFailed:
            return succeed(False)
        login = self._guarded.login(credentials, None, IResource)

        def admitted(result: tuple[Any, IResource, Callable[[], None]]) -> bool:
            result[2]()
            return True

        def refused(failure: Failure) -> bool | Failure:
            if failure.check(UnauthorizedLogin, LoginFailed):
                return False
            return failure

        return login.addCallbacks(admitted, refused)


def guard(portal: Portal) -> UploadGuard:
    """
    A resource asking for HTTP basic auth (realm :data:`REALM`) and handing
    authenticated requests on to the portal's avatar; missing or wrong
    credentials get 401 with a ``WWW-Authenticate`` challenge.

    :param portal: From :func:`upload_portal`.
    """
    return UploadGuard(portal)
