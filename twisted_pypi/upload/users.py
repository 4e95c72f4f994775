# -*- test-case-name: tests.upload.test_users -*-
"""
The users who may upload: the users file and the Twisted cred checker for it
(the HTTP auth in front of the upload resource is in
:mod:`twisted_pypi.web.auth`).

A users file has one ``user:hash`` line per user; blank lines and lines
starting with ``#`` are ignored.  Each hash is a bcrypt hash in the form
``htpasswd -B`` writes (``$2y$``) or the ``bcrypt`` library writes (``$2b$``;
``$2a$`` is read too), so a file made with ``htpasswd -B -c FILE USER`` or
``pypiproxy passwd FILE USER`` works.  Plain-text passwords and every other
format (``{SHA}``, ``$apr1$``, crypt) are refused when the file is read, with
the line number; hashes never appear in messages or logs.

:class:`UsersFileChecker` checks ``IUsernamePassword`` credentials against the
file, re-reading it when it changes.  bcrypt is slow on purpose (about 0.25 s
at the default cost), so checks run through an injected :class:`Runner` (a
thread pool in production) and a success is remembered for a short while.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from typing import cast

import bcrypt
from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_pypi.core.runner import Runner

__all__ = [
    "CACHE_SECONDS",
    "DEFAULT_ROUNDS",
    "MAX_PASSWORD_BYTES",
    "UsersFileChecker",
    "UsersFileError",
    "hash_password",
    "is_valid_user",
    "load_users",
    "parse_users",
    "set_password",
]

log = Logger()

#: The bcrypt cost of passwords set by ``pypiproxy passwd``.
DEFAULT_ROUNDS = 12

#: Seconds a successful check is remembered.
CACHE_SECONDS = 120.0

#: The most remembered successes; past it, expired ones are dropped.
_CACHE_LIMIT = 1024

#: bcrypt reads at most this many bytes of a password.
MAX_PASSWORD_BYTES = 72

_BCRYPT = re.compile(r"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_USER = re.compile(r"[^\s:#][^\s:]*")


class UsersFileError(ValueError):
    """
    A users file cannot be read or has a line that is not ``user:bcrypt-hash``.
    """


def is_valid_user(name: str) -> bool:
    """
    Whether ``name`` may be a user name: not empty, no white space or colon,
    not starting with ``#``.
    """
    return _USER.fullmatch(name) is not None


def parse_users(text: str, source: str) -> dict[str, bytes]:
    """
    The users and bcrypt hashes of a users file.

    :param text: The file's contents.
    :param source: The file's name, for messages.
    :return: User name to hash.
    :raises UsersFileError: Naming the first bad line (never its hash).
    """
    users: dict[str, bytes] = {}
    lines: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        user, colon, hashed = line.partition(":")
        if not colon or not _USER.fullmatch(user):
            raise UsersFileError(f"{where}: expected 'user:bcrypt-hash'")
        if user in lines:
            raise UsersFileError(
                f"{where}: user {user!r} is already listed on line {lines[user]}"
            )
        if not _BCRYPT.fullmatch(hashed.strip()):
            raise UsersFileError(
                f"{where}: the password of {user!r} is not a bcrypt hash"
                " ($2b$ or $2y$); plain text and other formats are refused."
                " Set it with 'pypiproxy passwd FILE USER' or 'htpasswd -B FILE USER'"
            )
        users[user] = hashed.strip().encode("ascii")
        lines[user] = number
    return users


def load_users(path: str) -> dict[str, bytes]:
    """
    Read and parse a users file.

    :param path: The file.
    :raises UsersFileError: If it cannot be read or is not valid.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UsersFileError(f"cannot read the users file {path}: {e}") from None
    return parse_users(text, path)


def _check_password(password: bytes, hashed: bytes) -> bool:
    """Whether ``password`` matches ``hashed`` (slow; run it in a thread)."""
    try:
        return bool(bcrypt.checkpw(password, hashed))
    except ValueError:
        # Longer than bcrypt reads: bcrypt >= 5 refuses it rather than
        # silently truncating, so it cannot be the password.
        return False


def _bytes(value: bytes | str) -> bytes:
    """Credentials as bytes (Twisted gives bytes; text is UTF-8 encoded)."""
    return value.encode("utf-8") if isinstance(value, str) else value


def _file_version(path: str) -> tuple[int, int, int] | None:
    """What tells one version of a file from another, or ``None`` if absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


#: A login attempt: the hash of its credentials and the version of the users
#: file it is checked against.
_Attempt = tuple[bytes, "tuple[int, int, int] | None"]


@implementer(ICredentialsChecker)
class UsersFileChecker:
    """
    Checks user names and passwords against a users file.

    The file is read at once (a bad file raises :class:`UsersFileError`) and
    again whenever its inode, size or modification time changes.  A file that
    later becomes unreadable or invalid is logged and lets nobody in until it
    is fixed.  An unknown user costs as much time as a wrong password.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(
        self,
        path: str,
        clock: IReactorTime,
        runner: Runner,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        """
        :param path: The users file.
        :param clock: Time, for the cache of successes.
        :param runner: Runs the password checks away from the reactor.
        :param cache_seconds: How long a success is remembered.
        :raises UsersFileError: If the file cannot be read or is invalid.
        """
        self._path = path
        self._clock = clock
        self._runner = runner
        self._cache_seconds = cache_seconds
        self._version = _file_version(path)
        self._users = load_users(path)
        self._successes: dict[bytes, float] = {}
        #: Checks under way, by credentials and the file version they are
        #: checked against: a login after the file changed never shares a
        #: check made against the old file.
        self._pending: dict[_Attempt, list[Deferred[bool]]] = {}

    def _refresh(self) -> None:
        """Re-read the file if it changed; forget remembered successes."""
        version = _file_version(self._path)
        if version == self._version:
            return
        self._version = version
        self._successes.clear()
        try:
            self._users = load_users(self._path)
        except UsersFileError as e:
            self._users = {}
            log.error(
                "Nobody may upload until the users file is fixed: {error}", error=e
            )
        else:
            log.info("Read {count} upload users from {path}", count=len(self._users),
                     path=self._path)  # fmt: skip

    def requestAvatarId(
        self, credentials: IUsernamePassword
    ) -> Deferred[bytes | tuple[()]]:
        """
        The user name, if the password is right.

        :param credentials: From the ``Authorization`` header.
        :return: Fires with the user name (UTF-8), or fails with
            ``UnauthorizedLogin``.
        """
        self._refresh()
        name = _bytes(credentials.username)
        password = _bytes(credentials.password)
        # Invalid UTF-8 decodes to lone surrogates, which no listed user has.
        user = name.decode("utf-8", "surrogateescape")
        key = hashlib.sha256(name + b"\0" + password).digest()
        expiry = self._successes.get(key)
        if expiry is not None and expiry > self._clock.seconds():
            known: Deferred[bytes | tuple[()]] = succeed(name)
            return known
        version = self._version
        checked = self._check((key, version), user, password)

        def decide(ok: bool) -> bytes | tuple[()]:
            if not ok:
                log.info("Failed upload login as {user!r}", user=user)
                raise UnauthorizedLogin("wrong user name or password")
            # Only a result checked against the file as it still is.
            if self._version == version:
                self._remember(key)
            return name

        return checked.addCallback(decide)

    def _check(self, attempt: _Attempt, user: str, password: bytes) -> Deferred[bool]:
        """
        Check a password in the runner against the users as last read,
        sharing one check among identical concurrent attempts against the
        same version of the file.
        """
        waiting = self._pending.get(attempt)
        if waiting is not None:
            mine: Deferred[bool] = Deferred()
            waiting.append(mine)
            return mine
        hashed = self._users.get(user)
        if hashed is None:
            # Spend the time a real check takes, then refuse whatever it says.
            decoy = next(iter(self._users.values()), None)
            if decoy is None:
                return succeed(False)

            def spend() -> bool:
                _check_password(password, decoy)
                return False

            work = self._runner(spend)
        else:
            work = self._runner(lambda: _check_password(password, hashed))
        self._pending[attempt] = []

        def share(result: bool | Failure) -> bool | Failure:
            for d in self._pending.pop(attempt, []):
                if isinstance(result, Failure):
                    d.errback(result)
                else:
                    d.callback(result)
            return result

        return cast("Deferred[bool]", work.addBoth(share))

    def _remember(self, key: bytes) -> None:
        """Remember a success until it expires."""
        now = self._clock.seconds()
        if len(self._successes) >= _CACHE_LIMIT:
            self._successes = {k: t for k, t in self._successes.items() if t > now}
            if len(self._successes) >= _CACHE_LIMIT:
                self._successes.clear()
        self._successes[key] = now + self._cache_seconds


def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    """
    A bcrypt hash of ``password`` for a users file.

    :raises ValueError: If the password is empty or longer than bcrypt reads.
    """
    data = password.encode("utf-8")
    if not data:
        raise ValueError("the password is empty")
    if len(data) > MAX_PASSWORD_BYTES:
        raise ValueError(f"the password is longer than {MAX_PASSWORD_BYTES} bytes")
    hashed: bytes = bcrypt.hashpw(data, bcrypt.gensalt(rounds))
    return hashed.decode("ascii")


def set_password(path: str, user: str, hashed: str) -> None:
    """
    Add ``user`` to the users file at ``path``, or replace their hash; other
    lines are kept as they are.  The file is replaced atomically and left
    readable by its owner only (mode 0600).

    :param path: The users file; created if absent.
    :param user: The user name.
    :param hashed: The new hash.
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        lines = []
    entry = f"{user}:{hashed}"
    found = False
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("#") and line.split(":", 1)[0].strip() == user:
            lines[i], found = entry, True
    if not found:
        lines.append(entry)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".passwd-", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
