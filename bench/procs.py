"""
Starting, watching and stopping the benchmark's servers: nginx (upstream and
``proxy_cache``) and twisted-pypi, each in its own process group, always on
127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from attrs import define, field

#: Where every server listens.
HOST = "127.0.0.1"


def free_port() -> int:
    """:return: A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """
    Wait until something accepts connections on ``port``.

    :param port: The port on 127.0.0.1.
    :param process: The server; failing if it exits first.
    :param timeout: Seconds to wait at most.
    :raise RuntimeError: If the server exited or did not listen in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout} s")


@define
class Server:
    """
    A server process in its own process group.

    :ivar name: For messages.
    :ivar process: The process.
    :ivar log: Its output file, if any.
    """

    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> None:
        """
        Stop the whole process group: SIGTERM, then SIGKILL after ``timeout``.
        Safe to call twice.
        """
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        # Workers (nginx) may outlive their master for a moment.
        _signal_group(self.process.pid, signal.SIGKILL)
        if self.log is not None:
            self.log.close()
            self.log = None


def _signal_group(pgid: int, sig: int) -> None:
    """Signal a process group that may already be gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def start(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Server:
    """
    Start a server in a new session (so its whole group can be killed).

    :param name: For messages.
    :param argv: The command.
    :param log_path: Where its standard output and error go.
    :param cwd: Its working directory.
    :param env: Its environment (default: ours).
    """
    log = open(log_path, "ab")
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except BaseException:
        log.close()
        raise
    return Server(name, process, log)


# nginx ---------------------------------------------------------------------

_NGINX_COMMON = """\
{user}worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy_temp;
    fastcgi_temp_path {prefix}/fastcgi_temp;
    uwsgi_temp_path {prefix}/uwsgi_temp;
    scgi_temp_path {prefix}/scgi_temp;
    types {{
        text/html html;
        application/vnd.pypi.simple.v1+json v1_json;
        application/zip whl;
        application/gzip gz;
    }}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    gzip off;
{body}
}}
"""

_NGINX_UPSTREAM = """\
    log_format bench '$msec $request_method $uri $status $body_bytes_sent '
                     '"$http_user_agent"';
    map $http_accept $simple_index {{
        "~application/vnd\\.pypi\\.simple\\.v1\\+json" index.v1_json;
        default index.html;
    }}
    server {{
        listen {host}:{port};
        root {root};
        access_log {prefix}/access.log bench;
        location /simple/ {{
            index $simple_index;
            add_header Vary Accept;
        }}
        location /packages/ {{
            limit_rate {rate};
        }}
    }}
"""

_NGINX_PROXY = """\
    proxy_cache_path {prefix}/cache levels=1:2 keys_zone=bench:16m max_size=4g
                     inactive=1h use_temp_path=off;
    upstream origin {{
        server {host}:{upstream_port};
        keepalive 16;
    }}
    server {{
        listen {host}:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_cache bench;
        proxy_cache_valid 200 10m;
        proxy_cache_lock on;
        proxy_cache_lock_timeout 120s;
        proxy_cache_lock_age 120s;
        add_header X-Cache $upstream_cache_status;
        # Pages vary by Accept (JSON or HTML); files do not.
        location /simple/ {{
            proxy_pass http://origin;
            proxy_cache_key "$request_uri|$http_accept";
        }}
        location / {{
            proxy_pass http://origin;
            proxy_cache_key "$request_uri";
        }}
    }}
"""


def nginx_binary() -> str | None:
    """:return: The nginx executable, or ``None`` if it is not installed."""
    return shutil.which("nginx") or next(
        (
            p
            for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
            if os.access(p, os.X_OK)
        ),
        None,
    )


def nginx_version(binary: str) -> str:
    """:return: What ``nginx -v`` says, e.g. ``nginx/1.22.1``."""
    out = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    return (out.stderr or out.stdout).strip().removeprefix("nginx version: ")


def _nginx_conf(prefix: Path, body: str) -> Path:
    """Write a whole nginx.conf around an ``http`` block body."""
    prefix.mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = _NGINX_COMMON.format(user=user, workers="auto", prefix=prefix, body=body)
    path = prefix / "nginx.conf"
    path.write_text(conf)
    return path


def start_nginx(binary: str, name: str, prefix: Path, body: str, port: int) -> Server:
    """
    Check and start an nginx in the foreground with its own prefix.

    :param binary: The nginx executable.
    :param name: For messages.
    :param prefix: Its directory (config, logs, temp files, cache).
    :param body: The inside of its ``http`` block.
    :param port: The port it listens on, waited for.
    """
    conf = _nginx_conf(prefix, body)
    argv = [binary, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
    check = subprocess.run(
        argv[:-2] + ["-t", "-q"], capture_output=True, text=True, timeout=30
    )
    if check.returncode != 0:
        raise RuntimeError(f"{name}: bad nginx config: {check.stderr.strip()}")
    server = start(name, argv, prefix / "stdout.log")
    try:
        wait_for_port(port, server.process, 15)
    except BaseException:
        server.stop()
        raise
    return server


def upstream_conf(prefix: Path, root: Path, port: int, rate: str) -> str:
    """
    :param prefix: The nginx prefix (the access log goes there).
    :param root: The upstream tree.
    :param port: The port to listen on.
    :param rate: ``limit_rate`` for ``/packages/`` (``0`` for none).
    :return: The ``http`` block body of the static upstream.
    """
    return _NGINX_UPSTREAM.format(
        host=HOST, port=port, root=root, prefix=prefix, rate=rate
    )


def proxy_conf(prefix: Path, port: int, upstream_port: int) -> str:
    """
    :param prefix: The nginx prefix (the cache goes there).
    :param port: The port to listen on.
    :param upstream_port: The upstream's port.
    :return: The ``http`` block body of the ``proxy_cache`` reference.
    """
    return _NGINX_PROXY.format(
        host=HOST, port=port, upstream_port=upstream_port, prefix=prefix
    )


def group_pids(pgid: int) -> list[int]:
    """:return: The processes of a process group (nginx master and workers)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


# twisted-pypi --------------------------------------------------------------


def start_proxy(
    repo: Path,
    index_url: str,
    port: int,
    cache_dir: Path,
    log_path: Path,
    options: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    name: str = "twisted-pypi",
) -> Server:
    """
    Start twisted-pypi with this interpreter, from the repository.

    :param repo: The repository root (its ``twisted_pypi`` is imported).
    :param index_url: The upstream simple index.
    :param port: The port to listen on.
    :param cache_dir: Its cache directory.
    :param log_path: Where its output goes.
    :param options: More command-line options (``--store`` ...).
    :param environ: Its environment (default: ours).
    :param name: For messages.
    :raise RuntimeError: If it exited or did not listen in time (it is
        stopped then; its log says why).
    """
    env = dict(os.environ if environ is None else environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(repo), *filter(None, [env.get("PYTHONPATH")])]
    )
    argv = [
        sys.executable,
        "-m",
        "twisted_pypi",
        "serve",
        "--index",
        index_url,
        "--listen",
        f"tcp:{port}:interface={HOST}",
        "--cache-dir",
        str(cache_dir),
        *options,
    ]
    server = start(name, argv, log_path, cwd=repo, env=env)
    try:
        wait_for_port(port, server.process, 30)
    except BaseException:
        server.stop()
        raise
    return server


# access logs ---------------------------------------------------------------


def upstream_fetches(log: Path, offset: int, path: str) -> int:
    """
    :param log: The upstream's access log.
    :param offset: Where the test's lines start.
    :param path: The file's path on the upstream.
    :return: How many GETs of ``path`` were logged after ``offset``.
    """
    with open(log, "rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    return sum(1 for line in lines if f" GET {path} " in f" {line} ")


def upstream_traffic(log: Path, offset: int) -> tuple[int, int, int]:
    """
    :param log: The upstream's access log.
    :param offset: Where the test's lines start.
    :return: The bytes of bodies the upstream sent after ``offset``, and
        how many of its answers were whole files (200) and ranges (206) of
        ``/packages/``.
    """
    with open(log, "rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    sent = whole = ranged = 0
    for line in lines:
        fields = line.split()
        if len(fields) < 5 or not fields[4].isdigit():
            continue
        sent += int(fields[4])
        if fields[2].startswith("/packages/"):
            whole += fields[3] == "200"
            ranged += fields[3] == "206"
    return sent, whole, ranged


def log_size(log: Path) -> int:
    """:return: The current size of a log (0 if it does not exist yet)."""
    try:
        return log.stat().st_size
    except OSError:
        return 0


# memory --------------------------------------------------------------------


def status_kib(pid: int, key: str) -> int | None:
    """
    :param pid: A process.
    :param key: A ``/proc/PID/status`` field in kB, such as ``VmRSS``.
    :return: Its value in KiB, or ``None`` if the process is gone.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@define
class RssSampler:
    """
    Samples the resident memory of some processes every ``interval`` seconds
    in a thread, until stopped (or ``limit`` seconds passed).

    :ivar pids: The processes; their RSS is summed per sample.
    :ivar interval: Seconds between samples.
    :ivar limit: The most seconds it runs.
    :ivar samples: ``(seconds since start, KiB)`` pairs.
    """

    pids: list[int]
    interval: float = 0.05
    limit: float = 300.0
    samples: list[tuple[float, int]] = field(factory=list)
    _stop: threading.Event = field(factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start sampling."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set() and time.monotonic() - started < self.limit:
            values = [status_kib(pid, "VmRSS") for pid in self.pids]
            self.samples.append(
                (time.monotonic() - started, sum(v for v in values if v is not None))
            )
            self._stop.wait(self.interval)

    @property
    def peak_kib(self) -> int:
        """The largest sample."""
        return max((kib for _, kib in self.samples), default=0)


def cpu_seconds(pids: list[int]) -> float:
    """
    :param pids: Processes.
    :return: The user + system CPU time they have used, summed (gone ones
        count 0).
    """
    return sum(cpu_times(pids))


def cpu_times(pids: list[int]) -> tuple[float, float]:
    """
    :param pids: Processes.
    :return: The user and the system CPU seconds they have used, each
        summed over them (``utime`` and ``stime`` of ``/proc/<pid>/stat``;
        gone ones count 0).
    """
    ticks = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])
        system += int(fields[12])
    return user / ticks, system / ticks
