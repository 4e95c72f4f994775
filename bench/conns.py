"""
Test f of ``bench/run.py``: many connections.

1. ``wrk -t2 -c1000`` against a small cached page, on twisted-pypi listening
   with ``backlog=50`` in its ``--listen`` endpoint (Twisted's default, the
   proxy's before it set its own) and with its default backlog (1024, see
   ``twisted_pypi/app/endpoints.py``), each run with ``ulimit -n 4096``, and
   on the nginx ``proxy_cache`` reference: requests/s, p99 latency, timeouts
   and errors.
2. Slowloris: twisted-pypi with ``ulimit -n 1024`` (and nginx) while 1100
   connections trickle header bytes (one a second, reopened when closed),
   and a legitimate request is made every 0.2 s: how many of those fail, and
   their latency.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import resource
import shlex
import sys
import time
from pathlib import Path

from attrs import frozen

from bench import load, procs

__all__ = ["ConnsResult", "SlowlorisResult", "conns_phase", "report_conns"]

#: Connections of the wrk runs.
CONNECTIONS = 1000
#: Trickling connections of the slowloris runs, and their length.
ATTACKERS = 1100
ATTACK_SECONDS = 30


@frozen
class ConnsResult:
    """
    One ``wrk -c1000`` run.

    :ivar name: What was measured.
    :ivar load: wrk's figures.
    :ivar timeouts: wrk's timeouts (also counted in ``load.errors``).
    """

    name: str
    load: load.LoadResult
    timeouts: int


@frozen
class SlowlorisResult:
    """
    Legitimate requests during a slowloris attack.

    :ivar name: What was attacked.
    :ivar requests: Legitimate requests made.
    :ivar failed: Those that failed or took over 10 s.
    :ivar p50_ms: Median latency of those that succeeded.
    :ivar p99_ms: 99th percentile latency of those that succeeded.
    :ivar attackers: Trickling connections open at the end.
    """

    name: str
    requests: int
    failed: int
    p50_ms: float
    p99_ms: float
    attackers: int


def _start(
    repo: Path, index_url: str, tmp: Path, name: str, nofile: int, backlog: int | None
) -> tuple[procs.Server, str]:
    """
    Start twisted-pypi with ``ulimit -n nofile`` and the given backlog.
    """
    port = procs.free_port()
    listen = f"tcp:{port}:interface={procs.HOST}"
    if backlog is not None:
        listen += f":backlog={backlog}"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(repo), *filter(None, [env.get("PYTHONPATH")])]
    )
    cache = str(tmp / f"cache-{name}")
    command = [sys.executable, "-m", "twisted_pypi", "serve", "--index", index_url,
               "--listen", listen, "--cache-dir", cache]  # fmt: skip
    argv = ["sh", "-c", f"ulimit -n {nofile} && exec {shlex.join(command)}"]
    server = procs.start(name, argv, tmp / f"{name}.log", cwd=repo, env=env)
    try:
        procs.wait_for_port(port, server.process, 30)
    except BaseException:
        server.stop()
        raise
    return server, f"http://{procs.HOST}:{port}"


def _wrk(name: str, url: str, duration: int) -> ConnsResult:
    """
    ``wrk -c1000`` against ``url``, once warm.
    """
    for _ in range(2):
        load.get(url, load.PAGE_HEADERS)
    print(f"f: {name}, wrk -c{CONNECTIONS} ...", file=sys.stderr)
    result = load.wrk(url, load.PAGE_HEADERS, 2, CONNECTIONS, duration)
    timeouts = re.search(r"timeout (\d+)", result.raw)
    return ConnsResult(name, result, int(timeouts.group(1)) if timeouts else 0)


async def _trickle(host: str, port: int, stop: float, open_: list[int]) -> None:
    """
    One attacker: a connection sending a header byte a second, reopened
    whenever the server closes it.
    """
    await asyncio.sleep(random.random() * 5)
    while time.monotonic() < stop:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(1)
            continue
        open_[0] += 1
        try:
            writer.write(b"GET / HTTP/1.1\r\n")
            while time.monotonic() < stop:
                await asyncio.sleep(1)
                writer.write(b"X")
                await writer.drain()
                if writer.transport.is_closing():
                    break
        except OSError:
            pass
        finally:
            open_[0] -= 1
            writer.close()


async def _legit(host: str, port: int, path: str) -> float | None:
    """
    One legitimate request on a new connection: its latency in ms, or
    ``None`` if it failed.
    """
    started = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        )
        data = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    except (OSError, asyncio.TimeoutError):
        return None
    if not data.startswith(b"HTTP/1.1 200 "):
        return None
    return (time.perf_counter() - started) * 1000


async def _attack(url: str, path: str) -> tuple[list[float | None], int]:
    """
    Trickle :data:`ATTACKERS` connections for :data:`ATTACK_SECONDS` while
    making a legitimate request every 0.2 s.
    """
    host, port_text = url.removeprefix("http://").split(":")
    port = int(port_text)
    stop = time.monotonic() + ATTACK_SECONDS
    open_ = [0]
    attackers = [
        asyncio.ensure_future(_trickle(host, port, stop, open_))
        for _ in range(ATTACKERS)
    ]
    await asyncio.sleep(6)  # let them all connect
    legit = []
    while time.monotonic() < stop:
        legit.append(asyncio.ensure_future(_legit(host, port, path)))
        await asyncio.sleep(0.2)
    still_open = open_[0]
    results = list(await asyncio.gather(*legit))
    await asyncio.gather(*attackers, return_exceptions=True)
    return results, still_open


def _slowloris(name: str, url: str, path: str) -> SlowlorisResult:
    """
    Run the slowloris attack against ``url`` and sum up.
    """
    print(f"f: {name}, slowloris ({ATTACKERS} connections) ...", file=sys.stderr)
    load.get(url + path, load.PAGE_HEADERS)
    results, still_open = asyncio.run(_attack(url, path))
    ok = sorted(r for r in results if r is not None)

    def pct(p: float) -> float:
        return ok[min(len(ok) - 1, int(p * len(ok)))] if ok else 0.0

    return SlowlorisResult(
        name, len(results), len(results) - len(ok), pct(0.5), pct(0.99), still_open
    )


def conns_phase(
    repo: Path, index_url: str, tmp: Path, reference_url: str, path: str, duration: int
) -> tuple[list[ConnsResult], list[SlowlorisResult]]:
    """
    Run test f.

    :param repo: The repository root.
    :param index_url: The upstream simple index, for the proxies started here.
    :param tmp: Where their caches and logs go.
    :param reference_url: The nginx reference, or ``""``.
    :param path: The cached page's path.
    :param duration: Seconds of each wrk run.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = ATTACKERS + 2 * CONNECTIONS
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, wanted), hard))
    runs: list[ConnsResult] = []
    attacks: list[SlowlorisResult] = []
    for label, backlog in (
        ("backlog 50 (the old default)", 50),
        ("backlog 1024 (default)", None),
    ):
        server, url = _start(repo, index_url, tmp, f"e-{backlog}", 4096, backlog)
        try:
            runs.append(_wrk(f"twisted-pypi, {label}", url + path, duration))
        finally:
            server.stop()
    if reference_url:
        runs.append(_wrk("nginx proxy_cache", reference_url + path, duration))
    server, url = _start(repo, index_url, tmp, "e-slowloris", 1024, 1024)
    try:
        attacks.append(_slowloris("twisted-pypi, ulimit -n 1024", url, path))
    finally:
        server.stop()
    if reference_url:
        attacks.append(_slowloris("nginx proxy_cache", reference_url, path))
    return runs, attacks


def report_conns(runs: list[ConnsResult], attacks: list[SlowlorisResult]) -> list[str]:
    """
    The Markdown of test f.
    """
    if not runs and not attacks:
        return []
    duration = round(runs[0].load.seconds) if runs else 0
    out = [
        "",
        f"### f. {CONNECTIONS} connections, and slowloris",
        "",
        f"`wrk -t2 -c{CONNECTIONS} -d{duration}s --latency` against a small cached"
        " page (`ulimit -n 4096` for twisted-pypi; the backlog is set in its"
        " `--listen` endpoint):",
        "",
        "| Server | Requests/s | p99 latency | Timeouts | Errors (all) |",
        "|---|---:|---:|---:|---:|",
    ]
    nginx = next((r for r in runs if r.name.startswith("nginx")), None)
    for r in runs:
        ratio = ""
        if nginx is not None and r is not nginx and nginx.load.rps:
            ratio = f" ({r.load.rps / nginx.load.rps:.2f}x nginx)"
        out.append(
            f"| {r.name} | {r.load.rps:,.0f}{ratio} | {r.load.p99_ms:,.1f} ms"
            f" | {r.timeouts} | {r.load.errors} |"
        )
    if attacks:
        out += [
            "",
            f"Slowloris: {ATTACKERS} connections each sending a header byte a"
            f" second (reopened when closed) for {ATTACK_SECONDS} s, and a"
            " legitimate request on a new connection every 0.2 s:",
            "",
            "| Server | Legitimate requests | Failed | p50 | p99 | Trickling at end |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for a in attacks:
            out.append(
                f"| {a.name} | {a.requests} | {a.failed} | {a.p50_ms:,.1f} ms"
                f" | {a.p99_ms:,.1f} ms | {a.attackers} |"
            )
    return out
