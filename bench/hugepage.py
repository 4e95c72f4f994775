"""
Test e: huge pages must not stall the proxy.

A generated upstream (``bench/pyupstream.py`` on 127.0.0.1) serves a project
page of about 20 MB (``bench-hugepage``), a small page with a small file
(``bench-small``) and a project list of many projects.  While the huge page
is fetched, parsed and rendered for one client, other clients keep asking
for the cached small page and the cached small file; their latencies (p50,
p99) show whether the reactor stalled.  Then the huge page is asked again
(a HIT: it must be ready bytes, not parsed and rendered again), and the
project list is fetched (cold, then a HIT) next to the upstream directly.
The proxy's RSS is taken before, at its peak, and a few seconds after.

Run alone (``PYTHONPATH=. python bench/hugepage.py``) or as phase ``e`` of
``bench/run.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urljoin

from attrs import define, field

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import load, procs  # noqa: E402

__all__ = [
    "HIT_S",
    "PROBE_P99_MS",
    "HugePageResult",
    "make_upstream",
    "measure",
    "report",
]

REPO = Path(__file__).resolve().parent.parent

#: Target: p99 of the other clients' requests while the huge page is made.
PROBE_P99_MS = 100.0

#: Target: the second request of the huge page (a HIT).
HIT_S = 1.0

HUGE = "bench-hugepage"
SMALL = "bench-small"
_SMALL_FILE = "bench_small-1.0-py3-none-any.whl"
_MB = 1_000_000
_JSON = "application/vnd.pypi.simple.v1+json"


@define
class HugePageResult:
    """
    What test e measured.

    :ivar page_bytes: The huge page's size upstream (JSON).
    :ivar page_files: How many files it lists.
    :ivar cold_s: The first request of the huge page (a MISS).
    :ivar hit_s: The second request (a HIT), JSON, gzip accepted.
    :ivar hit_html_s: A HIT for its HTML, gzip not accepted.
    :ivar hit_status: The ``X-Cache`` of the second request.
    :ivar probes_ms: Latencies of the other clients' requests during the
        cold request (cached small page and file, alternating).
    :ivar probe_errors: Failed probe requests.
    :ivar list_projects: How many projects the project list names.
    :ivar list_direct_s: The project list fetched from the upstream directly.
    :ivar list_cold_s: Through the proxy, cold.
    :ivar list_hit_s: Through the proxy, again.
    :ivar rss_before_kib: The proxy's RSS before the huge page, warm.
    :ivar rss_peak_kib: Its peak while the huge page and the list were made.
    :ivar rss_page_after_kib: Its RSS a few seconds after the huge page was
        served, before the project list (which then stays cached).
    :ivar rss_after_kib: Its RSS a few seconds after the last request.
    """

    page_bytes: int = 0
    page_files: int = 0
    cold_s: float = 0.0
    hit_s: float = 0.0
    hit_html_s: float = 0.0
    hit_status: str = ""
    probes_ms: list[float] = field(factory=list)
    probe_errors: int = 0
    list_projects: int = 0
    list_direct_s: float = 0.0
    list_cold_s: float = 0.0
    list_hit_s: float = 0.0
    rss_before_kib: int = 0
    rss_peak_kib: int = 0
    rss_page_after_kib: int = 0
    rss_after_kib: int = 0

    def percentile_ms(self, q: float) -> float:
        """
        :param q: A fraction (0.5, 0.99).
        :return: That percentile of :attr:`probes_ms` (0 if none).
        """
        if not self.probes_ms:
            return 0.0
        ordered = sorted(self.probes_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _digest(seed: str) -> str:
    """:return: A sha256 hex digest standing for a file's hash."""
    return hashlib.sha256(seed.encode()).hexdigest()


def _write(directory: Path, name: str, files: list[dict[str, object]]) -> int:
    """
    Write a page as ``index.v1_json`` and ``index.html``.

    :return: The JSON page's size.
    """
    directory.mkdir(parents=True, exist_ok=True)
    page = {"meta": {"api-version": "1.1"}, "name": name, "files": files}
    body = json.dumps(page).encode()
    (directory / "index.v1_json").write_bytes(body)
    lines = ["<!DOCTYPE html><html><body>"]
    for f in files:
        hashes = f["hashes"]
        assert isinstance(hashes, dict)
        lines.append(
            f'<a href="{f["url"]}#sha256={hashes["sha256"]}" '
            f'data-requires-python="&gt;=3.8">{f["filename"]}</a><br>'
        )
    lines.append("</body></html>\n")
    (directory / "index.html").write_text("\n".join(lines), encoding="utf-8")
    return len(body)


def make_upstream(root: Path, page_mb: int, projects: int) -> tuple[int, int]:
    """
    Generate the upstream tree.

    :param root: An empty directory, the document root.
    :param page_mb: Roughly how many MB the huge page takes (JSON).
    :param projects: How many projects the project list names.
    :return: The huge page's JSON size and file count.
    """
    simple = root / "simple"
    count = page_mb * _MB // 480
    files: list[dict[str, object]] = []
    for n in range(count):
        version = f"{n // 1000}.{(n // 10) % 100}.{n % 10}"
        filename = f"bench_hugepage-{version}-cp311-cp311-manylinux_x86_64.whl"
        digest = _digest(filename)
        files.append(
            {
                "filename": filename,
                "url": f"../../packages/{digest[:2]}/{digest[2:4]}/{digest[4:]}"
                f"/{filename}",
                "hashes": {"sha256": digest},
                "requires-python": ">=3.8",
                "size": 1_000_000 + n,
                "upload-time": "2024-01-01T00:00:00.000000Z",
                "core-metadata": {"sha256": _digest(filename + ".metadata")},
            }
        )
    size = _write(simple / HUGE, HUGE, files)
    small = b"x" * 65536
    (root / "packages").mkdir(parents=True, exist_ok=True)
    (root / "packages" / _SMALL_FILE).write_bytes(small)
    _write(
        simple / SMALL,
        SMALL,
        [
            {
                "filename": _SMALL_FILE,
                "url": f"../../packages/{_SMALL_FILE}",
                "hashes": {"sha256": hashlib.sha256(small).hexdigest()},
            }
        ],
    )
    names = [f"project-{n:07d}" for n in range(projects)] + [HUGE, SMALL]
    listing = {"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]}
    (simple / "index.v1_json").write_text(json.dumps(listing), encoding="utf-8")
    links = "".join(f'    <a href="/simple/{n}/">{n}</a><br/>\n' for n in names)
    (simple / "index.html").write_text(
        f"<!DOCTYPE html><html><body>\n{links}</body></html>\n", encoding="utf-8"
    )
    return size, count


def _timed(url: str, headers: dict[str, str]) -> tuple[float, load.Response]:
    """:return: How long one request took, and its response."""
    started = time.monotonic()
    response = load.get(url, headers, timeout=300)
    return time.monotonic() - started, response


def _probe(urls: list[str], result: HugePageResult, done: threading.Event) -> None:
    """
    Ask for ``urls`` in turn, 20 ms apart, until ``done`` is set; record
    each request's latency in ``result``.
    """
    n = 0
    while not done.is_set():
        url = urls[n % len(urls)]
        n += 1
        try:
            took, response = _timed(url, dict(load.PAGE_HEADERS))
        except OSError:
            result.probe_errors += 1
            continue
        if response.status != 200:
            result.probe_errors += 1
        result.probes_ms.append(took * 1000)
        done.wait(0.02)


def measure(
    tmp: Path,
    stack: ExitStack,
    page_mb: int = 20,
    projects: int = 1_000_000,
    say: Callable[[str], object] = lambda line: print(line, file=sys.stderr),
) -> HugePageResult:
    """
    Run test e in ``tmp`` (cleanups on ``stack``).

    :param tmp: An empty directory.
    :param stack: Holds the cleanups (stopping the processes).
    :param page_mb: The huge page's size in MB.
    :param projects: How many projects the project list names.
    :param say: Told about progress.
    """
    result = HugePageResult(list_projects=projects + 2)
    say(f"e: generating a {page_mb} MB page and a {projects}-project list ...")
    result.page_bytes, result.page_files = make_upstream(
        tmp / "upstream", page_mb, projects
    )
    port = procs.free_port()
    argv = [
        sys.executable,
        str(REPO / "bench" / "pyupstream.py"),
        str(tmp / "upstream"),
        str(port),
        "0",
        str(tmp / "upstream.log"),
    ]
    upstream = procs.start("upstream", argv, tmp / "upstream.out")
    stack.callback(upstream.stop)
    procs.wait_for_port(port, upstream.process, 15)
    upstream_url = f"http://{procs.HOST}:{port}"
    proxy_port = procs.free_port()
    proxy = procs.start_proxy(
        REPO,
        f"{upstream_url}/simple/",
        proxy_port,
        tmp / "cache",
        tmp / "twisted-pypi.log",
    )
    stack.callback(proxy.stop)
    base = f"http://{procs.HOST}:{proxy_port}"
    small_page = f"{base}/simple/{SMALL}/"
    listed = load.get(small_page, {"Accept": _JSON})
    small_file = urljoin(small_page, json.loads(listed.body)["files"][0]["url"])
    for url in (small_page, small_file, small_page, small_file):
        load.get(url, load.PAGE_HEADERS)
    time.sleep(1)
    result.rss_before_kib = procs.status_kib(proxy.pid, "VmRSS") or 0
    sampler = procs.RssSampler([proxy.pid])
    sampler.start()

    say("e: the huge page, cold, while other clients ask for cached things ...")
    done = threading.Event()
    prober = threading.Thread(
        target=_probe, args=([small_page, small_file], result, done), daemon=True
    )
    prober.start()
    time.sleep(0.2)
    try:
        result.cold_s, _ = _timed(f"{base}/simple/{HUGE}/", dict(load.PAGE_HEADERS))
        time.sleep(0.3)
    finally:
        done.set()
        prober.join(30)
    result.hit_s, response = _timed(f"{base}/simple/{HUGE}/", dict(load.PAGE_HEADERS))
    result.hit_status = response.headers.get("x-cache", "")
    result.hit_html_s, _ = _timed(f"{base}/simple/{HUGE}/", {"Accept": "text/html"})
    time.sleep(3)
    result.rss_page_after_kib = procs.status_kib(proxy.pid, "VmRSS") or 0

    say("e: the project list, directly and through the proxy ...")
    result.list_direct_s, _ = _timed(f"{upstream_url}/simple/", {})
    result.list_cold_s, _ = _timed(f"{base}/simple/", dict(load.PAGE_HEADERS))
    result.list_hit_s, _ = _timed(f"{base}/simple/", dict(load.PAGE_HEADERS))
    time.sleep(3)
    sampler.stop()
    result.rss_peak_kib = sampler.peak_kib
    result.rss_after_kib = procs.status_kib(proxy.pid, "VmRSS") or 0
    if proxy.process.poll() is not None:
        raise RuntimeError(f"twisted-pypi exited with {proxy.process.returncode}")
    return result


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(result: HugePageResult | None, summary: list[str]) -> list[str]:
    """
    The Markdown section of test e; adds its target rows to ``summary``.

    :param result: What :func:`measure` found, or ``None`` if not run.
    :param summary: The targets table's rows.
    """
    out = ["### e. Huge page", ""]
    if result is None:
        return out + ["Not run.", ""]
    p50, p99 = result.percentile_ms(0.5), result.percentile_ms(0.99)
    mb = 1024 / _MB
    out += [
        f"A {result.page_bytes / _MB:.1f} MB upstream page ({result.page_files:,} "
        "files) is fetched cold through twisted-pypi while another client asks "
        "for a cached small page and a cached small file, in turn, every 20 ms.",
        "",
        "| measure | value |",
        "|---|--:|",
        f"| huge page, first request (MISS) s | {result.cold_s:.2f} |",
        f"| huge page, second request ({result.hit_status}, JSON, gzip) s "
        f"| {result.hit_s:.3f} |",
        f"| huge page, HTML, no gzip s | {result.hit_html_s:.3f} |",
        f"| other clients meanwhile: requests | {len(result.probes_ms)} "
        f"({result.probe_errors} errors) |",
        f"| other clients: p50 ms | {p50:.1f} |",
        f"| other clients: p99 ms | {p99:.1f} |",
        f"| other clients: max ms | {max(result.probes_ms, default=0):.1f} |",
        f"| project list of {result.list_projects:,}: upstream directly s "
        f"| {result.list_direct_s:.2f} |",
        f"| project list: through the proxy, cold s | {result.list_cold_s:.2f} |",
        f"| project list: through the proxy, again s | {result.list_hit_s:.3f} |",
        f"| proxy RSS before MB | {result.rss_before_kib * mb:.0f} |",
        f"| proxy RSS peak MB | {result.rss_peak_kib * mb:.0f} |",
        "| proxy RSS 3 s after the huge page MB "
        f"| {result.rss_page_after_kib * mb:.0f} |",
        "| proxy RSS 3 s after the project list (cached in memory) MB "
        f"| {result.rss_after_kib * mb:.0f} |",
        "",
    ]
    summary.append(
        f"| e. others' p99 during a huge page < {PROBE_P99_MS:.0f} ms "
        f"| {p99:.1f} ms | {_verdict(p99 < PROBE_P99_MS)} |"
    )
    summary.append(
        f"| e. huge page HIT < {HIT_S:.0f} s | {result.hit_s:.3f} s "
        f"| {_verdict(result.hit_s < HIT_S)} |"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    """Run test e alone and print its section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--page-mb", type=int, default=20)
    parser.add_argument("--projects", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="twisted-pypi-hugepage-"))
    with ExitStack() as stack:
        if not args.keep:
            stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        result = measure(tmp, stack, args.page_mb, args.projects)
    summary: list[str] = []
    print("\n".join(report(result, summary) + summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
