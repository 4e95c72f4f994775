# -*- test-case-name: tests.web.test_status -*-
"""
``/``: the status page.

The page is plain HTML with inline CSS (no scripts, fonts or other external
assets), laid out for a phone first: cards and definition lists rather than
tables, long URLs wrapped.  Every figure comes from the service's
:class:`~twisted_pypi.core.stats.Stats`, the file cache and the downloads in
flight, read at render time; nothing asks an upstream.  Everything
interpolated is HTML-escaped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from html import escape
from urllib.parse import unquote, urlsplit

from twisted.web.resource import Resource
from twisted.web.server import Request

from twisted_pypi import __version__
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.sizes import format_size
from twisted_pypi.core.stats import Stats, UpstreamHealth
from twisted_pypi.files.download import Downloads, DownloadStatus
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.web.snippets import server_url, snippets

_CSS = """
:root{color-scheme:light dark;--fg:#1d2126;--muted:#5d6670;--bg:#f3f5f7;
--card:#fff;--line:#d8dde3;--bad:#c62828;--accent:#2f4fc9}
@media (prefers-color-scheme:dark){:root{--fg:#e6e8eb;--muted:#9ba5b1;
--bg:#111418;--card:#1a1f25;--line:#2e353d;--bad:#ff6b6b;
--accent:#8ea6ff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:56rem;margin:0 auto;padding:.75rem}
h1{font-size:1.3rem;margin:.2rem 0}
h2{font-size:1.05rem;margin:0 0 .5rem}
h3{font-size:.95rem;margin:.6rem 0 .2rem}
p{margin:.2rem 0}
section{background:var(--card);border:1px solid var(--line);
border-radius:.5rem;padding:.75rem;margin:.75rem 0}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(8.5rem,1fr));
gap:.5rem;margin:0}
.figures div{border:1px solid var(--line);border-radius:.4rem;padding:.4rem .5rem;
min-width:0}
.figures dt{color:var(--muted);font-size:.8rem}
.figures dd{margin:0;font-size:1.15rem;font-weight:600;overflow-wrap:anywhere}
.figures small{display:block;font-size:.75rem;font-weight:400;color:var(--muted)}
dl.kv{display:grid;grid-template-columns:fit-content(45%) minmax(0,1fr);
gap:.15rem .75rem;margin:.3rem 0 0}
dl.kv dt{color:var(--muted);overflow-wrap:anywhere}
dl.kv dd{margin:0;min-width:0;overflow-wrap:anywhere}
ul.items{list-style:none;padding:0;margin:0}
ul.items>li{padding:.55rem 0;border-top:1px solid var(--line);min-width:0}
ul.items>li:first-child{border-top:0;padding-top:0}
pre{background:var(--bg);border:1px solid var(--line);border-radius:.35rem;
padding:.4rem .55rem;margin:.3rem 0;white-space:pre-wrap;
overflow-wrap:anywhere;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}
progress{display:block;width:100%;height:.7rem;margin:.25rem 0;
accent-color:var(--accent)}
.url{color:var(--muted);font-size:.82rem;overflow-wrap:anywhere}
.muted{color:var(--muted)}
.error{color:var(--bad);overflow-wrap:anywhere}
.badge{display:inline-block;padding:0 .5rem;border-radius:1rem;
font-size:.78rem;font-weight:600;color:#fff;vertical-align:.1rem}
a{color:var(--accent)}
footer{margin:1rem 0 .5rem;text-align:center;font-size:.85rem}
.ok{background:#1a7f37}.bad{background:#c62828}.idle{background:#5d6670}
"""


def esc(value: object) -> str:
    """
    ``value`` as text, escaped for HTML content and attribute values.

    :param value: Anything.
    """
    return escape(str(value), quote=True)


def format_duration(seconds: float) -> str:
    """
    A duration for people: ``42 s``, ``5 min``, ``3 h 20 min``, ``2 d 4 h``.

    :param seconds: The duration.
    """
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


class StatusPage(Resource):
    """
    ``/``: what the proxy is, how to use it, and how it is doing.
    """

    isLeaf = True

    def __init__(
        self,
        config: ProxyConfig,
        stats: Stats,
        cache: FileCache,
        downloads: Downloads,
    ) -> None:
        """
        :param config: The settings shown (indexes, dummies, routes, ...).
        :param stats: The running totals.
        :param cache: The file cache.
        :param downloads: The downloads in flight.
        """
        super().__init__()
        self._config = config
        self._stats = stats
        self._cache = cache
        self._downloads = downloads

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(
            b"content-security-policy",
            b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        )
        return self.html(server_url(request, self._config.base_url)).encode("utf-8")

    def html(self, url: str) -> str:
        """
        The whole page.

        :param url: The proxy's own URL, for the snippets.
        """
        body = "".join(
            [
                self._header(url),
                self._traffic(),
                self._in_flight(),
                self._upstreams(),
                self._use(url),
                self._settings(),
                # Relative links: right below any --base-url path too.
                "<footer class='muted'><a href='simple/'>simple index</a> · "
                "<a href='-/metrics'>metrics</a> · <a href='-/health'>health</a>"
                "</footer>",
            ]
        )
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>twisted-pypi</title><style>{_CSS}</style></head>"
            f"<body><main>{body}</main></body></html>\n"
        )

    def _header(self, url: str) -> str:
        offline = ""
        if self._config.offline:
            offline = (
                "<p><span class='badge idle'>offline</span> Serving only what the "
                "cache holds; no upstream is asked.</p>"
            )
        return (
            f"<header><h1>twisted-pypi {esc(__version__)}</h1>"
            "<p class='muted'>A caching proxy for Python package indexes, "
            f"up {esc(format_duration(self._stats.uptime))}. "
            f"Index: <span class='url'>{esc(url + 'simple/')}</span></p>"
            f"{offline}</header>"
        )

    def _traffic(self) -> str:
        stats, cache = self._stats, self._cache
        ratio = stats.hit_ratio
        hits = stats.count("HIT", "STALE")
        misses = stats.count("MISS")
        limit = cache.max_size
        used = f"of {format_size(limit)}" if limit is not None else "no limit"
        figures = [
            ("Requests", str(stats.total_requests), ""),
            (
                "Hit ratio",
                f"{ratio:.0%}" if ratio is not None else "–",
                f"{_plural(hits, 'hit')}, {_plural(misses, 'miss')}",
            ),
            (
                "From cache",
                format_size(stats.bytes_by_source.get("cache", 0)),
                "sent from cached files and pages",
            ),
            (
                "From upstream",
                format_size(stats.bytes_by_source.get("upstream", 0)),
                "sent on misses",
            ),
            (
                "Saved by dummies",
                format_size(stats.dummy_saved_bytes),
                f"{_plural(stats.dummy_files, 'dummy wheel')}, "
                f"{stats.dummy_unknown_size} of unknown size",
            ),
            (
                "From local indexes",
                format_size(stats.bytes_by_source.get("local", 0)),
                "sent from --local directories",
            ),
            ("Evictions", str(cache.evictions), "files, to stay within the limit"),
            ("Cache", format_size(cache.total_size), used),
        ]
        bar = ""
        if limit:
            bar = (
                f"<progress max='{limit}' value='{min(cache.total_size, limit)}'>"
                f"{esc(format_size(cache.total_size))}</progress>"
            )
        items = "".join(
            f"<div><dt>{esc(name)}</dt><dd>{esc(value)}"
            + (f"<small>{esc(note)}</small>" if note else "")
            + (bar if name == "Cache" else "")
            + "</dd></div>"
            for name, value, note in figures
        )
        return (
            "<section><h2>Traffic and cache</h2>"
            f"<dl class='figures'>{items}</dl></section>"
        )

    def _use(self, url: str) -> str:
        blocks = "".join(
            f"<h3>{esc(tool)}</h3>"
            + "".join(f"<pre>{esc(line)}</pre>" for line in text.splitlines())
            for tool, text in snippets(url)
        )
        return f"<section><h2>Use it</h2>{blocks}</section>"

    def _upstreams(self) -> str:
        now = self._stats.clock.seconds()
        items = []
        for index in self._config.indexes:
            health = self._stats.upstreams.get(index.name) or UpstreamHealth(index.name)
            state = health.healthy
            badge = {
                True: "<span class='badge ok'>ok</span>",
                False: "<span class='badge bad'>failing</span>",
                None: "<span class='badge idle'>not asked yet</span>",
            }[state]
            rows = [("Last success", _when(health.last_success, now))]
            if health.last_error is not None:
                rows.append(("Last error", _when(health.last_error, now)))
                rows.append(
                    (
                        "Error",
                        f"<span class='error'>{esc(health.last_error_message)}</span>",
                    )
                )
            rows.append(("Fetches", f"{health.successes} ok, {health.errors} failed"))
            mean = health.latency.mean
            if mean is not None:
                rows.append(
                    (
                        "Latency",
                        f"{mean * 1000:.0f} ms mean over {health.latency.count}",
                    )
                )
            items.append(
                f"<li><b>{esc(index.name)}</b> {badge}"
                f"<div class='url'>{esc(index.url)}</div>{_kv(rows)}</li>"
            )
        return (
            f"<section><h2>Upstream indexes</h2><ul class='items'>{''.join(items)}"
            "</ul></section>"
        )

    def _in_flight(self) -> str:
        flights = self._downloads.in_flight()
        if not flights:
            listing = "<p class='muted'>None right now.</p>"
        else:
            listing = "<ul class='items'>" + "".join(map(_download, flights)) + "</ul>"
        return f"<section><h2>Downloads in progress</h2>{listing}</section>"

    def _settings(self) -> str:
        config = self._config
        local = [(c.name, esc(c.path)) for c in config.locals]
        routes = [(p, f"→ {esc(i)}") for p, i in sorted(config.routes.items())]
        dummies = []
        for spec in config.dummies:
            versions = (
                ", ".join(spec.versions)
                if spec.versions is not None
                else "every upstream version"
            )
            dummies.append((spec.project, f"{esc(versions)} ({esc(spec.mode.value)})"))
        merged = ", ".join(sorted(config.merge))
        return (
            "<section><h2>Settings</h2>"
            + _group("Local indexes", local)
            + _group("Routes", routes)
            + (f"<h3>Merged</h3><p>{esc(merged)}</p>" if merged else "")
            + _group("Dummies", dummies)
            + "</section>"
        )


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    """
    A definition list of escaped names and ready HTML values.
    """
    body = "".join(f"<dt>{esc(name)}</dt><dd>{value}</dd>" for name, value in rows)
    return f"<dl class='kv'>{body}</dl>"


def _group(title: str, rows: list[tuple[str, str]]) -> str:
    """
    A titled definition list, or "none".
    """
    if not rows:
        return f"<h3>{esc(title)}</h3><p class='muted'>None.</p>"
    return f"<h3>{esc(title)}</h3>{_kv(rows)}"


def _plural(n: int, noun: str) -> str:
    """
    ``"1 client"``, ``"2 clients"``, ``"2 misses"``.
    """
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {noun}es" if noun.endswith("s") else f"{n} {noun}s"


def _when(moment: float | None, now: float) -> str:
    """
    ``moment`` as "5 min ago" with the UTC time as a tooltip, or "never".
    """
    if moment is None:
        return "<span class='muted'>never</span>"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))
    return f"<span title='{esc(stamp)}'>{esc(format_duration(now - moment))} ago</span>"


def _download(status: DownloadStatus) -> str:
    """
    One download in flight, with a progress bar when its length is known.
    """
    name = unquote(urlsplit(status.url).path.rsplit("/", 1)[-1]) or status.url
    expected = status.expected_length
    clients = _plural(status.followers, "client")
    if expected:
        share = min(status.written / expected, 1.0)
        progress = (
            f"<progress max='{expected}' value='{min(status.written, expected)}'>"
            f"{share:.0%}</progress>"
            f"{esc(format_size(status.written))} of {esc(format_size(expected))} "
            f"({share:.0%}), {clients}"
        )
    else:
        progress = f"{esc(format_size(status.written))} so far, {clients}"
    return (
        f"<li><b>{esc(name)}</b><div>{progress}</div>"
        f"<div class='url'>{esc(status.url)}</div></li>"
    )
