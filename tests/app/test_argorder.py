"""
Tests for :mod:`twisted_pypi.app.argorder`: options before and after
positional arguments, in every ``pypiproxy`` command.
"""

from __future__ import annotations

import os

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from tests.app.cachefill import fill_cache
from twisted_pypi.app.argorder import GnuOptions, gnu_order
from twisted_pypi.app.cli import Options


class _Leaf(GnuOptions):
    """Options with a flag, a parameter, a short option and arguments."""

    optFlags = [["all", "a", "All."]]
    optParameters = [["dir", "d", None, "A directory."]]

    def parseArgs(self, *args: str) -> None:
        self["args"] = args


class _Parent(GnuOptions):
    """Options with one subcommand, :class:`_Leaf`."""

    optFlags = [["quiet", "q", "Quiet."]]
    subCommands = [["leaf", None, _Leaf, "The leaf."]]


class GnuOrderTests(SynchronousTestCase):
    """
    :func:`gnu_order` and :class:`GnuOptions`.
    """

    def test_options_after_arguments(self) -> None:
        """
        Options after positional arguments are read; the arguments keep
        their order.
        """
        options = _Leaf()
        options.parseOptions(["x", "--dir", "D", "y", "-a"])
        self.assertEqual(options["dir"], "D")
        self.assertTrue(options["all"])
        self.assertEqual(options["args"], ("x", "y"))

    def test_double_dash_ends_options(self) -> None:
        """
        After ``--`` everything is a positional argument, even what looks
        like an option.
        """
        options = _Leaf()
        options.parseOptions(["x", "--", "--dir", "-a"])
        self.assertEqual(options["args"], ("x", "--dir", "-a"))
        self.assertIsNone(options["dir"])

    def test_short_option_value(self) -> None:
        """
        A short option's value stays with it.
        """
        self.assertEqual(
            gnu_order(_Leaf(), ["x", "-d", "-y", "z"]), ["-d", "-y", "--", "x", "z"]
        )

    def test_unknown_option_anywhere(self) -> None:
        """
        An unknown option after the arguments is a usage error naming it.
        """
        e = self.assertRaises(usage.UsageError, _Leaf().parseOptions, ["x", "--bogus"])
        self.assertIn("--bogus", str(e))

    def test_subcommand_option_before_subcommand(self) -> None:
        """
        An option of the subcommand given before the subcommand's name is
        the subcommand's; the parent's own options stay with the parent.
        """
        options = _Parent()
        options.parseOptions(["-q", "--dir", "D", "leaf", "x", "-a"])
        self.assertTrue(options["quiet"])
        self.assertEqual(options.subCommand, "leaf")
        self.assertEqual(options.subOptions["dir"], "D")
        self.assertTrue(options.subOptions["all"])
        self.assertEqual(options.subOptions["args"], ("x",))

    def test_subcommand_name_as_value(self) -> None:
        """
        The subcommand's name given as an option's value is that value.
        """
        options = _Parent()
        options.parseOptions(["--dir", "leaf", "leaf", "x"])
        self.assertEqual(options.subOptions["dir"], "leaf")
        self.assertEqual(options.subOptions["args"], ("x",))


class TypedValueTests(SynchronousTestCase):
    """
    A value that an option's type refuses is an error naming the option.
    """

    def test_named(self) -> None:
        """
        ``--timeout abc`` and ``warm --concurrency 0`` name the option and
        the value.
        """
        for argv, message in (
            (["serve", "--timeout", "abc"], "--timeout: 'abc' is not a number"),
            (["serve", "--cache-size", "12Q"], "--cache-size: '12Q' is not a size"),
            (["warm", "x", "--concurrency", "0"], "--concurrency: '0': use 1 or more"),
            (["analyze", "x", "--top", "z"], "--top: 'z' is not a whole number"),
        ):
            e = self.assertRaises(usage.UsageError, Options().parseOptions, argv)
            self.assertIn(message, str(e), argv)


class CommandOrderTests(SynchronousTestCase):
    """
    The ``pypiproxy`` commands take options before and after their
    positional arguments.
    """

    def setUp(self) -> None:
        self.cache = self.mktemp()
        os.makedirs(self.cache)

    def test_export_directory_then_options(self) -> None:
        """
        ``pypiproxy export DIR --cache-dir C`` exports from C to DIR.
        """
        fill_cache(self.cache)
        options = Options()
        options.parseOptions(["export", "out", "--cache-dir", self.cache])
        self.assertEqual(options.subOptions["directory"], os.path.abspath("out"))
        self.assertEqual(
            options.subOptions["config"].cache_dir, os.path.abspath(self.cache)
        )

    def test_global_cache_dir(self) -> None:
        """
        ``pypiproxy --cache-dir C export DIR`` is ``export``'s --cache-dir.
        """
        fill_cache(self.cache)
        options = Options()
        options.parseOptions(["--cache-dir", self.cache, "export", "out"])
        self.assertEqual(options.subCommand, "export")
        self.assertEqual(
            options.subOptions["config"].cache_dir, os.path.abspath(self.cache)
        )

    def test_analyze_project_then_index(self) -> None:
        """
        ``pypiproxy analyze PROJECT --index URL`` analyzes PROJECT on URL.
        """
        options = Options()
        options.parseOptions(
            [
                "analyze",
                "torch",
                "--index",
                "http://127.0.0.1:1/simple/",
                "--cache-dir",
                self.cache,
            ]
        )
        (requirement,) = options.subOptions["requirements"]
        self.assertEqual(requirement.name, "torch")
        (index,) = options.subOptions["config"].indexes
        self.assertEqual(index.url, "http://127.0.0.1:1/simple/")

    def test_warm_short_option_after_requirement(self) -> None:
        """
        ``pypiproxy warm REQ -r FILE`` reads both.
        """
        requirements = self.mktemp()
        with open(requirements, "w") as f:
            f.write("attrs\n")
        options = Options()
        options.parseOptions(
            ["warm", "six", "-r", requirements, "--cache-dir", self.cache]
        )
        names = [r.name for r in options.subOptions["requirements"]]
        self.assertEqual(names, ["attrs", "six"])

    def test_cache_list_project_then_cache_dir(self) -> None:
        """
        ``pypiproxy cache list PROJECT --cache-dir C`` lists from C.
        """
        options = Options()
        options.parseOptions(["cache", "list", "six", "--cache-dir", self.cache])
        sub = options.subOptions.subOptions
        self.assertEqual(sub["projects"], ["six"])
        self.assertEqual(sub["cache-dir"], os.path.abspath(self.cache))

    def test_passwd_option_after_arguments(self) -> None:
        """
        ``pypiproxy passwd FILE USER --rounds 4`` reads the rounds.
        """
        options = Options()
        options.parseOptions(["passwd", "users", "alice", "--rounds", "4"])
        self.assertEqual(options.subOptions["rounds"], 4)
        self.assertEqual(options.subOptions["user"], "alice")


class SynopsisTests(SynchronousTestCase):
    """
    A command's usage line names the program, the commands leading to it
    and its own synopsis once.
    """

    def test_nested_command(self) -> None:
        """
        ``pypiproxy policy explain`` and ``pypiproxy warm`` say so, without
        the program's own ``<command> [options]``; the program's line is
        unchanged.
        """
        options = Options()
        options.parseOptions(["policy", "explain", "--index", "https://i.test/", "p"])
        explain = options.subOptions.subOptions
        self.assertEqual(
            explain.getSynopsis(), "pypiproxy policy explain [options] PROJECT"
        )
        self.assertEqual(Options().getSynopsis(), "pypiproxy <command> [options]")
