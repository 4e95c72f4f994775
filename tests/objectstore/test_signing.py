"""
Tests for :mod:`twisted_pypi.objectstore.signing`: credentials found the
standard AWS ways, and signatures that never show the secret.
"""

from __future__ import annotations

import os
from unittest import mock

from botocore.credentials import Credentials
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.objectstore.signing import (
    UNSIGNED_PAYLOAD,
    NoCredentials,
    Signer,
    load_credentials,
)

#: An environment with no AWS settings at all, and no instance metadata.
BARE = {"AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent"}


class CredentialTests(SynchronousTestCase):
    """
    :func:`load_credentials`.
    """

    def environment(self, **extra: str) -> None:
        """
        Run the test with only ``extra`` AWS settings in the environment.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(BARE, **extra)
        patcher = mock.patch.dict(os.environ, env, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_environment(self) -> None:
        """
        ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
        ``AWS_SESSION_TOKEN`` are used.
        """
        self.environment(
            AWS_ACCESS_KEY_ID="AKENV", AWS_SECRET_ACCESS_KEY="sk", AWS_SESSION_TOKEN="t"
        )
        found = load_credentials().get_frozen_credentials()
        self.assertEqual(
            (found.access_key, found.secret_key, found.token), ("AKENV", "sk", "t")
        )

    def test_profile_file(self) -> None:
        """
        The shared credentials file's profile named by ``AWS_PROFILE`` is
        used.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("[default]\naws_access_key_id=AKDEF\naws_secret_access_key=a\n")
            f.write("[ci]\naws_access_key_id=AKCI\naws_secret_access_key=b\n")
        self.environment(AWS_SHARED_CREDENTIALS_FILE=path, AWS_PROFILE="ci")
        self.assertEqual(load_credentials().access_key, "AKCI")

    def test_none(self) -> None:
        """
        Without credentials anywhere, the error says how to give them.
        """
        self.environment(AWS_SHARED_CREDENTIALS_FILE="/nonexistent/creds")
        error = self.assertRaises(NoCredentials, load_credentials)
        self.assertIn("AWS_ACCESS_KEY_ID", str(error))


class SignerTests(SynchronousTestCase):
    """
    :class:`Signer`.
    """

    def test_unsigned_payload(self) -> None:
        """
        A streamed body's payload hash is sent as ``UNSIGNED-PAYLOAD``, and
        the headers given are signed along.
        """
        signer = Signer(Credentials("AK", "secret"), "eu-west-1")
        headers = signer.sign(
            "PUT", "http://h:1/b/k", {"Content-Type": "x/y"}, UNSIGNED_PAYLOAD
        )
        self.assertEqual(headers["X-Amz-Content-SHA256"], UNSIGNED_PAYLOAD)
        self.assertIn("content-type", headers["Authorization"])
        self.assertNotIn("secret", repr(signer) + repr(headers))

    def test_refresh(self) -> None:
        """
        Plain credentials never need refreshing; a refresh keeps signing
        with them.
        """
        signer = Signer(Credentials("AK", "secret"))
        self.assertFalse(signer.needs_refresh())
        signer.refresh()
        self.assertEqual(signer.access_key, "AK")
