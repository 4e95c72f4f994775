"""
Tests for :mod:`twisted_pypi.app.optionstable`: the reference table of the
options in ``docs/configuration.md``.
"""

from __future__ import annotations

import io
import os
import sys

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests import REPOSITORY
from twisted_pypi.app.configfile import option_specs
from twisted_pypi.app.optionstable import (
    TABLE_END,
    TABLE_START,
    main,
    reference_table,
    update_table,
)
from twisted_pypi.app.tap import Options

DOCS = os.path.join(REPOSITORY, "docs", "configuration.md")


class ReferenceTests(SynchronousTestCase):
    """
    ``docs/configuration.md`` documents every option.
    """

    def test_every_option_documented(self) -> None:
        """
        Each option has a row in the reference table naming the option, its
        environment variable and its TOML key; rewrite the table with
        ``python -m twisted_pypi.app.optionstable docs/configuration.md``.
        """
        with open(DOCS, encoding="utf-8") as f:
            rows = [line for line in f if line.startswith("| `--")]
        documented = {row.split("`")[1]: row for row in rows}
        for spec in option_specs(Options()):
            row = documented.get(f"--{spec.name}")
            self.assertIsNotNone(row, f"--{spec.name} is not in {DOCS}")
            assert row is not None
            self.assertIn(f"`{spec.env}`", row)
            self.assertIn(f"`{spec.name}`", row)
        self.assertIn("`PYPIPROXY_CONFIG`", documented["--config"])

    def test_table_matches_options(self) -> None:
        """
        The generated table lists each option once with its default, and
        :func:`update_table` puts it between the markers, replacing the old
        one.
        """
        table = reference_table(Options())
        self.assertEqual(table.count("| `--index-ttl` |"), 1)
        self.assertIn(
            "| `PYPIPROXY_INDEX_TTL` | `index-ttl` (string or number) | 600 |", table
        )
        text = f"intro\n{TABLE_START}\nold table\n{TABLE_END}\nrest\n"
        updated = update_table(text, table)
        self.assertNotIn("old table", updated)
        self.assertTrue(updated.startswith(f"intro\n{TABLE_START}\n\n| option"))
        self.assertTrue(updated.endswith(f"{TABLE_END}\nrest\n"))
        self.assertRaises(ValueError, update_table, "no markers", table)

    def test_docs_up_to_date(self) -> None:
        """
        The table in ``docs/configuration.md`` is the one generated from
        the options, between the markers.
        """
        with open(DOCS, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(update_table(text, reference_table(Options())), text)


class MainTests(SynchronousTestCase):
    """
    ``python -m twisted_pypi.app.optionstable [FILE]``.
    """

    def test_print(self) -> None:
        """
        Without an argument the table is printed.
        """
        out = io.StringIO()
        self.patch(sys, "stdout", out)
        self.assertEqual(main([]), 0)
        self.assertEqual(out.getvalue(), reference_table(Options()))

    def test_rewrite(self) -> None:
        """
        With a file, the table between its markers is rewritten and the rest
        is kept.
        """
        path = FilePath(self.mktemp())
        old = f"intro\n{TABLE_START}\nOLD TABLE\n{TABLE_END}\nrest\n"
        path.setContent(old.encode())
        self.assertEqual(main([path.path]), 0)
        text = path.getContent().decode()
        self.assertEqual(
            text,
            update_table(
                f"intro\n{TABLE_START}\n{TABLE_END}\nrest\n", reference_table(Options())
            ),
        )
        self.assertNotIn("OLD TABLE", text)
