# -*- test-case-name: tests.core.test_secrets -*-
"""
Secret option values (``--admin-token``, ``--cluster-secret``): the value
itself, or ``@FILE`` to read it from a file and keep it off the command
line (and out of the process list).
"""

from __future__ import annotations

__all__ = ["read_secret"]


def read_secret(option: str, value: str, noun: str, min_length: int = 1) -> str:
    """
    The secret an option gives.

    :param option: The option, for messages (``--admin-token``).
    :param value: Its value: the secret, or ``@FILE``.
    :param noun: What the secret is called in messages (``token``).
    :param min_length: The fewest characters accepted.
    :return: The secret, without surrounding white space.
    :raise ValueError: If the file cannot be read, or the secret is empty,
        holds white space or is too short; the message never holds it.
    """
    if value.startswith("@"):
        try:
            with open(value[1:], encoding="utf-8") as f:
                value = f.read()
        except (OSError, UnicodeDecodeError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else e
            raise ValueError(f"{option}: cannot read {value[1:]!r}: {why}") from None
    secret = value.strip()
    if not secret or any(c.isspace() for c in secret):
        raise ValueError(f"{option}: the {noun} must be one word, not empty")
    if len(secret) < min_length:
        raise ValueError(
            f"{option}: the {noun} must be {min_length} characters or more"
        )
    return secret
