"""
The records of test g (:mod:`bench.cluster`): what the run has running
already, and what the test measured.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from attrs import define, field, frozen

from bench import load

__all__ = ["ClusterResult", "Local", "NodeFigures", "base_url", "url_path"]


@frozen
class Local:
    """
    What the rest of the run already has running.

    :ivar repo: The repository root.
    :ivar tmp: The run's temporary directory.
    :ivar index_url: The upstream's ``/simple/``.
    :ivar upstream_log: The upstream's access log.
    :ivar file_path: The big file's path on the upstream.
    :ivar file_size: Its size.
    :ivar file_sha256: Its sha256.
    :ivar page_path: The big page's path (``/simple/bench-bigindex/``).
    :ivar file_page: The big file's page (``/simple/bench-bigfile/``).
    :ivar local_file: The big file's URL on the local-disk node.
    :ivar local_pid: That node's process.
    :ivar nginx_file: The big file's URL on nginx ``proxy_cache`` (or ``""``).
    :ivar nginx_pids: nginx's processes.
    :ivar direct_s: One client's transfer straight from the upstream, if
        test c measured it.
    """

    repo: Path
    tmp: Path
    index_url: str
    upstream_log: Path
    file_path: str
    file_size: int
    file_sha256: str
    page_path: str
    file_page: str
    local_file: str
    local_pid: int
    nginx_file: str
    nginx_pids: Callable[[], list[int]]
    direct_s: float | None = None

    @property
    def local_base(self) -> str:
        """The local node's root URL."""
        return base_url(self.local_file)

    @property
    def nginx_base(self) -> str:
        """nginx's root URL, or ``""``."""
        return base_url(self.nginx_file) if self.nginx_file else ""


@define
class NodeFigures:
    """
    One process's figures.

    :ivar name: Its name.
    :ivar role: What it is.
    :ivar rss_before_kib: RSS just before the cold test.
    :ivar rss_peak_kib: The largest RSS sampled during it.
    :ivar cpu_s: CPU seconds during it.
    :ivar hwm_kib: Its lifetime peak RSS (``VmHWM``) at the end.
    """

    name: str
    role: str
    rss_before_kib: int = 0
    rss_peak_kib: int = 0
    cpu_s: float = 0.0
    hwm_kib: int | None = None


@define
class ClusterResult:
    """
    What test g measured.

    :ivar weed: SeaweedFS's version and start time.
    :ivar size: The big file's size.
    :ivar sha256: Its sha256.
    :ivar streaming: Whether the nodes ran with the cluster options.
    :ivar notes: What could not be done, and why.
    :ivar direct_s: The upstream transfer time (one client).
    :ivar clients: The cold test's downloads, with the node each asked.
    :ivar fetches: Upstream GETs of the file during the cold test.
    :ivar nodes: Per node figures.
    :ivar files: ``(name, X-Cache, speeds in bytes/s, CPU s)`` of the warm
        file test.
    :ivar read_cache_bytes: Bytes in node C's read cache after it.
    :ivar pages: ``(name, first request ms, load runs, X-Cache)`` of the
        page test.
    """

    weed: str = ""
    size: int = 0
    sha256: str = ""
    streaming: bool = False
    notes: list[str] = field(factory=list)
    direct_s: float | None = None
    clients: list[tuple[str, load.Download]] = field(factory=list)
    fetches: int = 0
    nodes: list[NodeFigures] = field(factory=list)
    files: list[tuple[str, str, list[float], float]] = field(factory=list)
    read_cache_bytes: int = 0
    pages: list[tuple[str, float, list[load.LoadResult], str]] = field(factory=list)


def base_url(url: str) -> str:
    """:return: ``http://host:port`` of a URL."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def url_path(url: str) -> str:
    """:return: The path of a URL (without scheme and host)."""
    return url[len(base_url(url)) :]
