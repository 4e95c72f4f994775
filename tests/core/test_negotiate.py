"""
Tests for :mod:`twisted_pypi.core.negotiate`.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.negotiate import Representation, choose

JSON = Representation.JSON
HTML_V1 = Representation.HTML_V1
TEXT_HTML = Representation.TEXT_HTML

#: The Accept headers real installers send (standards.md, part B).
PIP = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
)
UV = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)
POETRY = "application/vnd.pypi.simple.v1+json, */*;q=0.1"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class RepresentationTests(SynchronousTestCase):
    """
    Tests for :class:`Representation`.
    """

    def test_json_content_type(self) -> None:
        """
        The JSON representation's Content-Type is exactly the v1 JSON type.
        """
        self.assertEqual(JSON.content_type, b"application/vnd.pypi.simple.v1+json")

    def test_html_content_types(self) -> None:
        """
        The HTML representations' Content-Types start with their media type
        (what pip checks) and, without parameters, equal it (what uv checks).
        """
        for rep, media_type in [
            (HTML_V1, b"application/vnd.pypi.simple.v1+html"),
            (TEXT_HTML, b"text/html"),
        ]:
            self.assertTrue(rep.content_type.startswith(media_type))
            self.assertEqual(rep.content_type.split(b";")[0].strip(), media_type)

    def test_content_types_lower_case(self) -> None:
        """
        Every Content-Type is lower case.
        """
        for rep in Representation:
            self.assertEqual(rep.content_type, rep.content_type.lower())

    def test_media_type(self) -> None:
        """
        ``media_type`` is the bare media type.
        """
        self.assertEqual(TEXT_HTML.media_type, "text/html")
        self.assertEqual(HTML_V1.media_type, "application/vnd.pypi.simple.v1+html")

    def test_is_json(self) -> None:
        """
        Only the JSON representation is JSON.
        """
        self.assertEqual([r for r in Representation if r.is_json], [JSON])


class ChooseTests(SynchronousTestCase):
    """
    Tests for :func:`choose`.
    """

    def test_installers_get_json(self) -> None:
        """
        pip's, pdm's, uv's and poetry's Accept headers all get JSON.
        """
        for accept in [PIP, UV, POETRY]:
            self.assertIs(choose(accept), JSON, accept)

    def test_bytes_header(self) -> None:
        """
        The header may be given as bytes, as Twisted delivers it.
        """
        self.assertIs(choose(PIP.encode("ascii")), JSON)

    def test_text_html(self) -> None:
        """
        ``text/html`` alone gets ``text/html``.
        """
        self.assertIs(choose("text/html"), TEXT_HTML)

    def test_html_v1(self) -> None:
        """
        The v1 HTML type alone gets the v1 HTML type.
        """
        self.assertIs(choose("application/vnd.pypi.simple.v1+html"), HTML_V1)

    def test_no_accept(self) -> None:
        """
        A request without Accept (or with an empty one) gets ``text/html``.
        """
        self.assertIs(choose(None), TEXT_HTML)
        self.assertIs(choose(""), TEXT_HTML)
        self.assertIs(choose(b"  "), TEXT_HTML)

    def test_malformed_accept_ignored(self) -> None:
        """
        An Accept header without a single well-formed media range is treated
        as absent.
        """
        self.assertIs(choose("garbage, ,;q=1"), TEXT_HTML)

    def test_browser(self) -> None:
        """
        A browser, which names ``text/html`` and accepts the rest only
        through ``*/*`` with a lower q, gets ``text/html``.
        """
        self.assertIs(choose(BROWSER), TEXT_HTML)

    def test_any(self) -> None:
        """
        ``*/*`` alone is answered like no Accept at all: ``text/html``.
        """
        self.assertIs(choose("*/*"), TEXT_HTML)

    def test_lone_star(self) -> None:
        """
        A lone ``*`` (sent by old Java clients) counts as ``*/*``.
        """
        self.assertIs(choose("*; q=.2"), TEXT_HTML)

    def test_application_wildcard(self) -> None:
        """
        ``application/*`` matches both PyPI types and prefers JSON.
        """
        self.assertIs(choose("application/*"), JSON)

    def test_text_wildcard(self) -> None:
        """
        ``text/*`` gets ``text/html``.
        """
        self.assertIs(choose("text/*"), TEXT_HTML)

    def test_unsupported(self) -> None:
        """
        Only unsupported types means nothing is acceptable.
        """
        self.assertIsNone(choose("application/xml"))
        self.assertIsNone(choose("image/png, application/json"))

    def test_q_zero_excludes(self) -> None:
        """
        ``q=0`` excludes a type even when it is the most expressive.
        """
        self.assertIs(
            choose("application/vnd.pypi.simple.v1+json;q=0, text/html"), TEXT_HTML
        )

    def test_only_q_zero(self) -> None:
        """
        A header whose only type has ``q=0`` accepts nothing.
        """
        self.assertIsNone(choose("text/html;q=0"))

    def test_q_zero_beats_wildcard(self) -> None:
        """
        An explicit ``q=0`` is not undone by a ``*/*`` that would match.
        """
        self.assertIs(choose("application/vnd.pypi.simple.v1+json;q=0, */*"), TEXT_HTML)
        self.assertIs(choose("text/html;q=0, */*"), JSON)

    def test_wildcard_q_zero_keeps_explicit(self) -> None:
        """
        ``*/*;q=0`` does not exclude a type that is named explicitly.
        """
        self.assertIs(choose("*/*;q=0, application/vnd.pypi.simple.v1+html"), HTML_V1)

    def test_q_decides_over_order(self) -> None:
        """
        The highest q wins wherever it appears in the header.
        """
        self.assertIs(
            choose("text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.9"), JSON
        )
        self.assertIs(
            choose("application/vnd.pypi.simple.v1+json;q=0.4, text/html;q=0.5"),
            TEXT_HTML,
        )

    def test_duplicate_ranges_highest_q(self) -> None:
        """
        A media range given more than once counts with its highest q,
        wherever that one appears (RFC 9110 gives no order between them);
        the ``latest`` alias and the ``v1`` type count as the same range.
        """
        low_high = (
            "application/vnd.pypi.simple.v1+json;q=0.1, "
            "application/vnd.pypi.simple.v1+json;q=0.9, text/html;q=0.5"
        )
        high_low = (
            "application/vnd.pypi.simple.v1+json;q=0.9, "
            "application/vnd.pypi.simple.v1+json;q=0.1, text/html;q=0.5"
        )
        zero_later = (
            "application/vnd.pypi.simple.v1+json;q=0.9, "
            "application/vnd.pypi.simple.v1+json;q=0, text/html;q=0.5"
        )
        alias = (
            "application/vnd.pypi.simple.latest+json;q=0.1, "
            "text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.9"
        )
        html = (
            "text/html;q=0.1, text/html;q=0.9, "
            "application/vnd.pypi.simple.v1+json;q=0.5"
        )
        self.assertEqual(
            [choose(a) for a in (low_high, high_low, zero_later, alias, html)],
            [JSON, JSON, JSON, JSON, TEXT_HTML],
        )

    def test_q_three_decimals(self) -> None:
        """
        q-values with three decimals are compared exactly.
        """
        self.assertIs(
            choose("text/html;q=0.002, application/vnd.pypi.simple.v1+json;q=0.001"),
            TEXT_HTML,
        )

    def test_spacing_and_case(self) -> None:
        """
        Spaces around ``;`` and ``=`` and upper-case types and parameter
        names do not matter.
        """
        self.assertIs(
            choose("Application/VND.PyPI.Simple.V1+JSON ; Q = 0.2 ,TEXT/HTML ;q= 0.3"),
            TEXT_HTML,
        )

    def test_equal_q_prefers_expressive(self) -> None:
        """
        Between explicitly named types of equal q, JSON beats v1 HTML, which
        beats ``text/html``.
        """
        self.assertIs(
            choose(
                "text/html, application/vnd.pypi.simple.v1+html, "
                "application/vnd.pypi.simple.v1+json"
            ),
            JSON,
        )
        self.assertIs(choose("text/html, application/vnd.pypi.simple.v1+html"), HTML_V1)

    def test_explicit_beats_wildcard_at_equal_q(self) -> None:
        """
        At equal q an explicitly named type beats one matched by a wildcard.
        """
        self.assertIs(choose("application/*, text/html"), TEXT_HTML)
        self.assertIs(choose("*/*, application/vnd.pypi.simple.v1+html"), HTML_V1)

    def test_latest_aliases(self) -> None:
        """
        The ``latest`` aliases select the concrete v1 representations.
        """
        self.assertIs(choose("application/vnd.pypi.simple.latest+json"), JSON)
        self.assertIs(choose("application/vnd.pypi.simple.latest+html"), HTML_V1)

    def test_unparsable_q_is_one(self) -> None:
        """
        A q-value that is not a number counts as 1.
        """
        self.assertIs(
            choose("text/html;q=high, application/vnd.pypi.simple.v1+json;q=0.5"),
            TEXT_HTML,
        )

    def test_out_of_range_q_clamped(self) -> None:
        """
        q-values above 1 count as 1 and negative ones as 0.
        """
        self.assertIs(
            choose("text/html;q=7, application/vnd.pypi.simple.v1+json;q=1"), JSON
        )
        self.assertIsNone(choose("text/html;q=-1"))

    def test_other_parameters_ignored(self) -> None:
        """
        Parameters other than q (before or after it) are ignored.
        """
        self.assertIs(choose("text/html;charset=utf-8;q=0.5;level=1"), TEXT_HTML)

    def test_format_overrides_accept(self) -> None:
        """
        A ``?format=`` value naming a type overrides the Accept header.
        """
        self.assertIs(choose("text/html", "application/vnd.pypi.simple.v1+json"), JSON)
        self.assertIs(choose(PIP, "text/html"), TEXT_HTML)
        self.assertIs(choose(None, "application/vnd.pypi.simple.v1+html"), HTML_V1)
        self.assertIs(choose(None, "application/vnd.pypi.simple.latest+json"), JSON)

    def test_unknown_format(self) -> None:
        """
        A ``?format=`` value naming no supported type is not acceptable.
        """
        self.assertIsNone(choose(PIP, "json"))
        self.assertIsNone(choose(None, "application/xml"))

    def test_empty_format_ignored(self) -> None:
        """
        An empty ``?format=`` is ignored.
        """
        self.assertIs(choose(PIP, ""), JSON)
