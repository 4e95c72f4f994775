"""
Tests for :mod:`twisted_pypi.app.endpoints`: ``--listen`` checked up front,
and the default listen backlog.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.app.endpoints import DEFAULT_BACKLOG, check_listen, with_backlog


class CheckListenTests(SynchronousTestCase):
    """
    :func:`check_listen`.
    """

    def test_valid(self) -> None:
        """
        TCP, TCP6 and UNIX endpoints with ports in range pass.
        """
        for description in ("tcp:0", "tcp:65535:interface=127.0.0.1", "tcp6:8080"):
            check_listen(description)
        check_listen("unix:/tmp/p.sock")

    def test_port_out_of_range(self) -> None:
        """
        A TCP port above 65535 is an error naming ``--listen``, the value
        and the port.
        """
        e = self.assertRaises(ValueError, check_listen, "tcp:99999")
        self.assertEqual(
            str(e), "--listen 'tcp:99999': port 99999 is not between 0 and 65535"
        )

    def test_not_an_endpoint(self) -> None:
        """
        A string that is no endpoint is an error naming ``--listen``.
        """
        e = self.assertRaises(ValueError, check_listen, "tcp:http")
        self.assertIn("--listen 'tcp:http' is not a valid endpoint", str(e))


class BacklogTests(SynchronousTestCase):
    """
    :func:`with_backlog`.
    """

    def test_default_added(self) -> None:
        """
        TCP, SSL and UNIX endpoints that name no backlog get the default,
        which holds a thousand concurrent clients.
        """
        self.assertGreaterEqual(DEFAULT_BACKLOG, 1000)
        self.assertEqual(with_backlog("tcp:8080"), "tcp:8080:backlog=1024")
        self.assertEqual(
            with_backlog("ssl:8443:privateKey=k.pem"),
            "ssl:8443:privateKey=k.pem:backlog=1024",
        )
        self.assertEqual(
            with_backlog("unix:/run/p.sock"), "unix:/run/p.sock:backlog=1024"
        )

    def test_explicit_kept(self) -> None:
        """
        An endpoint that names a backlog keeps it.
        """
        self.assertEqual(with_backlog("tcp:8080:backlog=10"), "tcp:8080:backlog=10")
        self.assertEqual(
            with_backlog("tcp:8080:backlog=10:interface=127.0.0.1"),
            "tcp:8080:backlog=10:interface=127.0.0.1",
        )

    def test_escaped_colon(self) -> None:
        """
        An escaped colon in a value is not a field separator.
        """
        self.assertEqual(
            with_backlog(r"unix:/tmp/a\:backlog=1"),
            r"unix:/tmp/a\:backlog=1:backlog=1024",
        )

    def test_other_types_untouched(self) -> None:
        """
        Endpoint types without a backlog are left as given.
        """
        self.assertEqual(
            with_backlog("systemd:domain=INET:index=0"), "systemd:domain=INET:index=0"
        )
