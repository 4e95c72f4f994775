"""
Tests for the users file, its cred checker, and ``pypiproxy passwd``.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from io import StringIO
from typing import Any, TypeVar

import bcrypt
from twisted.cred.credentials import UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.logger import capturedLogs
from twisted.python import usage
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app import cli
from twisted_pypi.upload.users import (
    CACHE_SECONDS,
    UsersFileChecker,
    UsersFileError,
    hash_password,
    load_users,
    parse_users,
    set_password,
)

T = TypeVar("T")

#: A cheap bcrypt cost, for speed.
ROUNDS = 4


def bcrypt_hash(password: str, prefix: bytes = b"$2b$") -> str:
    """
    A cheap bcrypt hash of ``password``, with the given prefix.
    """
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(ROUNDS))
    return (prefix + hashed[4:]).decode()


class CountingRunner:
    """
    Runs work at once and counts it; with ``hold``, queues it until
    :meth:`release`.
    """

    def __init__(self, hold: bool = False) -> None:
        self.runs = 0
        self.hold = hold
        self.queued: list[tuple[Callable[[], Any], Deferred[Any]]] = []

    def __call__(self, work: Callable[[], T]) -> Deferred[T]:
        """
        Run (or queue) ``work``.
        """
        self.runs += 1
        if not self.hold:
            return maybeDeferred(work)
        d: Deferred[T] = Deferred()
        self.queued.append((work, d))
        return d

    def release(self) -> None:
        """
        Run the queued work.
        """
        queued, self.queued = self.queued, []
        for work, d in queued:
            d.callback(work())


class ParseTests(SynchronousTestCase):
    """
    Reading users files.
    """

    def test_users_and_comments(self) -> None:
        """
        Each ``user:hash`` line gives a user; comments, blank lines and
        surrounding space are ignored; ``$2y$`` (htpasswd) and ``$2b$``
        hashes are both read.
        """
        alice, bob = bcrypt_hash("a", b"$2y$"), bcrypt_hash("b")
        text = f"# uploaders\n\n  alice:{alice}  \n# bob next\nbob:{bob}\n"
        users = parse_users(text, "users")
        self.assertEqual(users, {"alice": alice.encode(), "bob": bob.encode()})

    def test_bad_line(self) -> None:
        """
        A line without a colon is refused, naming the file and line number.
        """
        text = f"alice:{bcrypt_hash('a')}\n\nbob\n"
        e = self.assertRaises(UsersFileError, parse_users, text, "users")
        self.assertIn("users, line 3: expected 'user:bcrypt-hash'", str(e))

    def test_plain_text_refused(self) -> None:
        """
        A plain-text password is refused, with the line number and how to
        set a hash, and without showing the password.
        """
        e = self.assertRaises(
            UsersFileError, parse_users, "# x\nalice:hunter2\n", "users"
        )
        self.assertIn("line 2", str(e))
        self.assertIn("not a bcrypt hash", str(e))
        self.assertIn("pypiproxy passwd", str(e))
        self.assertNotIn("hunter2", str(e))

    def test_other_formats_refused(self) -> None:
        """
        Other htpasswd formats (SHA1, Apache MD5, crypt) are refused.
        """
        for hashed in (
            "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=",
            "$apr1$abcdefgh$0123456789abcdefghijkl",
            "ab01FAX.bQRSU",
        ):
            e = self.assertRaises(UsersFileError, parse_users, f"a:{hashed}", "f")
            self.assertNotIn(hashed, str(e))

    def test_duplicate_user(self) -> None:
        """
        A user listed twice is refused, naming both lines.
        """
        text = f"alice:{bcrypt_hash('a')}\nalice:{bcrypt_hash('b')}\n"
        e = self.assertRaises(UsersFileError, parse_users, text, "users")
        self.assertIn("line 2: user 'alice' is already listed on line 1", str(e))

    def test_missing_file(self) -> None:
        """
        A users file that cannot be read is an error naming it.
        """
        path = self.mktemp()
        e = self.assertRaises(UsersFileError, load_users, path)
        self.assertIn(path, str(e))


class CheckerTests(SynchronousTestCase):
    """
    Checking passwords against a users file.
    """

    def setUp(self) -> None:
        self.path = FilePath(self.mktemp())
        self.path.setContent(f"alice:{bcrypt_hash('secret')}\n".encode())
        self.clock = Clock()
        self.runner = CountingRunner()
        self.checker = UsersFileChecker(self.path.path, self.clock, self.runner)

    def login(self, user: bytes, password: bytes) -> Deferred[Any]:
        """
        Ask the checker about ``user`` and ``password``.
        """
        return self.checker.requestAvatarId(UsernamePassword(user, password))

    def replace_file(self, text: str) -> None:
        """
        Replace the users file as ``pypiproxy passwd`` does (a new inode).
        """
        temp = self.path.siblingExtension(".new")
        temp.setContent(text.encode())
        os.replace(temp.path, self.path.path)

    def test_right_password(self) -> None:
        """
        The right password gives the user name, checked in the runner.
        """
        self.assertEqual(
            self.successResultOf(self.login(b"alice", b"secret")), b"alice"
        )
        self.assertEqual(self.runner.runs, 1)

    def test_wrong_password(self) -> None:
        """
        A wrong password fails with ``UnauthorizedLogin``.
        """
        self.failureResultOf(self.login(b"alice", b"wrong"), UnauthorizedLogin)

    def test_unknown_user(self) -> None:
        """
        An unknown user is refused after a check as costly as a real one,
        even with a password that is right for another user.
        """
        self.failureResultOf(self.login(b"mallory", b"secret"), UnauthorizedLogin)
        self.assertEqual(self.runner.runs, 1)

    def test_too_long_password(self) -> None:
        """
        A password longer than bcrypt reads is refused, not an error.
        """
        self.failureResultOf(self.login(b"alice", b"secret" * 20), UnauthorizedLogin)

    def test_invalid_utf8_user(self) -> None:
        """
        A user name that is not UTF-8 is refused.
        """
        self.failureResultOf(self.login(b"\xff", b"secret"), UnauthorizedLogin)

    def test_success_remembered(self) -> None:
        """
        A success is remembered for a while, so repeated logins (one per
        uploaded file) skip the slow check; then it is checked again.
        """
        self.successResultOf(self.login(b"alice", b"secret"))
        self.clock.advance(CACHE_SECONDS - 1)
        self.successResultOf(self.login(b"alice", b"secret"))
        self.assertEqual(self.runner.runs, 1)
        self.clock.advance(2)
        self.successResultOf(self.login(b"alice", b"secret"))
        self.assertEqual(self.runner.runs, 2)

    def test_failure_not_remembered(self) -> None:
        """
        A failed check is not remembered: each attempt pays the full cost.
        """
        self.failureResultOf(self.login(b"alice", b"wrong"), UnauthorizedLogin)
        self.failureResultOf(self.login(b"alice", b"wrong"), UnauthorizedLogin)
        self.assertEqual(self.runner.runs, 2)

    def test_concurrent_checks_shared(self) -> None:
        """
        Identical logins arriving while one is being checked share its check.
        """
        self.runner.hold = True
        first, second = self.login(b"alice", b"secret"), self.login(b"alice", b"secret")
        self.assertNoResult(first)
        self.assertNoResult(second)
        self.runner.release()
        self.assertEqual(self.successResultOf(first), b"alice")
        self.assertEqual(self.successResultOf(second), b"alice")
        self.assertEqual(self.runner.runs, 1)

    def test_changed_during_check(self) -> None:
        """
        A login that arrives after the users file changed, while the same
        credentials are being checked against the old file, is checked
        against the new file: a password the change revoked neither logs in
        nor is remembered.
        """
        self.runner.hold = True
        before = self.login(b"alice", b"secret")
        self.replace_file(f"alice:{bcrypt_hash('changed')}\n")
        after = self.login(b"alice", b"secret")
        self.runner.release()
        self.successResultOf(before)
        self.failureResultOf(after, UnauthorizedLogin)
        self.runner.hold = False
        self.failureResultOf(self.login(b"alice", b"secret"), UnauthorizedLogin)
        self.assertEqual(
            self.successResultOf(self.login(b"alice", b"changed")), b"alice"
        )

    def test_change_during_check_forgotten(self) -> None:
        """
        A success checked against a file that changed while it was checked
        is not remembered once the change is seen: the next login is
        checked against the new file.
        """
        self.runner.hold = True
        before = self.login(b"alice", b"secret")
        self.replace_file(f"alice:{bcrypt_hash('changed')}\n")
        self.runner.release()
        self.successResultOf(before)
        self.runner.hold = False
        self.failureResultOf(self.login(b"alice", b"secret"), UnauthorizedLogin)

    def test_reload(self) -> None:
        """
        A changed file is read again on the next login: new users may log
        in, removed ones may not, and remembered successes are forgotten.
        """
        self.successResultOf(self.login(b"alice", b"secret"))
        self.replace_file(f"bob:{bcrypt_hash('builder')}\n")
        self.assertEqual(self.successResultOf(self.login(b"bob", b"builder")), b"bob")
        self.failureResultOf(self.login(b"alice", b"secret"), UnauthorizedLogin)

    def test_reload_invalid(self) -> None:
        """
        A file that becomes invalid lets nobody in, and says why in the log;
        fixing it lets the users in again.
        """
        with capturedLogs() as events:
            self.replace_file("alice:secret\n")
            self.failureResultOf(self.login(b"alice", b"secret"), UnauthorizedLogin)
        self.assertTrue(any("line 1" in str(e.get("error")) for e in events))
        self.assertFalse(any("secret" in str(e.get("error")) for e in events))
        self.replace_file(f"alice:{bcrypt_hash('secret')}\n")
        self.successResultOf(self.login(b"alice", b"secret"))

    def test_reload_removed(self) -> None:
        """
        A removed file lets nobody in.
        """
        self.path.remove()
        self.failureResultOf(self.login(b"alice", b"secret"), UnauthorizedLogin)

    def test_invalid_at_start(self) -> None:
        """
        An invalid file is an error at once.
        """
        self.path.setContent(b"alice:secret\n")
        self.assertRaises(
            UsersFileError, UsersFileChecker, self.path.path, self.clock, self.runner
        )


class PasswdTests(SynchronousTestCase):
    """
    ``pypiproxy passwd FILE USER``.
    """

    def setUp(self) -> None:
        self.path = FilePath(self.mktemp())
        self.err = StringIO()

    def run_passwd(
        self, *args: str, stdin: str = "", answers: tuple[str, ...] = ()
    ) -> int:
        """
        Run the command with cost 4, answering prompts with ``answers``.
        """
        options = cli.Options()
        options.parseOptions(["passwd", "--rounds", "4", *args])
        asked = iter(answers)
        return cli.passwd(
            options.subOptions,
            stdin=StringIO(stdin),
            ask=lambda prompt: next(asked),
            err=self.err,
        )

    def test_new_file(self) -> None:
        """
        A new file gets a verifiable bcrypt line for the user, mode 0600.
        """
        code = self.run_passwd(self.path.path, "alice", answers=("pw", "pw"))
        self.assertEqual(code, 0)
        users = load_users(self.path.path)
        self.assertTrue(bcrypt.checkpw(b"pw", users["alice"]))
        self.assertEqual(stat.S_IMODE(os.stat(self.path.path).st_mode), 0o600)

    def test_update_keeps_others(self) -> None:
        """
        Changing a password replaces only that user's line; comments and
        other users stay, and no temporary file is left.
        """
        bob = bcrypt_hash("b")
        self.path.setContent(
            f"# team\nalice:{bcrypt_hash('old')}\nbob:{bob}\n".encode()
        )
        code = self.run_passwd(
            "--password-stdin", self.path.path, "alice", stdin="new\n"
        )
        self.assertEqual(code, 0)
        lines = self.path.getContent().decode().splitlines()
        self.assertEqual(lines[0], "# team")
        self.assertEqual(lines[2], f"bob:{bob}")
        users = load_users(self.path.path)
        self.assertTrue(bcrypt.checkpw(b"new", users["alice"]))
        self.assertEqual(os.listdir(self.path.dirname()), [self.path.basename()])

    def test_mismatch(self) -> None:
        """
        Two different answers write nothing and fail.
        """
        code = self.run_passwd(self.path.path, "alice", answers=("pw", "wp"))
        self.assertEqual(code, 1)
        self.assertFalse(self.path.exists())
        self.assertIn("do not match", self.err.getvalue())

    def test_empty_password(self) -> None:
        """
        An empty password is refused.
        """
        code = self.run_passwd("--password-stdin", self.path.path, "alice", stdin="\n")
        self.assertEqual(code, 1)
        self.assertIn("empty", self.err.getvalue())

    def test_bad_user(self) -> None:
        """
        A user name with a colon is a usage error.
        """
        self.assertRaises(usage.UsageError, self.run_passwd, self.path.path, "a:b")

    def test_main(self) -> None:
        """
        ``pypiproxy passwd`` runs from the command line and exits 0.
        """
        self.patch(sys, "stdin", StringIO("pw\n"))
        self.patch(sys, "stderr", self.err)
        argv = ["passwd", "--rounds", "4", "--password-stdin", self.path.path, "bob"]
        e = self.assertRaises(SystemExit, cli.main, argv)
        self.assertEqual(e.code, 0)
        self.assertTrue(bcrypt.checkpw(b"pw", load_users(self.path.path)["bob"]))

    def test_hash_password(self) -> None:
        """
        ``hash_password`` refuses passwords bcrypt cannot take whole, and
        ``set_password`` writes what it makes.
        """
        self.assertRaises(ValueError, hash_password, "x" * 73, ROUNDS)
        set_password(self.path.path, "alice", hash_password("é" * 36, ROUNDS))
        users = load_users(self.path.path)
        self.assertTrue(bcrypt.checkpw("é".encode() * 36, users["alice"]))
