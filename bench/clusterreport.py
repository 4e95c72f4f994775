"""
The Markdown of test g (:mod:`bench.cluster`): two nodes on one SeaweedFS
store beside the local-disk node and nginx.
"""

from __future__ import annotations

from bench import load
from bench.clusterresult import ClusterResult

__all__ = ["FIRST_BYTE_ISSUE_S", "FIRST_BYTE_S", "FINISH_SLACK", "report"]

#: Targets: the cold test's, "the same across two nodes on one object store"
#: (benchmark targets), and the issue's first byte on every node.
FIRST_BYTE_S = 0.1
FIRST_BYTE_ISSUE_S = 1.0
FINISH_SLACK = 1.05

_MB = 1_000_000
_MIB = 1 << 20


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _mb(kib: int | None) -> str:
    return "-" if kib is None else f"{kib * 1024 / _MB:.1f}"


def _cold(result: ClusterResult, summary: list[str]) -> list[str]:
    """The cold file's table and target rows."""
    direct = result.direct_s
    streaming = (
        "nodes with `--node-url` and `--cluster-secret` (node-to-node streaming)"
        if result.streaming
        else f"**cluster streaming not available: {result.fetches} upstream "
        "fetches** (the nodes ran without `--node-url` / `--cluster-secret`)"
    )
    out = [
        f"**Cold {result.size / _MIB:.0f} MiB file, {len(result.clients)} clients "
        "at once split across nodes A and B** (A, B, A, B), empty store; "
        f"{streaming}.",
        "",
    ]
    if direct:
        out += [
            f"Upstream transfer (one client straight from the upstream): "
            f"{direct:.2f} s; the finishing target is {FINISH_SLACK * direct:.2f} s.",
            "",
        ]
    out += [
        "| client | node | status | headers s | first body byte s | total s "
        "| right bytes (sha256) |",
        "|---|---|--:|--:|--:|--:|---|",
    ]
    for node, d in result.clients:
        right = (
            d.error is None
            and d.status == 200
            and d.size == result.size
            and d.sha256 == result.sha256
        )
        out.append(
            f"| {d.name} | {node} | {d.status} | {_secs(d.headers_s)} "
            f"| {_secs(d.first_byte_s)} | {_secs(d.total_s)} "
            f"| {'yes' if right else 'no'} |"
        )
    out += ["", f"Upstream GETs of the file: **{result.fetches}**.", ""]
    errors = [f"{d.name}: {d.error}" for _, d in result.clients if d.error]
    if errors:
        out += ["Errors: " + "; ".join(errors), ""]
    correct = sum(
        1
        for _, d in result.clients
        if d.error is None and d.size == result.size and d.sha256 == result.sha256
    )
    summary.append(
        f"| g. cluster: exactly 1 upstream fetch for 2 nodes | {result.fetches} "
        f"| {_verdict(result.fetches == 1)} |"
    )
    worst = max(
        (d.first_byte_s or float("inf") for _, d in result.clients), default=0.0
    )
    for target, why in ((FIRST_BYTE_ISSUE_S, "issue 11"), (FIRST_BYTE_S, "test c")):
        summary.append(
            f"| g. cluster: every first byte ≤ {target} s ({why}) "
            f"| worst {worst:.3f} s | {_verdict(worst <= target)} |"
        )
    if direct:
        slowest = max(
            (d.total_s or float("inf") for _, d in result.clients), default=0.0
        )
        summary.append(
            f"| g. cluster: every client done ≤ 1.05 x upstream transfer "
            f"| slowest {slowest:.2f} s ({slowest / direct:.3f} x) "
            f"| {_verdict(slowest <= FINISH_SLACK * direct)} |"
        )
    summary.append(
        f"| g. cluster: every client gets the right bytes | {correct}/"
        f"{len(result.clients)} | {_verdict(correct == len(result.clients))} |"
    )
    return out


def _files(result: ClusterResult, summary: list[str]) -> list[str]:
    """The warm file's table."""
    if not result.files:
        return []
    runs = len(result.files[0][2])
    out = [
        f"**Warm {result.size / _MIB:.0f} MiB file**: `curl -s -o /dev/null`, "
        f"the servers taking turns, {runs} runs each; node C was started after "
        "the cold test with an empty cache directory and `--cache-size 1M`, so "
        "it reads the object from the store (ranged GETs); its read cache held "
        f"{result.read_cache_bytes:,} bytes after the runs.",
        "",
        "| server | X-Cache | runs MB/s | median MB/s | ratio to nginx "
        "| CPU s per GB |",
        "|---|---|---|--:|--:|--:|",
    ]
    nginx = next((f for f in result.files if f[0].startswith("nginx")), None)
    base = load.median(nginx[2]) / _MB if nginx else None
    for name, cache, speeds, cpu in result.files:
        median = load.median(speeds) / _MB
        ratio = f"{median / base:.2f}" if base else "-"
        per_gb = cpu / (len(speeds) * result.size / 1e9)
        out.append(
            f"| {name} | {cache} | {' / '.join(f'{s / _MB:,.0f}' for s in speeds)} "
            f"| {median:,.0f} | {ratio} | {per_gb:.2f} |"
        )
    out.append("")
    if base:
        store = load.median(result.files[0][2]) / _MB
        summary.append(
            f"| g. warm file from the store (for information) | {store / base:.2f} x "
            "nginx | |"
        )
    return out


def _pages(result: ClusterResult) -> list[str]:
    """The warm page's table."""
    if not result.pages:
        return []
    loads = result.pages[0][2]
    tool = loads[0].tool if loads else "-"
    seconds = round(loads[0].seconds) if loads else 0
    command = f"wrk -t2 -c16 -d{seconds}s" if tool == "wrk" else "bench/load.py"
    out = [
        f"**Warm big page** (`bench-bigindex`): `{command}`, pip's `Accept`, "
        f"gzip accepted, the servers taking turns, {len(loads)} runs each. "
        "Node A asked for the page first (recording it in the store); "
        "node C's first request read that record from the store.",
        "",
        "| server | first request ms | X-Cache | req/s per run | median req/s "
        "| ratio to nginx | p99 ms |",
        "|---|--:|---|---|--:|--:|--:|",
    ]
    nginx = next((p for p in result.pages if p[0].startswith("nginx")), None)
    base = load.median([r.rps for r in nginx[2]]) if nginx and nginx[2] else None
    for name, first, runs, cache in result.pages:
        if not runs:
            continue
        rps = load.median([r.rps for r in runs])
        ratio = f"{rps / base:.2f}" if base else "-"
        p99 = load.median([r.p99_ms for r in runs])
        out.append(
            f"| {name} | {first:,.1f} | {cache} "
            f"| {' / '.join(f'{r.rps:,.0f}' for r in runs)} | {rps:,.0f} "
            f"| {ratio} | {p99:.2f} |"
        )
    out.append("")
    return out


def _memory(result: ClusterResult) -> list[str]:
    """Each node's RSS."""
    out = [
        "**Memory** of each twisted-pypi process (RSS MB; before and peak "
        "during the cold test, VmHWM = lifetime peak at the end of the phase; "
        "the local node's includes the run's earlier tests):",
        "",
        "| node | role | RSS before cold | peak during cold | CPU s during cold "
        "| VmHWM |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for n in result.nodes:
        cold = n.rss_peak_kib > 0
        out.append(
            f"| {n.name} | {n.role} | {_mb(n.rss_before_kib) if cold else '-'} "
            f"| {_mb(n.rss_peak_kib) if cold else '-'} "
            f"| {f'{n.cpu_s:.2f}' if cold else '-'} | {_mb(n.hwm_kib)} |"
        )
    out.append("")
    return out


def report(result: ClusterResult | None, summary: list[str]) -> list[str]:
    """
    The Markdown section of test g; adds its target rows to ``summary``.

    :param result: What :func:`bench.cluster.measure` found, or ``None``.
    :param summary: The targets table's rows.
    """
    if result is None:
        return []
    out = [
        "### g. Two nodes on one SeaweedFS store",
        "",
        f"SeaweedFS {result.weed} (`weed server -s3`, signed requests); nodes "
        "A and B with `--store s3://BUCKET --s3-endpoint ...`, node C likewise "
        "with a 1 MB read cache, beside the run's local-disk node and nginx "
        "`proxy_cache`.",
        "",
    ]
    for note in result.notes:
        out += [f"Note: {note}", ""]
    out += _cold(result, summary)
    out += _files(result, summary)
    out += _pages(result)
    out += _memory(result)
    return out
