# -*- test-case-name: tests.web.test_auth -*-
"""
HTTP basic auth in front of a resource, for the users of an upload users
file: a cred portal whose realm hands each user a resource, behind Twisted's
``HTTPAuthSessionWrapper``.  The users file and the password checker are in
:mod:`twisted_pypi.upload.users`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from attrs import frozen
from twisted.cred.portal import IRealm, Portal
from twisted.internet.interfaces import IReactorTime
from twisted.web.guard import BasicCredentialFactory, HTTPAuthSessionWrapper
from twisted.web.resource import IResource
from zope.interface import implementer

from twisted_pypi.upload.users import CACHE_SECONDS, Runner, UsersFileChecker

__all__ = ["REALM", "ResourceRealm", "guard", "upload_portal"]

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


def guard(portal: Portal) -> IResource:
    """
    A resource asking for HTTP basic auth (realm :data:`REALM`) and handing
    authenticated requests on to the portal's avatar; missing or wrong
    credentials get 401 with a ``WWW-Authenticate`` challenge.

    :param portal: From :func:`upload_portal`.
    """
    wrapper: IResource = HTTPAuthSessionWrapper(portal, [BasicCredentialFactory(REALM)])
    return wrapper
