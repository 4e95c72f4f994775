"""
Tests for :mod:`twisted_pypi.core.parse_json`: PEP 691 JSON project pages.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.simplepages import (
    FILES,
    JSON_TYPE,
    PAGE_URL,
    PROVENANCE,
    PYPI_JSON,
    SHA_META,
    SHA_WHEEL,
    WHEEL,
    file_entry,
    json_body,
    parse_json,
    parse_one_json,
)
from twisted_pypi.core.model import DistFile
from twisted_pypi.core.parse import (
    PageParseError,
    parse_project_page,
)


class JSONPageTests(SynchronousTestCase):
    """
    Reading PEP 691 JSON project pages.
    """

    def test_pypi_page(self) -> None:
        """
        Every field of a PyPI-shaped page lands in the model.
        """
        page = parse_json(PYPI_JSON)
        wheel, sdist = page.files
        self.assertEqual(
            wheel,
            DistFile(
                filename=WHEEL,
                url=f"{FILES}/ec/a8/5ec62d18adde/{WHEEL}",
                hashes={"sha256": SHA_WHEEL},
                requires_python=">=3.8",
                yanked=False,
                core_metadata={"sha256": SHA_META},
                size=4662,
                upload_time="2024-02-14T21:20:41.123456Z",
                provenance=PROVENANCE,
            ),
        )
        self.assertEqual(sdist.yanked, "Broken metadata")
        self.assertIs(sdist.core_metadata, False)
        self.assertIsNone(sdist.provenance)
        self.assertEqual(page.name, "sampleproject")
        self.assertEqual(page.api_version, (1, 4))
        self.assertEqual(page.meta_extra, {"_last-serial": 22052520})
        self.assertEqual(page.extra, {"alternate-locations": []})
        self.assertEqual(
            (page.status, page.status_reason), ("active", "still maintained")
        )

    def test_name_normalized(self) -> None:
        """
        The page's name is the normalized project name.
        """
        page = parse_project_page(
            json_body(PYPI_JSON), None, PAGE_URL, "Sample_Project"
        )
        self.assertEqual(page.name, "sample-project")

    def test_relative_url(self) -> None:
        """
        A relative file URL is resolved against the page URL and its fragment
        dropped.
        """
        f = parse_one_json(url=f"../../packages/aa/{WHEEL}#sha256={SHA_WHEEL}")
        self.assertEqual(f.url, f"https://pypi.org/packages/aa/{WHEEL}")

    def test_query_kept(self) -> None:
        """
        A file URL's query survives.
        """
        f = parse_one_json(url=f"https://h.example/p/{WHEEL}?token=1")
        self.assertEqual(f.url, f"https://h.example/p/{WHEEL}?token=1")

    def test_hashes_cleaned(self) -> None:
        """
        Hash names and digests are lower-cased; non-hex or non-string digests
        are dropped.
        """
        f = parse_one_json(
            hashes={"SHA256": "ABCDEF", "md5": "not-hex", "sha1": 12, "": "ab"}
        )
        self.assertEqual(f.hashes, {"sha256": "abcdef"})

    def test_hashes_not_a_mapping(self) -> None:
        """
        A ``hashes`` value that is not an object means no hashes.
        """
        self.assertEqual(parse_one_json(hashes=["sha256"]).hashes, {})

    def test_legacy_metadata_keys(self) -> None:
        """
        ``dist-info-metadata`` and then ``data-dist-info-metadata`` are read
        when ``core-metadata`` is absent, and never kept in ``extra``.
        """
        f = parse_one_json(**{"dist-info-metadata": {"sha256": SHA_META}})
        self.assertEqual(f.core_metadata, {"sha256": SHA_META})
        self.assertEqual(f.extra, {})
        f = parse_one_json(**{"data-dist-info-metadata": True})
        self.assertIs(f.core_metadata, True)
        self.assertEqual(f.extra, {})

    def test_core_metadata_read_first(self) -> None:
        """
        ``core-metadata`` wins over the legacy keys.
        """
        f = parse_one_json(
            **{
                "core-metadata": {"sha256": SHA_META},
                "dist-info-metadata": True,
                "data-dist-info-metadata": False,
            }
        )
        self.assertEqual(f.core_metadata, {"sha256": SHA_META})

    def test_core_metadata_absent(self) -> None:
        """
        Without any metadata key (or with ``null``) the metadata is unknown.
        """
        self.assertIsNone(parse_one_json().core_metadata)
        self.assertIsNone(parse_one_json(**{"core-metadata": None}).core_metadata)

    def test_yanked_values(self) -> None:
        """
        ``yanked`` is a boolean or a reason; an empty reason still means
        yanked.
        """
        self.assertIs(parse_one_json(yanked=True).yanked, True)
        self.assertIs(parse_one_json(yanked=False).yanked, False)
        self.assertIs(parse_one_json().yanked, False)
        self.assertEqual(parse_one_json(yanked="CVE-2024-1").yanked, "CVE-2024-1")
        self.assertIs(parse_one_json(yanked="").yanked, True)

    def test_provenance_https_only(self) -> None:
        """
        Only an absolute https provenance URL is kept.
        """
        for bad in ["http://pypi.org/p", "/integrity/p", "https:///p", 7]:
            self.assertIsNone(parse_one_json(provenance=bad).provenance, bad)

    def test_size(self) -> None:
        """
        ``size`` is kept only as a non-negative integer.
        """
        self.assertEqual(parse_one_json(size=0).size, 0)
        for bad in [True, -1, "12", 1.5]:
            self.assertIsNone(parse_one_json(size=bad).size, bad)

    def test_scalar_fields(self) -> None:
        """
        ``gpg-sig``, ``requires-python`` and ``upload-time`` of the wrong type,
        and an empty ``requires-python``, are ignored.
        """
        f = parse_one_json(**{"gpg-sig": True, "requires-python": "<4"})
        self.assertEqual((f.gpg_sig, f.requires_python), (True, "<4"))
        f = parse_one_json(**{"gpg-sig": "yes", "requires-python": 3, "upload-time": 1})
        self.assertEqual((f.gpg_sig, f.requires_python, f.upload_time), (None,) * 3)
        f = parse_one_json(**{"requires-python": ""})
        self.assertEqual((f.gpg_sig, f.requires_python, f.upload_time), (None,) * 3)

    def test_unknown_file_keys_kept(self) -> None:
        """
        Keys of a file object the model does not know pass through unchanged.
        """
        f = parse_one_json(**{"_serial": 5, "x-note": {"a": [1]}})
        self.assertEqual(f.extra, {"_serial": 5, "x-note": {"a": [1]}})

    def test_page_without_optional_keys(self) -> None:
        """
        A minimal page gives API 1.0 and no versions, status or extras.
        """
        page = parse_json({"files": [file_entry()]})
        self.assertEqual(page.api_version, (1, 0))
        self.assertIsNone(page.versions)
        self.assertIsNone(page.status)
        self.assertEqual((page.meta_extra, page.extra), ({}, {}))

    def test_api_versions(self) -> None:
        """
        ``meta.api-version`` ``1.x`` gives ``(1, x)``.
        """
        for text, version in [("1.0", (1, 0)), ("1.1", (1, 1)), ("1.12", (1, 12))]:
            page = parse_json({"meta": {"api-version": text}, "files": []})
            self.assertEqual(page.api_version, version)

    def test_bad_shapes(self) -> None:
        """
        Wrong shapes and unsupported API majors raise PageParseError.
        """
        for page in [
            {"files": {}},
            {"meta": {"api-version": "1.0"}},
            {"meta": [], "files": []},
            {"meta": {"api-version": "2.0"}, "files": []},
            {"meta": {"api-version": "one"}, "files": []},
            {"meta": {"api-version": 1.1}, "files": []},
        ]:
            self.assertRaises(PageParseError, parse_json, page)

    def test_garbage(self) -> None:
        """
        Bodies that are not JSON objects raise PageParseError, nothing else.
        """
        for body in [b"{", b"[]", b'"files"', b"{\xff}", b"[" * 100000, b"{}" * 2]:
            self.assertRaises(
                PageParseError, parse_project_page, body, JSON_TYPE, PAGE_URL, "p"
            )

    def test_versions_and_status(self) -> None:
        """
        Non-string versions are dropped; a malformed project-status is
        ignored.
        """
        page = parse_json({"files": [], "versions": ["1.0", 2], "project-status": "x"})
        self.assertEqual(page.versions, ("1.0",))
        self.assertIsNone(page.status)

    def test_bad_entries_dropped(self) -> None:
        """
        File entries that are not objects or lack a string filename or URL
        are dropped; the others are kept.
        """
        page = parse_json(
            {
                "files": [
                    7,
                    {"filename": WHEEL},
                    {"url": "x", "filename": 3},
                    file_entry(),
                ]
            }
        )
        self.assertEqual([f.filename for f in page.files], [WHEEL])

    def test_filename_must_match_url(self) -> None:
        """
        A file whose filename differs from its URL's last segment is dropped.
        """
        page = parse_json(
            {"files": [file_entry(url=f"{FILES}/aa/other-1.0-py3-none-any.whl")]}
        )
        self.assertEqual(page.files, ())

    def test_percent_encoded_url(self) -> None:
        """
        The URL's last segment is compared percent-decoded.
        """
        name = "torch-2.4.0+cpu-cp311-cp311-linux_x86_64.whl"
        f = parse_one_json(
            filename=name, url=f"https://d.example/{name.replace('+', '%2B')}"
        )
        self.assertEqual(f.filename, name)
