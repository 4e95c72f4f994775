"""
Tests for :mod:`twisted_pypi.web.auth`: the realm that hands each user a
resource, and HTTP basic auth in front of it for the users of a users file.
"""

from __future__ import annotations

import base64
from typing import Any

import bcrypt
from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request

from twisted_pypi.core.runner import run_now
from twisted_pypi.web.auth import REALM, ResourceRealm, guard, upload_portal


class RealmTests(SynchronousTestCase):
    """
    The realm gives each user their resource.
    """

    def test_resource_avatar(self) -> None:
        """
        An ``IResource`` avatar is made for the user name.
        """
        made: list[str] = []

        def avatar(user: str) -> Resource:
            made.append(user)
            return Resource()

        interface, resource, logout = ResourceRealm(avatar).requestAvatar(
            b"alice", None, IResource
        )
        self.assertIs(interface, IResource)
        self.assertTrue(IResource.providedBy(resource))
        self.assertEqual(made, ["alice"])
        logout()

    def test_other_interfaces(self) -> None:
        """
        Other avatar interfaces are not offered.
        """
        realm = ResourceRealm(lambda user: Resource())
        self.assertRaises(NotImplementedError, realm.requestAvatar, b"a", None)


class _Hello(Resource):
    """
    Says whom it was made for.
    """

    isLeaf = True

    def __init__(self, user: str) -> None:
        """
        :param user: The authenticated user.
        """
        super().__init__()
        self.user = user

    def render_GET(self, request: Request) -> bytes:
        """
        The user's name.
        """
        return f"hello {self.user}".encode()


class GuardTests(SynchronousTestCase):
    """
    :func:`guard` over :func:`upload_portal` asks for HTTP basic auth and
    hands the users of the users file their resource.
    """

    def setUp(self) -> None:
        """
        A users file with alice (password ``secret``) and a client of the
        guarded resource.
        """
        users = FilePath(self.mktemp())
        hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
        users.setContent(f"alice:{hashed}\n".encode())
        portal = upload_portal(users.path, _Hello, clock=Clock(), runner=run_now)
        self.client: Any = StubTreq(guard(portal))

    def get(self, authorization: str | None) -> tuple[int, bytes, list[bytes]]:
        """
        GET the guarded resource: the status, body and challenges.
        """
        headers = {} if authorization is None else {"Authorization": authorization}
        response = self.successResultOf(
            self.client.get("http://proxy.test/x", headers=headers)
        )
        body = self.successResultOf(response.content())
        challenges = response.headers.getRawHeaders(b"www-authenticate", [])
        return response.code, body, challenges

    def test_authenticated(self) -> None:
        """
        A user of the file with the right password reaches their resource.
        """
        token = base64.b64encode(b"alice:secret").decode()
        code, body, _ = self.get(f"Basic {token}")
        self.assertEqual((code, body), (200, b"hello alice"))

    def test_challenge(self) -> None:
        """
        No credentials, or a wrong password, get 401 with a basic auth
        challenge naming the realm.
        """
        wrong = base64.b64encode(b"alice:nope").decode()
        for authorization in (None, f"Basic {wrong}"):
            code, _, challenges = self.get(authorization)
            self.assertEqual(code, 401, authorization)
            self.assertEqual(challenges, [f'basic realm="{REALM}"'.encode()])
