# -*- test-case-name: tests.web.test_statusview,tests.web.test_status -*-
"""
The status page as a :mod:`twisted.web.template` element: the page's
skeleton is an XML template, each section is filled by a renderer from the
service's figures, read at render time.  The flattener escapes every value,
whatever it holds (an upstream's error message, a path, the ``Host``
header).
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from twisted.web.iweb import IRequest
from twisted.web.template import (
    Element,
    Flattenable,
    Tag,
    XMLString,
    renderer,
    tags,
)

from twisted_pypi import __version__
from twisted_pypi.core.config import ProxyConfig
from twisted_pypi.core.sizes import format_size
from twisted_pypi.core.stats import Stats, UpstreamHealth
from twisted_pypi.files.download import Downloads, DownloadStatus
from twisted_pypi.storage.filecache import FileCache
from twisted_pypi.web.snippets import snippets
from twisted_pypi.web.statushtml import (
    CSS,
    format_duration,
    group,
    kv,
    plural,
    when,
)
from twisted_pypi.web.statuspolicy import policy_section
from twisted_pypi.web.statusstore import store_section

__all__ = ["StatusView"]

_TEMPLATE = XMLString(
    '<html xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1"'
    ' lang="en"><head><meta charset="utf-8" />'
    '<meta name="viewport" content="width=device-width, initial-scale=1" />'
    '<title>twisted-pypi</title><style t:render="style" /></head><body><main>'
    '<header t:render="header"><h1>twisted-pypi <t:slot name="version" /></h1>'
    '<p class="muted">A caching proxy for Python package indexes, up'
    ' <t:slot name="uptime" />. Index: <span class="url"><t:slot name="index" />'
    '</span></p><t:transparent t:render="offline" />'
    '<t:transparent t:render="disk" /></header>'
    '<section><h2>Traffic and cache</h2><dl class="figures" t:render="figures" />'
    "</section>"
    '<section><h2>Downloads in progress</h2><t:transparent t:render="downloads" />'
    "</section>"
    '<t:transparent t:render="store" />'
    '<t:transparent t:render="policy" />'
    '<section><h2>Upstream indexes</h2><ul class="items" t:render="upstreams" />'
    "</section>"
    '<section><h2>Use it</h2><t:transparent t:render="use" /></section>'
    '<section><h2>Settings</h2><t:transparent t:render="settings" /></section>'
    # Relative links: right below any --base-url path too.
    '<footer class="muted"><a href="simple/">simple index</a> · '
    '<a href="-/metrics">metrics</a> · <a href="-/health">health</a></footer>'
    "</main></body></html>"
)

#: An upstream's state: its badge's class and text.
_BADGES = {
    True: ("ok", "ok"),
    False: ("bad", "failing"),
    None: ("idle", "not asked yet"),
}


class StatusView(Element):
    """
    The status page: what the proxy is, how to use it, and how it is doing.
    """

    loader = _TEMPLATE

    def __init__(
        self,
        config: ProxyConfig,
        stats: Stats,
        cache: FileCache,
        downloads: Downloads,
        url: str,
    ) -> None:
        """
        :param config: The settings shown (indexes, dummies, routes, ...).
        :param stats: The running totals.
        :param cache: The file cache.
        :param downloads: The downloads in flight.
        :param url: The proxy's own URL, ending in ``/``, for the snippets.
        """
        super().__init__()
        self._config = config
        self._stats = stats
        self._cache = cache
        self._downloads = downloads
        self._url = url

    @renderer
    def style(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        The stylesheet.
        """
        return tag(CSS)

    @renderer
    def header(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        The version, the uptime and the index URL.
        """
        return tag.fillSlots(
            version=__version__,
            uptime=format_duration(self._stats.uptime),
            index=self._url + "simple/",
        )

    @renderer
    def offline(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        Whether the proxy runs offline, if it does.
        """
        if not self._config.offline:
            return ""
        return tags.p(
            tags.span("offline", class_="badge idle"),
            " Serving only what the cache holds; no upstream is asked.",
        )

    @renderer
    def disk(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        That the disk is full, if the last write found it so.
        """
        space = self._cache.space
        if not space.full:
            return ""
        now = self._stats.clock.seconds()
        return tags.p(
            tags.span("disk full", class_="badge bad"),
            " Last found full ",
            when(space.last_full, now),
            f" ({space.last_error}): files that do not fit after evicting"
            " cached ones are sent without being cached, and pages are served"
            " from memory without being stored.",
        )

    @renderer
    def figures(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        Requests, hits, bytes by source, dummies and the cache, as figures.
        """
        stats, cache = self._stats, self._cache
        ratio = stats.hit_ratio
        hits = stats.count("HIT", "STALE")
        misses = stats.count("MISS")
        limit = cache.max_size
        used = f"of {format_size(limit)}" if limit is not None else "no limit"
        sent = stats.bytes_by_source
        figures = [
            ("Requests", str(stats.total_requests), ""),
            (
                "Hit ratio",
                f"{ratio:.0%}" if ratio is not None else "–",
                f"{plural(hits, 'hit')}, {plural(misses, 'miss')}",
            ),
            (
                "From cache",
                format_size(sent.get("cache", 0)),
                "sent from cached files and pages",
            ),
            ("From upstream", format_size(sent.get("upstream", 0)), "sent on misses"),
            (
                "Saved by dummies",
                format_size(stats.dummy_saved_bytes),
                f"{plural(stats.dummy_files, 'dummy wheel')}, "
                f"{stats.dummy_unknown_size} of unknown size",
            ),
            (
                "From local indexes",
                format_size(sent.get("local", 0)),
                "sent from --local directories",
            ),
            _metadata_figure(stats.metadata_served),
            ("Evictions", str(cache.evictions), "files, to stay within the limit"),
            ("Cache", format_size(cache.total_size), used),
            _disk_figure(cache, self._downloads, stats.clock.seconds()),
        ]
        bar: Flattenable = ""
        if limit:
            bar = tags.progress(
                format_size(cache.total_size),
                max=str(limit),
                value=str(min(cache.total_size, limit)),
            )
        for name, value, note in figures:
            tag(
                tags.div(
                    tags.dt(name),
                    tags.dd(
                        value,
                        tags.small(note) if note else "",
                        bar if name == "Cache" else "",
                    ),
                )
            )
        return tag

    @renderer
    def downloads(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        The downloads in flight, or "None right now."
        """
        flights = self._downloads.in_flight()
        if not flights:
            return tags.p("None right now.", class_="muted")
        return tags.ul([_download(status) for status in flights], class_="items")

    @renderer
    def store(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        The shared store and the cluster, with ``--store``.
        """
        return store_section(self._config, self._stats, self._cache, self._downloads)

    @renderer
    def policy(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        The supply-chain policy and its latest decisions, when one is set.
        """
        return policy_section(self._config, self._stats)

    @renderer
    def upstreams(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        Each upstream index: how it has been answering.
        """
        now = self._stats.clock.seconds()
        for index in self._config.indexes:
            health = self._stats.upstreams.get(index.name) or UpstreamHealth(index.name)
            kind, state = _BADGES[health.healthy]
            tag(
                tags.li(
                    tags.b(index.name),
                    " ",
                    tags.span(state, class_=f"badge {kind}"),
                    tags.div(index.url, class_="url"),
                    kv(_health_rows(health, now)),
                )
            )
        return tag

    @renderer
    def use(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        How to point each installer at the proxy, a command per block.
        """
        return [
            [tags.h3(tool), [tags.pre(line) for line in text.splitlines()]]
            for tool, text in snippets(self._url)
        ]

    @renderer
    def settings(self, request: IRequest | None, tag: Tag) -> Flattenable:
        """
        Local indexes, routes, merged projects and dummies.
        """
        config = self._config
        local: list[tuple[str, Flattenable]] = [(c.name, c.path) for c in config.locals]
        routes: list[tuple[str, Flattenable]] = [
            (project, f"→ {index}") for project, index in sorted(config.routes.items())
        ]
        dummies: list[tuple[str, Flattenable]] = []
        for spec in config.dummies:
            versions = (
                ", ".join(spec.versions)
                if spec.versions is not None
                else "every upstream version"
            )
            dummies.append((spec.project, f"{versions} ({spec.mode.value})"))
        merged = ", ".join(sorted(config.merge))
        return [
            group("Local indexes", local),
            group("Routes", routes),
            [tags.h3("Merged"), tags.p(merged)] if merged else "",
            group("Dummies", dummies),
        ]


def _disk_figure(
    cache: FileCache, downloads: Downloads, now: float
) -> tuple[str, str, str]:
    """
    The disk figure: full or ok, when it was last full, and how many files
    were sent without being cached.
    """
    space = cache.space
    last = space.last_full
    ago = (
        "never full" if last is None else f"last full {format_duration(now - last)} ago"
    )
    note = f"{ago}; {plural(downloads.uncached, 'file')} sent uncached"
    return ("Disk", "full" if space.full else "ok", note)


def _health_rows(health: UpstreamHealth, now: float) -> list[tuple[str, Flattenable]]:
    """
    What is known of an upstream: last success and error, counts, latency,
    and whether its ages count from first sight (it gives no upload times).
    """
    rows: list[tuple[str, Flattenable]] = [
        ("Last success", when(health.last_success, now))
    ]
    if health.last_error is not None:
        rows.append(("Last error", when(health.last_error, now)))
        message = health.last_error_message or ""
        rows.append(("Error", tags.span(message, class_="error")))
    rows.append(("Fetches", f"{health.successes} ok, {health.errors} failed"))
    mean = health.latency.mean
    if mean is not None:
        latency = f"{mean * 1000:.0f} ms mean over {health.latency.count}"
        rows.append(("Latency", latency))
    if health.undated:
        rows.append(("Upload times", "none given: ages from first sight"))
    return rows


def _download(status: DownloadStatus) -> Tag:
    """
    One download in flight, with a progress bar when its length is known.
    """
    name = unquote(urlsplit(status.url).path.rsplit("/", 1)[-1]) or status.url
    expected = status.expected_length
    clients = plural(status.followers, "client")
    progress: Flattenable
    if expected:
        share = min(status.written / expected, 1.0)
        progress = [
            tags.progress(
                f"{share:.0%}",
                max=str(expected),
                value=str(min(status.written, expected)),
            ),
            f"{format_size(status.written)} of {format_size(expected)} "
            f"({share:.0%}), {clients}",
        ]
    else:
        progress = f"{format_size(status.written)} so far, {clients}"
    uncached: Flattenable = ""
    if not status.cached:
        uncached = [" ", tags.span("not cached: disk full", class_="badge bad")]
    return tags.li(
        tags.b(name), uncached, tags.div(progress), tags.div(status.url, class_="url")
    )


def _metadata_figure(served: dict[str, int]) -> tuple[str, str, str]:
    """
    The ``.metadata`` files served, and where they came from.

    :param served: The counts by source.
    """
    total = sum(served.values())
    note = (
        f"{served.get('upstream', 0)} from the indexes, "
        f"{served.get('extracted', 0)} read from cached wheels, "
        f"{served.get('ranged', 0)} read by ranges"
    )
    return ("Core metadata", str(total), note)
