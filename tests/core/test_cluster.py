"""
Tests for :mod:`twisted_pypi.core.cluster`: the cluster settings, the path
of a download in flight, and node-to-node signatures.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.cluster import (
    VALIDITY,
    ClusterConfig,
    inflight_path,
    parse_cluster,
    read_cluster_secret,
    sign,
    verify,
)

SECRET = b"0123456789abcdef-secret"
NOW = 1_700_000_000.0


class ParseTests(SynchronousTestCase):
    """
    :func:`parse_cluster` and :func:`read_cluster_secret`.
    """

    def test_both(self) -> None:
        """Both options give the settings, the URL without a trailing slash."""
        config = parse_cluster("http://10.0.0.5:8080/", SECRET.decode())
        self.assertEqual(config, ClusterConfig("http://10.0.0.5:8080", SECRET))

    def test_neither(self) -> None:
        """Neither option: no cluster settings."""
        self.assertIsNone(parse_cluster(None, None))

    def test_one_alone(self) -> None:
        """One option without the other is refused, naming both."""
        for args in (("http://a:1", None), (None, SECRET.decode())):
            with self.assertRaisesRegex(ValueError, "--node-url and --cluster-secret"):
                parse_cluster(*args)

    def test_bad_url(self) -> None:
        """A node URL that is not an absolute http(s) URL is refused."""
        with self.assertRaisesRegex(ValueError, "--node-url"):
            parse_cluster("a.internal:8080", SECRET.decode())

    def test_secret_from_file(self) -> None:
        """``@FILE`` reads the secret from a file, stripped."""
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(SECRET.decode() + "\n")
        self.assertEqual(read_cluster_secret("@" + path), SECRET)

    def test_bad_secrets(self) -> None:
        """
        An empty, spaced or short secret, or an unreadable file, is refused
        without echoing the secret.
        """
        for value in ("", "two words here 1234", "short", "@/nonexistent/file"):
            with self.assertRaisesRegex(ValueError, "--cluster-secret") as caught:
                read_cluster_secret(value)
            if value and not value.startswith("@"):
                self.assertNotIn(value, str(caught.exception))

    def test_repr_hides_secret(self) -> None:
        """The settings' repr never shows the secret."""
        self.assertNotIn("secret", repr(ClusterConfig("http://a", SECRET)).lower())


class SignatureTests(SynchronousTestCase):
    """
    :func:`sign`, :func:`verify`, :func:`inflight_path`.
    """

    def test_inflight_path(self) -> None:
        """A file's in-flight path is its segments percent-encoded."""
        self.assertEqual(
            inflight_path(("pypi", "https", "h", "a b+c.whl")),
            "/-/inflight/pypi/https/h/a%20b%2Bc.whl",
        )

    def test_roundtrip(self) -> None:
        """A signature verifies for its method and path, within the window."""
        value = sign(SECRET, b"GET", b"/-/inflight/x", NOW)
        for skew in (0, VALIDITY, -VALIDITY):
            self.assertTrue(verify(SECRET, b"GET", b"/-/inflight/x", value, NOW + skew))

    def test_refused(self) -> None:
        """
        Another path, method or secret, a time outside the window, and
        garbled or missing values are refused.
        """
        value = sign(SECRET, b"GET", b"/-/inflight/x", NOW)
        self.assertFalse(verify(SECRET, b"GET", b"/-/inflight/y", value, NOW))
        self.assertFalse(verify(SECRET, b"DELETE", b"/-/inflight/x", value, NOW))
        self.assertFalse(verify(b"other" * 4, b"GET", b"/-/inflight/x", value, NOW))
        for late in (VALIDITY + 1, -VALIDITY - 1):
            self.assertFalse(
                verify(SECRET, b"GET", b"/-/inflight/x", value, NOW + late)
            )
        for bad in (None, b"", b"nodot", b"." + value, b"-5." + value.split(b".")[1]):
            self.assertFalse(verify(SECRET, b"GET", b"/-/inflight/x", bad, NOW))
