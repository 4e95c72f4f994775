"""
Tests for :mod:`twisted_pypi.core.secrets`.
"""

from __future__ import annotations

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.secrets import read_secret


class ReadSecretTests(SynchronousTestCase):
    """
    :func:`read_secret` reads a secret option's value.
    """

    def test_value(self) -> None:
        """
        A plain value is the secret, without surrounding white space.
        """
        self.assertEqual(read_secret("--x", " s3cret ", "token"), "s3cret")

    def test_file(self) -> None:
        """
        ``@FILE`` reads the secret from the file, its newline dropped.
        """
        path = FilePath(self.mktemp())
        path.setContent(b"from-a-file\n")
        self.assertEqual(read_secret("--x", "@" + path.path, "token"), "from-a-file")

    def test_missing_file(self) -> None:
        """
        A file that cannot be read is an error naming the option and the
        file.
        """
        with self.assertRaises(ValueError) as caught:
            read_secret("--x", "@/nonexistent/secret", "token")
        self.assertIn("--x: cannot read '/nonexistent/secret'", str(caught.exception))

    def test_not_one_word(self) -> None:
        """
        An empty secret, or one with white space inside, is refused without
        being shown.
        """
        for value in ("", "   ", "two words"):
            with self.assertRaises(ValueError) as caught:
                read_secret("--x", value, "secret")
            self.assertEqual(
                str(caught.exception), "--x: the secret must be one word, not empty"
            )

    def test_too_short(self) -> None:
        """
        A secret shorter than the minimum is refused, without being shown.
        """
        with self.assertRaises(ValueError) as caught:
            read_secret("--x", "short", "secret", min_length=16)
        self.assertEqual(
            str(caught.exception), "--x: the secret must be 16 characters or more"
        )
        self.assertEqual(
            read_secret("--x", "a" * 16, "secret", min_length=16), "a" * 16
        )
