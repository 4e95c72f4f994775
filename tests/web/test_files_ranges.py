"""
Tests for ``Range`` requests on the ``/files/`` route
(:mod:`twisted_pypi.web.files` with :mod:`twisted_pypi.web.rangedfiles`)
for files not cached, through the real resource tree in front of a fake
index that honours ranges and logs them (see :class:`tests.fakes.MemoryProxy`).
"""

from __future__ import annotations

from tests.fakes import parse_raw, result_now
from tests.web.test_files import NEW, OLD, SDIST, UNLISTED, FilesTestCase
from tests.web.test_metrics import sample, scrape


class UncachedRangeTests(FilesTestCase):
    """
    Ranges of files neither cached nor being downloaded.
    """

    def upstream_ranges(self) -> list[tuple[str, str]]:
        """The upstream's file requests that had a ``Range``."""
        return self.index.ranged

    def test_passed_through(self) -> None:
        """
        A range of a listed wheel is a 206 with exactly those bytes, asked
        of the upstream as that range only (its one file request); nothing
        is downloaded or cached.
        """
        path = self.proxy.file_path(NEW.filename)
        answer = self.proxy.get(path, headers={"Range": "bytes=-100"})
        size = len(NEW.content)
        self.assertEqual(answer.code, 206, answer.body)
        self.assertEqual(answer.body, NEW.content[-100:])
        self.assertEqual(
            answer.header("content-range"), f"bytes {size - 100}-{size - 1}/{size}"
        )
        self.assertEqual(answer.header("accept-ranges"), "bytes")
        self.assertEqual(answer.header("x-cache"), "MISS")
        self.assertEqual(
            self.upstream_ranges(),
            [(f"/packages/{NEW.filename}", f"bytes={size - 100}-{size - 1}")],
        )
        self.assertEqual(self.upstream_gets(NEW.filename), 1)
        self.assertEqual(self.proxy.downloads.in_flight(), [])
        self.assertEqual(self.cached_files(), [])

    def test_reads_like_uv(self) -> None:
        """
        The reads of an installer looking for a wheel's metadata (the tail,
        then a member) each go upstream as a range, and the wheel is never
        fetched whole.
        """
        path = self.proxy.file_path(OLD.filename)
        tail = self.proxy.get(path, headers={"Range": "bytes=-64"})
        head = self.proxy.get(path, headers={"Range": "bytes=0-29"})
        self.assertEqual(tail.body, OLD.content[-64:])
        self.assertEqual(head.body, OLD.content[:30])
        self.assertEqual(len(self.upstream_ranges()), 2)
        self.assertEqual(self.upstream_gets(OLD.filename), 2)
        self.assertEqual(self.cached_files(), [])

    def test_unlisted(self) -> None:
        """
        A range of a file the index does not list is a 404, and the
        upstream is never asked for it.
        """
        path = self.proxy.file_path(UNLISTED.filename)
        answer = self.proxy.get(path, headers={"Range": "bytes=0-9"})
        self.assertEqual(answer.code, 404)
        self.assertEqual(self.upstream_gets(UNLISTED.filename), 0)

    def test_past_the_end(self) -> None:
        """
        A range past the end of the index's size is a 416 without asking
        the upstream.
        """
        path = self.proxy.file_path(SDIST.filename)
        answer = self.proxy.get(path, headers={"Range": "bytes=999999-"})
        self.assertEqual(answer.code, 416)
        self.assertEqual(
            answer.header("content-range"), f"bytes */{len(SDIST.content)}"
        )
        self.assertEqual(self.upstream_gets(SDIST.filename), 0)

    def test_upstream_ignores_ranges(self) -> None:
        """
        An upstream that answers a range with the whole file: the range is
        a 206 from that download, which is cached, and the upstream was
        asked once.
        """
        self.index.ranges = False
        path = self.proxy.file_path(NEW.filename)
        answer = self.proxy.get(path, headers={"Range": "bytes=10-19"})
        self.assertEqual(answer.code, 206)
        self.assertEqual(answer.body, NEW.content[10:20])
        self.assertEqual(self.proxy.get(path).header("x-cache"), "HIT")
        self.assertEqual(self.upstream_gets(NEW.filename), 1)

    def test_several_ranges(self) -> None:
        """
        Several ranges in one request take the whole-file path: a 200 with
        the whole file, downloaded (and cached) as for any ``GET``.
        """
        path = self.proxy.file_path(NEW.filename)
        answer = self.proxy.get(path, headers={"Range": "bytes=0-1,5-6"})
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.body, NEW.content)
        self.assertEqual(self.upstream_ranges(), [])

    def test_if_range(self) -> None:
        """
        A range with ``If-Range`` (a validator the proxy gave for no file
        it does not hold) gets the whole file.
        """
        path = self.proxy.file_path(NEW.filename)
        headers = {"Range": "bytes=0-1", "If-Range": '"abc"'}
        answer = self.proxy.get(path, headers=headers)
        self.assertEqual(answer.code, 200)
        self.assertEqual(answer.body, NEW.content)
        self.assertEqual(self.upstream_ranges(), [])

    def test_counted(self) -> None:
        """
        The metrics count ranges passed to the upstream and ranges answered
        from a spool.
        """
        self.index.ranges = False
        self.proxy.get(
            self.proxy.file_path(NEW.filename), headers={"Range": "bytes=0-1"}
        )
        self.proxy.get(
            self.proxy.file_path(OLD.filename), headers={"Range": "bytes=0-1"}
        )
        self.index.ranges = True
        self.proxy.get(
            self.proxy.file_path(SDIST.filename), headers={"Range": "bytes=0-1"}
        )
        samples = scrape(self.proxy)
        name = "pypiproxy_file_ranges_total"
        self.assertEqual(sample(samples, name, source="spool"), 2)
        self.assertEqual(sample(samples, name, source="upstream"), 1)


class InFlightRangeTests(FilesTestCase):
    """
    Ranges of files being downloaded.
    """

    def test_from_spool(self) -> None:
        """
        A range of a file being downloaded is a 206 from the spool once
        those bytes arrived, and the upstream is not asked again.
        """
        self.index.hold_files = True
        path = self.proxy.file_path(NEW.filename)
        whole = self.proxy.request(path)
        self.proxy.flush()
        [upstream] = self.index.held
        upstream.write(NEW.content[:100])
        self.proxy.flush()
        ranged = self.proxy.request(path, headers={"Range": "bytes=20-59"})
        self.proxy.flush()
        answer = self.proxy.answer(result_now(ranged))
        self.assertEqual(answer.code, 206)
        self.assertEqual(answer.body, NEW.content[20:60])
        self.assertEqual(answer.header("x-cache"), "MISS")
        self.assertEqual(self.index.ranged, [])
        self.assertEqual(self.upstream_gets(NEW.filename), 1)
        upstream.write(NEW.content[100:])
        upstream.finish()
        self.assertEqual(self.proxy.answer(result_now(whole)).body, NEW.content)


class HeadRangeTests(FilesTestCase):
    """
    What ``HEAD`` promises of ranges on files not cached.
    """

    def head(self, path: str) -> dict[bytes, bytes]:
        """The headers of a ``HEAD`` for ``path``, as sent on the wire."""
        transport = self.proxy.raw(
            f"HEAD {path} HTTP/1.1\r\nHost: proxy.test\r\n\r\n".encode()
        )
        status, headers, _ = parse_raw(transport.value())
        self.assertEqual(status, 200)
        return headers

    def test_accept_ranges(self) -> None:
        """
        ``HEAD`` of a file not cached says ``Accept-Ranges: bytes`` with its
        length, and downloads nothing.
        """
        headers = self.head(self.proxy.file_path(NEW.filename))
        self.assertEqual(headers[b"accept-ranges"], b"bytes")
        self.assertEqual(headers[b"content-length"], b"%d" % len(NEW.content))
        self.assertEqual(self.upstream_gets(NEW.filename), 0)

    def test_metadata(self) -> None:
        """A ``.metadata`` file, always sent whole, promises no ranges."""
        headers = self.head(self.proxy.file_path(NEW.filename) + ".metadata")
        self.assertNotIn(b"accept-ranges", headers)
