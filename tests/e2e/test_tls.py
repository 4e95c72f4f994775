"""
The proxy verifies its upstreams' TLS certificates.
"""

from __future__ import annotations

from typing import Any

import treq
from service_identity.exceptions import CertificateError
from twisted.internet import reactor, ssl
from twisted.trial.unittest import TestCase
from twisted.web.server import Site

from tests.fakeindex import FakeFile, FakeIndex
from tests.wheels import build_wheel
from twisted_pypi.app.service import make_service
from twisted_pypi.core.config import IndexConfig, ProxyConfig


class UpstreamCertificateTests(TestCase):
    """
    An upstream over HTTPS must present a certificate the system trusts.
    """

    async def test_untrusted_certificate_refused(self) -> None:
        """
        A page requested from an upstream whose certificate is self-signed is
        a 502 naming the failure; nothing from that upstream is served.
        """
        upstream = FakeIndex()
        upstream.add("demo", FakeFile(build_wheel("demo", "1.0")))
        certificate = ssl.KeyPair.generate(size=2048).selfSignedCert(1, CN="127.0.0.1")
        port = reactor.listenSSL(  # type: ignore[attr-defined]
            0, Site(upstream), certificate.options(), interface="127.0.0.1"
        )
        self.addCleanup(port.stopListening)
        url = f"https://127.0.0.1:{port.getHost().port}/simple/"
        service = make_service(
            ProxyConfig(
                listen=("tcp:0:interface=127.0.0.1",),
                indexes=(IndexConfig("tls", url),),
                cache_dir=self.mktemp(),
            ),
            reactor,
        )
        service.startService()
        self.addCleanup(service.stopService)
        address: Any = service.ports[0].getHost()
        proxy = f"http://127.0.0.1:{address.port}"
        response = await treq.get(f"{proxy}/simple/demo/", persistent=False)
        body = await response.text()
        self.assertEqual(response.code, 502, body)
        self.assertIn("certificate", body.lower())
        self.assertEqual(upstream.requests, [])
        # Twisted logs the failed identity check as it drops the connection.
        self.flushLoggedErrors(CertificateError)
