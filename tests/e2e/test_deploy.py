"""
The deployment recipes of ``docs/deployment.md``: the systemd unit, the
Dockerfile, TLS through endpoint strings, and nginx in front with
``--base-url``.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
from typing import Any
from urllib.parse import urlsplit

import treq
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from treq.client import HTTPClient
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProcessTransport
from twisted.internet.ssl import Certificate
from twisted.internet.task import deferLater
from twisted.python.filepath import FilePath
from twisted.scripts.twistd import ServerOptions
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool

from tests import REPOSITORY
from tests.fakeindex import FakeFile, FakeIndex
from tests.fakes import MemoryProxy
from tests.realinstall import Collect, Upstream
from tests.wheels import build_wheel
from twisted_pypi.app.configfile import load_file
from twisted_pypi.app.service import make_service
from twisted_pypi.app.tap import Options

ROOT = REPOSITORY
UNIT = os.path.join(ROOT, "deploy", "twisted-pypi.service")
CONFIG = os.path.join(ROOT, "deploy", "config.toml")
DOCKERFILE = os.path.join(ROOT, "Dockerfile")
DEPLOYMENT = os.path.join(ROOT, "docs", "deployment.md")
DEMO = build_wheel("demo", "1.0")


def unit_settings() -> dict[str, list[tuple[str, str]]]:
    """
    The unit file's settings by section, in order (keys may repeat).
    """
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    with open(UNIT, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), [])
                continue
            key, _, value = line.partition("=")
            current.append((key, value))
    return sections


def dockerfile() -> list[tuple[str, str]]:
    """
    The Dockerfile's instructions and their arguments (continuations joined).
    """
    instructions = []
    with open(DOCKERFILE, encoding="utf-8") as f:
        text = re.sub(r"\\\n", " ", f.read())
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            instructions.append((word.upper(), " ".join(rest.split())))
    return instructions


def self_signed(directory: FilePath[str]) -> tuple[str, str, bytes]:
    """
    A key and a self-signed certificate for 127.0.0.1 and localhost.

    :return: The key file, the certificate file and the certificate's PEM.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    directory.makedirs(ignoreExistingDirectory=True)
    key_file, cert_file = directory.child("key.pem"), directory.child("cert.pem")
    key_file.setContent(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    cert_file.setContent(pem)
    return key_file.path, cert_file.path, pem


class SystemdUnitTests(SynchronousTestCase):
    """
    ``deploy/twisted-pypi.service`` and ``deploy/config.toml``.
    """

    def test_systemd_analyze(self) -> None:
        """
        ``systemd-analyze verify`` accepts the unit (with an executable that
        exists here in place of ``/opt/twisted-pypi/bin/twistd``).
        """
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            raise SkipTest("systemd-analyze is not installed")
        with open(UNIT, encoding="utf-8") as f:
            text = f.read()
        twistd = shutil.which("twistd") or shutil.which("true") or "/bin/true"
        self.assertIn("/opt/twisted-pypi/bin/twistd ", text)
        directory = FilePath(self.mktemp())
        directory.makedirs()
        copy = directory.child("twisted-pypi.service")
        copy.setContent(text.replace("/opt/twisted-pypi/bin/twistd", twistd).encode())
        os.chmod(copy.path, 0o644)
        result = subprocess.run(
            [analyze, "verify", copy.path], capture_output=True, text=True, timeout=60
        )
        # Only complaints about this unit count (not about the host's units).
        about_unit = [
            line for line in result.stderr.splitlines() if "twisted-pypi" in line
        ]
        self.assertEqual((result.returncode, about_unit), (0, []), result.stderr)

    def test_user_directories_hardening(self) -> None:
        """
        The service runs as a dedicated unprivileged user with its own cache,
        state and log directories, and the hardening settings are on.
        """
        service = dict(unit_settings()["Service"])
        self.assertEqual(service["DynamicUser"], "yes")
        self.assertEqual(service["User"], "twisted-pypi")
        for key in ("CacheDirectory", "StateDirectory", "LogsDirectory"):
            self.assertEqual(service[key], "twisted-pypi", key)
        hardening = {
            "NoNewPrivileges": "yes",
            "ProtectSystem": "strict",
            "ProtectHome": "yes",
            "PrivateTmp": "yes",
            "PrivateDevices": "yes",
            "CapabilityBoundingSet": "",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "SystemCallArchitectures": "native",
        }
        for key, value in hardening.items():
            self.assertEqual(service.get(key), value, key)
        self.assertEqual(
            unit_settings()["Install"], [("WantedBy", "multi-user.target")]
        )

    def test_command_and_settings(self) -> None:
        """
        ``ExecStart`` runs ``twistd --nodaemon pypiproxy --config FILE``;
        ``deploy/config.toml`` parses, and keeps the cache and the access
        log in the directories systemd gives the service.
        """
        service = dict(unit_settings()["Service"])
        argv = shlex.split(service["ExecStart"])
        self.assertEqual(argv[0], "/opt/twisted-pypi/bin/twistd")
        config = argv[argv.index("--config") + 1]
        self.assertEqual(
            os.path.dirname(config), "/etc/" + service["ConfigurationDirectory"]
        )
        settings = load_file(CONFIG)
        self.assertEqual(
            settings["cache-dir"], "/var/cache/" + service["CacheDirectory"]
        )
        log = settings["access-log"]
        self.assertEqual(os.path.dirname(log), "/var/log/" + service["LogsDirectory"])
        # The shipped file, with the directories moved somewhere writable.
        cache = self.mktemp()
        options = ServerOptions()
        self.patch(Options, "environ", {})
        arguments = argv[1:]
        arguments[arguments.index("--config") + 1] = CONFIG
        arguments += ["--cache-dir", cache, "--access-log", cache + ".log"]
        options.parseOptions(arguments)
        self.assertEqual(options.subCommand, "pypiproxy")
        self.assertTrue(options["nodaemon"])
        parsed = options.subOptions["config"]
        self.assertEqual(parsed.listen, ("tcp:8080:interface=127.0.0.1",))
        self.assertEqual([i.url for i in parsed.indexes], ["https://pypi.org/simple/"])


class DockerfileTests(SynchronousTestCase):
    """
    The ``Dockerfile``'s commands fit the package (docker itself cannot run
    here).
    """

    def setUp(self) -> None:
        self.instructions = dockerfile()
        self.by_kind: dict[str, list[str]] = {}
        for kind, argument in self.instructions:
            self.by_kind.setdefault(kind, []).append(argument)
        self.env: dict[str, str] = {}
        for argument in self.by_kind["ENV"]:
            for item in shlex.split(argument):
                key, _, value = item.partition("=")
                self.env[key] = value

    def test_base_and_install(self) -> None:
        """
        The image starts from a Python the package supports, copies the
        project and installs it with pip, then fills Twisted's plugin cache.
        """
        match = re.fullmatch(r"python:3\.(\d+)-slim", self.by_kind["FROM"][0])
        assert match is not None, self.by_kind["FROM"]
        self.assertGreaterEqual(int(match.group(1)), 10)
        [copy] = self.by_kind["COPY"]
        source, target = copy.split()
        self.assertEqual(source, ".")
        run = " ".join(self.by_kind["RUN"])
        self.assertIn(f"pip install {target}", run)
        self.assertIn("getPlugins", run)
        with open(os.path.join(ROOT, ".dockerignore"), encoding="utf-8") as f:
            ignored = f.read().split()
        self.assertIn(".git", ignored)
        self.assertNotIn("twisted_pypi", ignored)

    def test_non_root_user_owns_the_volume(self) -> None:
        """
        The service runs as a user the image creates, not root, and that
        user owns the cache volume, which is the cache directory.
        """
        [user] = self.by_kind["USER"]
        self.assertNotIn(user, ("root", "0"))
        run = " ".join(self.by_kind["RUN"])
        self.assertRegex(run, rf"useradd [^&]*\b{user}\b")
        [volume] = json.loads(self.by_kind["VOLUME"][0])
        self.assertEqual(self.env["PYPIPROXY_CACHE_DIR"], volume)
        self.assertIn(f"chown {user}:{user} {volume}", run)
        kinds = [kind for kind, _ in self.instructions]
        self.assertLess(kinds.index("RUN"), kinds.index("USER"))

    def test_entrypoint_port_and_health(self) -> None:
        """
        The entry point is ``twistd --nodaemon ... pypiproxy``, which parses
        (with the image's environment) into a proxy listening on the exposed
        port, which the health check asks on a path the proxy serves.
        """
        entrypoint = json.loads(self.by_kind["ENTRYPOINT"][0])
        command = json.loads(self.by_kind["CMD"][0])
        self.assertEqual(entrypoint[0], "twistd")
        self.assertEqual(entrypoint[-1], "pypiproxy")
        environ = {**self.env, "PYPIPROXY_CACHE_DIR": self.mktemp()}
        self.patch(Options, "environ", environ)
        options = ServerOptions()
        options.parseOptions([*entrypoint[1:], *command])
        self.assertTrue(options["nodaemon"])
        self.assertEqual(options["pidfile"], "")
        [listen] = options.subOptions["config"].listen
        port = int(listen.split(":")[1])
        self.assertEqual(self.by_kind["EXPOSE"], [str(port)])
        [health] = self.by_kind["HEALTHCHECK"]
        url = re.search(r"http://127\.0\.0\.1:\d+/\S*?(?=')", health)
        assert url is not None, health
        self.assertEqual(urlsplit(url.group()).port, port)
        cache = FilePath(self.mktemp())
        cache.makedirs()
        answer = MemoryProxy(FakeIndex(), cache).get(urlsplit(url.group()).path)
        self.assertEqual(answer.code, 200)


#: What a browser-like client asks for.
HTML: dict[bytes | str, bytes | str] = {"Accept": "text/html"}


def _trusting_client(pem: bytes) -> tuple[HTTPClient, HTTPConnectionPool]:
    """
    An HTTP client that trusts only the certificate ``pem``.
    """
    pool = HTTPConnectionPool(reactor, persistent=False)
    policy = BrowserLikePolicyForHTTPS(trustRoot=Certificate.loadPEM(pem))
    return HTTPClient(Agent(reactor, contextFactory=policy, pool=pool)), pool


class TLSTests(TestCase):
    """
    ``--listen ssl:...``: the proxy serves HTTPS itself.
    """

    async def test_ssl_endpoint(self) -> None:
        """
        With a real ``ssl:0:privateKey=...:certKey=...:interface=127.0.0.1``
        listener, a client that trusts the certificate gets pages and files
        over TLS, and one that does not trust it gets nothing.
        """
        key, cert, pem = self_signed(FilePath(self.mktemp()))
        index = FakeIndex()
        index.add("demo", FakeFile(DEMO))
        upstream = Upstream(index)
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        options = Options()
        options.environ = {}
        options.parseOptions(
            [
                "--listen",
                f"ssl:0:privateKey={key}:certKey={cert}:interface=127.0.0.1",
                "--index",
                f"up={upstream.url}",
                "--cache-dir",
                self.mktemp(),
            ]
        )
        service = make_service(options["config"], reactor)
        service.startService()
        self.addCleanup(service.stopService)
        address: Any = service.ports[0].getHost()
        origin = f"https://127.0.0.1:{address.port}"
        client, pool = _trusting_client(pem)
        page = await client.get(f"{origin}/simple/demo/", headers=HTML)
        body = await page.text()
        self.assertEqual(page.code, 200, body)
        link = re.search(r'href="([^"#]+)', body)
        assert link is not None, body
        self.assertTrue(link.group(1).startswith("../../files/"))
        wheel = await client.get(
            f"{origin}/files/{link.group(1)[len('../../files/') :]}"
        )
        self.assertEqual(await wheel.content(), DEMO.content)
        with self.assertRaises(Exception) as refused:
            await treq.get(f"{origin}/simple/demo/", persistent=False)
        self.assertIn("certificate verify failed", str(refused.exception))
        await pool.closeCachedConnections()


def documented_nginx() -> str:
    """
    The ``nginx`` server block of ``docs/deployment.md``.
    """
    with open(DEPLOYMENT, encoding="utf-8") as f:
        match = re.search(r"```nginx\n(.*?)```", f.read(), re.DOTALL)
    assert match is not None, "docs/deployment.md has no nginx block"
    return match.group(1)


class NginxTests(TestCase):
    """
    The documented nginx server block, checked by nginx and then run in
    front of a proxy started with the documented ``--base-url`` form.
    """

    timeout = 60

    def setUp(self) -> None:
        self.nginx = shutil.which("nginx") or (
            "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
        )
        if self.nginx is None:
            raise SkipTest("nginx is not installed")
        self.prefix = FilePath(self.mktemp())
        self.prefix.makedirs()
        self.key, self.cert, self.pem = self_signed(self.prefix.child("tls"))

    def configuration(self, port: int, backend: int) -> str:
        """
        A whole nginx configuration around the documented server block: its
        certificate, ports and backend replaced, everything else as written.
        """
        server = documented_nginx()
        server, n = re.subn(
            r"ssl_certificate \S+;", f"ssl_certificate {self.cert};", server
        )
        self.assertEqual(n, 1)
        server, n = re.subn(
            r"ssl_certificate_key \S+;", f"ssl_certificate_key {self.key};", server
        )
        self.assertEqual(n, 1)
        server, n = re.subn(r"listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;", server)
        self.assertEqual(n, 1)
        server, n = re.subn(r"127\.0\.0\.1:8080", f"127.0.0.1:{backend}", server)
        self.assertEqual(n, 1)
        p = self.prefix.path
        return (
            f"daemon off;\nmaster_process off;\npid {p}/nginx.pid;\n"
            f"error_log {p}/error.log;\nevents {{}}\nhttp {{\n"
            f"access_log {p}/access.log;\n{server}}}\n"
        )

    def test_syntax(self) -> None:
        """
        ``nginx -t`` accepts the documented server block.
        """
        conf = self.prefix.child("nginx.conf")
        conf.setContent(self.configuration(8443, 8080).encode())
        argv = [self.nginx or "nginx", "-t", "-p", self.prefix.path, "-e", "stderr"]
        result = subprocess.run(
            [*argv, "-c", conf.path], capture_output=True, text=True, timeout=60
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("syntax is ok", result.stderr)

    async def test_in_front_of_the_proxy(self) -> None:
        """
        Behind nginx (TLS at nginx, ``proxy_buffering off``), a proxy with
        ``--base-url`` set to nginx's URL writes links to nginx, and a file
        fetched through such a link arrives whole.
        """
        index = FakeIndex()
        index.add("demo", FakeFile(DEMO))
        upstream = Upstream(index)
        self.addCleanup(lambda: Deferred.fromCoroutine(upstream.stop()))
        port = _free_port()
        base = f"https://127.0.0.1:{port}/"
        options = Options()
        options.environ = {}
        options.parseOptions(
            [
                "--listen", "tcp:0:interface=127.0.0.1", "--base-url", base,
                "--index", f"up={upstream.url}", "--cache-dir", self.mktemp(),
            ]
        )  # fmt: skip
        service = make_service(options["config"], reactor)
        service.startService()
        self.addCleanup(service.stopService)
        backend: Any = service.ports[0].getHost()
        await self.start_nginx(self.configuration(port, backend.port))
        client, pool = _trusting_client(self.pem)
        self.addCleanup(pool.closeCachedConnections)
        page = await client.get(base + "simple/demo/", headers=HTML)
        body = await page.text()
        self.assertEqual(page.code, 200, body)
        link = re.search(r'href="([^"#]+)', body)
        assert link is not None, body
        self.assertTrue(link.group(1).startswith(base + "files/"), link.group(1))
        wheel = await client.get(link.group(1))
        self.assertEqual(wheel.code, 200)
        self.assertEqual(await wheel.content(), DEMO.content)

    async def start_nginx(self, configuration: str) -> None:
        """
        Run nginx with ``configuration`` until the test ends.
        """
        conf = self.prefix.child("run.conf")
        conf.setContent(configuration.encode())
        collect = Collect()
        argv = [self.nginx or "nginx", "-p", self.prefix.path, "-e", "stderr"]
        argv += ["-c", conf.path]
        process: IProcessTransport = reactor.spawnProcess(
            collect, argv[0], argv, env={"PATH": os.environ.get("PATH", "")}
        )

        def stop() -> Deferred[int] | None:
            if collect.ended.called:
                return None
            process.signalProcess("TERM")
            return collect.ended

        self.addCleanup(stop)
        pid = self.prefix.child("nginx.pid")
        for _ in range(400):
            if collect.ended.called:
                break
            if os.path.exists(pid.path):
                return
            await deferLater(reactor, 0.025)
        output = b"".join(collect.out + collect.err).decode("utf-8", "replace")
        raise AssertionError(f"nginx did not start: {output}")


def _free_port() -> int:
    """
    A TCP port on 127.0.0.1 that nothing listens on just now.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
