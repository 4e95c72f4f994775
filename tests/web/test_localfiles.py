"""
Tests for :mod:`twisted_pypi.web.localfiles`: the resource serving the files
of local indexes, and the ``.metadata`` of their wheels.
"""

from __future__ import annotations

from typing import Any

from treq.testing import StubTreq
from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.fakes import result_now
from tests.wheels import build_sdist, build_wheel
from twisted_pypi.core.config import LocalConfig
from twisted_pypi.core.links import RELATIVE
from twisted_pypi.sources.local import LocalIndex
from twisted_pypi.web.localfiles import LocalFilesResource

#: A wheel in the local directory.
WHEEL = build_wheel("private-lib", "1.0")
#: An sdist in the local directory.
SDIST = build_sdist("private-lib", "0.9")


class LocalFilesResourceTests(SynchronousTestCase):
    """
    ``LocalFilesResource`` serves ``/<index>/<file>`` and
    ``/<index>/<wheel>.metadata`` from the local indexes' directories.
    """

    def setUp(self) -> None:
        """
        A local index ``private`` over a directory holding :data:`WHEEL`
        and :data:`SDIST`, and a client of the resource over it.
        """
        directory = FilePath(self.mktemp())
        directory.makedirs()
        directory.child(WHEEL.filename).setContent(WHEEL.content)
        directory.child(SDIST.filename).setContent(SDIST.content)
        directory.sibling("secret.whl").setContent(b"not to be served")
        index = LocalIndex(LocalConfig("private", directory.path), RELATIVE)
        self.treq: Any = StubTreq(LocalFilesResource({"private": index}))

    def get(self, path: str, method: str = "GET") -> tuple[int, Any, bytes]:
        """
        The status, headers and body of a request for ``path``.
        """
        d = self.treq.request(method, f"http://proxy.test/{path}")
        self.treq.flush()
        response = result_now(d)
        body = self.treq.content(response)
        self.treq.flush()
        return response.code, response.headers, result_now(body)

    def test_file(self) -> None:
        """
        A file of the directory is served whole, as an immutable zip marked
        ``LOCAL``, with an ETag.
        """
        code, headers, body = self.get(f"private/{WHEEL.filename}")
        self.assertEqual((code, body), (200, WHEEL.content))
        self.assertEqual(headers.getRawHeaders("x-cache"), ["LOCAL"])
        self.assertEqual(headers.getRawHeaders("content-type"), ["application/zip"])
        self.assertEqual(
            headers.getRawHeaders("cache-control"), ["max-age=365000000, immutable"]
        )
        self.assertTrue(headers.hasHeader("etag"))

    def test_sdist(self) -> None:
        """
        An sdist is served as gzip.
        """
        code, headers, body = self.get(f"private/{SDIST.filename}")
        self.assertEqual((code, body), (200, SDIST.content))
        self.assertEqual(headers.getRawHeaders("content-type"), ["application/gzip"])

    def test_metadata(self) -> None:
        """
        A wheel's ``.metadata`` is its ``METADATA`` file, served as
        immutable and marked ``LOCAL``.
        """
        code, headers, body = self.get(f"private/{WHEEL.filename}.metadata")
        self.assertEqual((code, body), (200, WHEEL.metadata))
        self.assertEqual(headers.getRawHeaders("x-cache"), ["LOCAL"])
        self.assertEqual(
            headers.getRawHeaders("cache-control"), ["max-age=365000000, immutable"]
        )

    def test_head_metadata(self) -> None:
        """
        ``HEAD`` of a ``.metadata`` gives its headers without the body.
        """
        code, headers, body = self.get(f"private/{WHEEL.filename}.metadata", "HEAD")
        self.assertEqual((code, body), (200, b""))
        self.assertEqual(headers.getRawHeaders("x-cache"), ["LOCAL"])

    def test_sdist_metadata(self) -> None:
        """
        An sdist's ``.metadata`` is not offered: 404.
        """
        code, _, _ = self.get(f"private/{SDIST.filename}.metadata")
        self.assertEqual(code, 404)

    def test_not_found(self) -> None:
        """
        Unknown files and indexes, unsafe names and paths of the wrong depth
        are 404.
        """
        for path in [
            "private/private_lib-9.9-py3-none-any.whl",
            f"other/{WHEEL.filename}",
            "private/..",
            "private/%2E%2E%2Fsecret.whl",
            f"private/{WHEEL.filename}/extra",
            "private",
        ]:
            with self.subTest(path=path):
                code, _, _ = self.get(path)
                self.assertEqual(code, 404)
