"""
Tests for :mod:`twisted_pypi.web.metrics`: ``/-/metrics`` in the Prometheus text
format, changing as the in-memory proxy serves requests.
"""

from __future__ import annotations

import json

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import Answer, MemoryProxy, result_now
from tests.web.test_status import JSON, NEW, OLD, make_index
from tests.wheels import build_wheel
from twisted_pypi.core.config import LocalConfig
from twisted_pypi.core.dummyspec import DummySpec

#: Sample name and sorted labels to value.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(proxy: MemoryProxy) -> Samples:
    """
    Every sample ``/-/metrics`` gives now.
    """
    answer = proxy.get("/-/metrics")
    assert answer.code == 200, answer
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.body.decode("utf-8")):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            samples[key] = sample.value
    return samples


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    """
    The value of one sample, or ``None`` if there is none.
    """
    return samples.get((name, tuple(sorted(labels.items()))))


class MetricsTestCase(SynchronousTestCase):
    """
    Builds in-memory proxies with their cache in a temporary directory.
    """

    def proxy(self, **options: object) -> MemoryProxy:
        """
        A :class:`MemoryProxy` in front of :func:`make_index`.

        :param options: More keyword arguments for :class:`MemoryProxy`.
        """
        cache = FilePath(self.mktemp())
        return MemoryProxy(make_index(), cache, **options)  # type: ignore[arg-type]


class RequestMetricsTests(MetricsTestCase):
    """
    Requests and the bytes sent are counted.
    """

    def test_requests_by_status_and_cache(self) -> None:
        """
        ``pypiproxy_requests_total`` counts requests by status code and
        ``X-Cache`` result as they are served.
        """
        proxy = self.proxy()
        name = "pypiproxy_requests_total"
        self.assertIsNone(sample(scrape(proxy), name, code="200", cache="MISS"))
        proxy.get("/simple/demo/", headers=JSON)
        proxy.get("/simple/demo/", headers=JSON)
        proxy.get("/simple/demo/", headers=JSON)
        self.assertEqual(proxy.get("/simple/nope/", headers=JSON).code, 404)
        samples = scrape(proxy)
        self.assertEqual(sample(samples, name, code="200", cache="MISS"), 1)
        self.assertEqual(sample(samples, name, code="200", cache="HIT"), 2)
        self.assertEqual(sample(samples, name, code="404", cache="-"), 1)
        # The first scrape, counted once it was served.
        self.assertEqual(sample(samples, name, code="200", cache="-"), 1)

    def test_bytes_by_source(self) -> None:
        """
        ``pypiproxy_response_bytes_total`` counts the body bytes of successful
        answers by source: cache hits, upstream misses, dummies and local
        indexes.
        """
        local = FilePath(self.mktemp())
        local.makedirs()
        wheel = build_wheel("localpkg", "1.0")
        local.child(wheel.filename).setContent(wheel.content)
        proxy = self.proxy(
            local=[LocalConfig("team", local.path)],
            dummies=(DummySpec("tiny", versions=("1.0",)),),
        )
        before = scrape(proxy)
        for source in ("cache", "upstream", "dummy", "local"):
            self.assertEqual(
                sample(before, "pypiproxy_response_bytes_total", source=source), 0
            )
        path = proxy.file_path(OLD.filename)
        upstream = [proxy.get("/simple/demo/", headers=JSON), proxy.get(path)]
        cache = [proxy.get(path), proxy.get("/simple/demo/", headers=JSON)]
        dummy_page = proxy.get("/simple/tiny/", headers=JSON)
        (dummy_file,) = json.loads(dummy_page.body)["files"]
        dummy = [dummy_page, proxy.get(f"/dummy/tiny/{dummy_file['filename']}")]
        local_page = proxy.get("/simple/localpkg/", headers=JSON)
        self.assertEqual(local_page.code, 200)
        local_files = [proxy.get(f"/local/team/{wheel.filename}")]
        self.assertEqual(local_files[0].body, wheel.content)
        expected: dict[str, list[Answer]] = {
            "upstream": upstream,
            "cache": cache,
            "dummy": dummy,
            "local": [local_page, *local_files],
        }
        samples = scrape(proxy)
        for source, answers in expected.items():
            self.assertEqual(
                sample(samples, "pypiproxy_response_bytes_total", source=source),
                sum(len(a.body) for a in answers),
                source,
            )

    def test_dummies(self) -> None:
        """
        Dummy wheels are counted; the real file's size (from the upstream
        page) is counted as saved, and nothing for explicit versions, whose
        real size is unknown.
        """
        proxy = self.proxy(
            dummies=(DummySpec("demo"), DummySpec("tiny", versions=("3.0",)))
        )
        for project, version in (("demo", "2.0"), ("tiny", "3.0")):
            page = json.loads(proxy.get(f"/simple/{project}/", headers=JSON).body)
            (dummy,) = [f for f in page["files"] if f"-{version}-" in f["filename"]]
            proxy.get(f"/dummy/{project}/{dummy['filename']}")
        samples = scrape(proxy)
        self.assertEqual(sample(samples, "pypiproxy_dummy_files_total"), 2)
        self.assertEqual(
            sample(samples, "pypiproxy_dummy_saved_bytes_total"), len(NEW.content)
        )

    def test_content_type(self) -> None:
        """
        The text format is the default; OpenMetrics is given when asked for.
        """
        proxy = self.proxy()
        self.assertTrue(
            (proxy.get("/-/metrics").header("content-type") or "").startswith(
                "text/plain"
            )
        )
        answer = proxy.get(
            "/-/metrics", headers={"Accept": "application/openmetrics-text"}
        )
        self.assertTrue(
            (answer.header("content-type") or "").startswith(
                "application/openmetrics-text"
            )
        )
        self.assertTrue(answer.body.endswith(b"# EOF\n"))


class FileMetricsTests(MetricsTestCase):
    """
    The file cache and the downloads in flight are read at scrape time.
    """

    def test_cache_size_and_evictions(self) -> None:
        """
        The cache's size and limit are exposed; a download that does not fit
        evicts the older file and counts an eviction.
        """
        limit = len(OLD.content) + len(NEW.content) - 1
        proxy = self.proxy(cache_size=limit)
        proxy.get("/simple/demo/", headers=JSON)
        proxy.get(proxy.file_path(OLD.filename))
        samples = scrape(proxy)
        self.assertEqual(
            sample(samples, "pypiproxy_cache_size_bytes"), len(OLD.content)
        )
        self.assertEqual(sample(samples, "pypiproxy_cache_limit_bytes"), limit)
        self.assertEqual(sample(samples, "pypiproxy_cache_evictions_total"), 0)
        proxy.get(proxy.file_path(NEW.filename))
        samples = scrape(proxy)
        self.assertEqual(sample(samples, "pypiproxy_cache_evictions_total"), 1)
        self.assertEqual(
            sample(samples, "pypiproxy_cache_size_bytes"), len(NEW.content)
        )

    def test_no_limit(self) -> None:
        """
        Without a limit, no limit is exposed.
        """
        self.assertIsNone(sample(scrape(self.proxy()), "pypiproxy_cache_limit_bytes"))

    def test_downloads_in_flight(self) -> None:
        """
        A download in progress counts, with its clients and its reserved
        bytes, until it completes.
        """
        proxy = self.proxy()
        proxy.index.hold_files = True
        pending = [proxy.request(proxy.file_path(NEW.filename)) for _ in range(2)]
        proxy.flush()
        samples = scrape(proxy)
        self.assertEqual(sample(samples, "pypiproxy_downloads_in_flight"), 1)
        self.assertEqual(sample(samples, "pypiproxy_download_followers"), 2)
        self.assertEqual(
            sample(samples, "pypiproxy_cache_reserved_bytes"), len(NEW.content)
        )
        upstream = proxy.index.held[0]
        upstream.write(NEW.content)
        upstream.finish()
        proxy.flush()
        for d in pending:
            self.assertEqual(proxy.answer(result_now(d)).body, NEW.content)
        samples = scrape(proxy)
        self.assertEqual(sample(samples, "pypiproxy_downloads_in_flight"), 0)
        self.assertEqual(sample(samples, "pypiproxy_download_followers"), 0)


class UpstreamMetricsTests(MetricsTestCase):
    """
    Upstream page fetches are timed and their failures counted, per index.
    """

    def test_latency_histogram(self) -> None:
        """
        Each configured index has a latency histogram from the start; a
        fetch answered after 0.3 s counts in the 0.5 s bucket, not the 0.25 s
        one.
        """
        proxy = self.proxy()
        index = proxy.index_name
        name = "pypiproxy_upstream_latency_seconds"
        self.assertEqual(sample(scrape(proxy), name + "_count", index=index), 0)
        proxy.index.hold_paths.add("/simple/demo/")
        pending = proxy.request("/simple/demo/", headers=JSON)
        proxy.flush()
        (held,) = proxy.index.held
        proxy.clock.advance(0.3)
        proxy.index.hold_paths.clear()
        body = proxy.index.render(held)
        assert isinstance(body, bytes)
        held.write(body)
        held.finish()
        proxy.flush()
        self.assertEqual(proxy.answer(result_now(pending)).code, 200)
        samples = scrape(proxy)
        self.assertEqual(sample(samples, name + "_count", index=index), 1)
        self.assertAlmostEqual(sample(samples, name + "_sum", index=index) or 0, 0.3)
        self.assertEqual(sample(samples, name + "_bucket", index=index, le="0.25"), 0)
        self.assertEqual(sample(samples, name + "_bucket", index=index, le="0.5"), 1)
        self.assertEqual(sample(samples, name + "_bucket", index=index, le="+Inf"), 1)

    def test_errors(self) -> None:
        """
        A failed fetch counts as an error with its time; a later success
        sets the time of the last success.
        """
        proxy = self.proxy()
        index = proxy.index_name
        proxy.index.fail["/simple/demo/"] = 500
        self.assertEqual(proxy.get("/simple/demo/", headers=JSON).code, 502)
        samples = scrape(proxy)
        self.assertEqual(
            sample(samples, "pypiproxy_upstream_errors_total", index=index), 1
        )
        self.assertEqual(
            sample(
                samples, "pypiproxy_upstream_last_error_timestamp_seconds", index=index
            ),
            proxy.clock.seconds(),
        )
        self.assertIsNone(
            sample(
                samples,
                "pypiproxy_upstream_last_success_timestamp_seconds",
                index=index,
            )
        )
        proxy.clock.advance(10)
        del proxy.index.fail["/simple/demo/"]
        self.assertEqual(proxy.get("/simple/demo/", headers=JSON).code, 200)
        samples = scrape(proxy)
        self.assertEqual(
            sample(
                samples,
                "pypiproxy_upstream_last_success_timestamp_seconds",
                index=index,
            ),
            proxy.clock.seconds(),
        )


class RegistryTests(MetricsTestCase):
    """
    Each proxy has a registry of its own.
    """

    def test_isolated(self) -> None:
        """
        One proxy's requests do not show in another's metrics, nor in the
        library's global registry.
        """
        first, second = self.proxy(), self.proxy()
        first.get("/simple/demo/", headers=JSON)
        name = "pypiproxy_requests_total"
        self.assertEqual(sample(scrape(first), name, code="200", cache="MISS"), 1)
        self.assertIsNone(sample(scrape(second), name, code="200", cache="MISS"))
        self.assertEqual(
            [m.name for m in REGISTRY.collect() if m.name.startswith("pypiproxy")], []
        )
