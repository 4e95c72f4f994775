"""
The benchmark's clients: wrk (or a small asyncio load generator when wrk is
missing), curl for throughput, and threads that download one file at once
and time it.  Every loop is bounded in time and count; every address is
127.0.0.1.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import re
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from attrs import define, frozen

#: What pip sends when it asks for a project page.
PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; "
    "q=0.1, text/html; q=0.01"
)

#: Headers of a page request: pip's Accept, gzip accepted.
PAGE_HEADERS = {"Accept": PIP_ACCEPT, "Accept-Encoding": "gzip"}


def _check_local(url: str) -> tuple[str, int, str]:
    """
    :return: ``(host, port, path)`` of an http URL on 127.0.0.1.
    :raise ValueError: For any other URL.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port is None:
        raise ValueError(f"not a local URL: {url!r}")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, parts.port, path or "/"


@frozen
class Response:
    """
    One response, read whole.

    :ivar status: The status code.
    :ivar headers: The headers (lower-case names).
    :ivar body: The body as sent (not decoded).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes


def get(
    url: str,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    timeout: float = 60.0,
) -> Response:
    """
    One request to a local URL, no redirects followed, body not decoded.

    :param url: An http URL on 127.0.0.1.
    :param headers: Request headers.
    :param method: The method.
    :param timeout: The socket timeout.
    """
    host, port, path = _check_local(url)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, headers=dict(headers or {}))
        response = conn.getresponse()
        body = response.read()
        names = {k.lower(): v for k, v in response.getheaders()}
        return Response(response.status, names, body)
    finally:
        conn.close()


# wrk -------------------------------------------------------------------------


@frozen
class LoadResult:
    """
    What a load run measured.

    :ivar tool: ``wrk`` or ``python``.
    :ivar requests: Completed requests.
    :ivar seconds: The run's length.
    :ivar rps: Requests per second.
    :ivar p50_ms: Median latency in ms.
    :ivar p99_ms: 99th percentile latency in ms.
    :ivar errors: Socket errors and non-2xx/3xx responses.
    :ivar raw: The tool's output, for the record.
    """

    tool: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    raw: str = ""


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    """wrk's ``2.61ms`` / ``850.00us`` / ``1.02s`` in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def have_wrk() -> bool:
    """:return: Whether wrk is installed."""
    return shutil.which("wrk") is not None


def wrk(
    url: str, headers: Mapping[str, str], threads: int, connections: int, seconds: int
) -> LoadResult:
    """
    Run ``wrk --latency`` against a local URL.

    :param url: An http URL on 127.0.0.1.
    :param headers: Request headers.
    :param threads: ``-t``.
    :param connections: ``-c``.
    :param seconds: ``-d``.
    """
    _check_local(url)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        argv + [url], capture_output=True, text=True, timeout=seconds + 30
    )
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr.strip()}")
    text = out.stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+),", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.MULTILINE)
    if total is None or rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{text}")
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if socket_errors is not None:
        errors += sum(int(g) for g in socket_errors.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non2xx is not None:
        errors += int(non2xx.group(1))
    return LoadResult(
        tool="wrk",
        requests=int(total.group(1)),
        seconds=_ms(total.group(2) + total.group(3)) / 1000,
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        errors=errors,
        raw=text,
    )


# The fallback load generator ----------------------------------------------------


async def _connection_loop(
    host: str,
    port: int,
    request: bytes,
    deadline: float,
    max_requests: int,
    latencies: list[float],
    errors: list[int],
) -> None:
    """Send ``request`` over one keep-alive connection until ``deadline``."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for _ in range(max_requests):
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            status = int(head.split(b" ", 2)[1])
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if length is None:
                raise RuntimeError("the load generator needs Content-Length")
            await asyncio.wait_for(reader.readexactly(int(length.group(1))), 30)
            latencies.append(time.perf_counter() - started)
            if not 200 <= status < 400:
                errors.append(status)
    finally:
        writer.close()


async def _python_load(
    url: str, headers: Mapping[str, str], connections: int, seconds: float
) -> LoadResult:
    host, port, path = _check_local(url)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    latencies: list[float] = []
    errors: list[int] = []
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _connection_loop(
                host, port, request, deadline, 10_000_000, latencies, errors
            )
            for _ in range(connections)
        )
    )
    elapsed = time.monotonic() - started
    quantiles = (
        statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    )
    return LoadResult(
        tool="python",
        requests=len(latencies),
        seconds=elapsed,
        rps=len(latencies) / elapsed,
        p50_ms=quantiles[49] * 1000,
        p99_ms=quantiles[98] * 1000,
        errors=len(errors),
    )


def python_load(
    url: str, headers: Mapping[str, str], connections: int, seconds: float
) -> LoadResult:
    """
    A bounded keep-alive load generator in one Python process, for machines
    without wrk (it saturates long before wrk does: compare ratios only).

    :param url: An http URL on 127.0.0.1.
    :param headers: Request headers.
    :param connections: Concurrent connections.
    :param seconds: How long to run.
    """
    return asyncio.run(_python_load(url, headers, connections, seconds))


# curl ------------------------------------------------------------------------


def curl_speed(url: str, runs: int, timeout: float = 120.0) -> list[float]:
    """
    Download a local URL to /dev/null ``runs`` times with curl.

    :param url: An http URL on 127.0.0.1.
    :param runs: How many downloads.
    :param timeout: Seconds allowed per download.
    :return: curl's ``speed_download`` of each run, in bytes per second.
    """
    _check_local(url)
    speeds = []
    for _ in range(runs):
        out = subprocess.run(
            [
                "curl",
                "-s",
                "-f",
                "-o",
                "/dev/null",
                "-w",
                "%{speed_download}",
                "--max-time",
                str(int(timeout)),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=timeout + 10,
        )
        if out.returncode != 0:
            raise RuntimeError(f"curl {url} failed ({out.returncode}): {out.stderr}")
        speeds.append(float(out.stdout.strip().replace(",", ".")))
    return speeds


# Simultaneous downloads --------------------------------------------------------


@define
class Download:
    """
    One client's download of a file, timed from a common start.

    :ivar name: The client's name (sent as its User-Agent).
    :ivar status: The response status (0 if none came).
    :ivar headers_s: Seconds until the status line and headers arrived.
    :ivar first_byte_s: Seconds until the first body byte arrived.
    :ivar total_s: Seconds until the body ended.
    :ivar size: Body bytes received.
    :ivar sha256: The body's hex sha256.
    :ivar location: The ``Location`` header, for a redirect.
    :ivar error: What went wrong, if anything did.
    """

    name: str
    status: int = 0
    headers_s: float | None = None
    first_byte_s: float | None = None
    total_s: float | None = None
    size: int = 0
    sha256: str = ""
    location: str | None = None
    error: str | None = None


def _download(
    url: str, result: Download, barrier: threading.Barrier, timeout: float
) -> None:
    """Wait at the barrier, then download ``url`` into ``result``."""
    host, port, path = _check_local(url)
    barrier.wait(timeout)
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(
            "GET",
            path,
            headers={"User-Agent": result.name, "Accept-Encoding": "identity"},
        )
        response = conn.getresponse()
        result.headers_s = time.perf_counter() - started
        result.status = response.status
        result.location = response.getheader("location")
        digest = hashlib.sha256()
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        while time.monotonic() < deadline:
            n = response.readinto(view)
            if not n:
                break
            if result.first_byte_s is None:
                result.first_byte_s = time.perf_counter() - started
            digest.update(view[:n])
            result.size += n
        else:
            result.error = f"timed out after {timeout} s"
        result.total_s = time.perf_counter() - started
        result.sha256 = digest.hexdigest()
    except Exception as e:  # reported, not raised: the other clients go on
        result.error = f"{type(e).__name__}: {e}"
    finally:
        conn.close()


def simultaneous(url: str, clients: int, timeout: float) -> list[Download]:
    """
    Start ``clients`` downloads of ``url`` at the same instant (a barrier)
    and wait for them all.

    :param url: An http URL on 127.0.0.1.
    :param clients: How many.
    :param timeout: Seconds each download may take.
    :return: One result per client, in start order.
    """
    return simultaneous_urls([url] * clients, timeout)


def simultaneous_urls(urls: Sequence[str], timeout: float) -> list[Download]:
    """
    Start one download of each of ``urls`` at the same instant (a barrier)
    and wait for them all: clients of the same file on several servers.

    :param urls: http URLs on 127.0.0.1, one per client.
    :param timeout: Seconds each download may take.
    :return: One result per client, in the order of ``urls``.
    """
    results = [Download(f"bench-client-{i + 1}") for i in range(len(urls))]
    barrier = threading.Barrier(len(urls))
    threads = [
        threading.Thread(target=_download, args=(u, r, barrier, timeout), daemon=True)
        for u, r in zip(urls, results, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)
    for r, t in zip(results, threads, strict=True):
        if t.is_alive() and r.error is None:
            r.error = "still running"
    return results


def median(values: list[float]) -> float:
    """:return: The median of ``values``."""
    return statistics.median(values)


__all__ = [
    "PAGE_HEADERS",
    "PIP_ACCEPT",
    "Download",
    "LoadResult",
    "Response",
    "curl_speed",
    "get",
    "have_wrk",
    "median",
    "python_load",
    "simultaneous",
    "simultaneous_urls",
    "wrk",
]
