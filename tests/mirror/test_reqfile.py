"""
Tests for :mod:`twisted_pypi.mirror.reqfile`: the requirements-file parser
of ``pypiproxy warm`` and the build requirements of sdists.
"""

from __future__ import annotations

from twisted.python.filepath import FilePath
from twisted.trial.unittest import SynchronousTestCase

from tests.wheels import build_sdist
from twisted_pypi.mirror.reqfile import (
    DEFAULT_BUILD_REQUIRES,
    RequirementsError,
    build_requirements,
    parse_requirements_file,
)


def write(directory: FilePath[str], name: str, text: str) -> str:
    """
    Write a file in ``directory`` (created if needed).

    :return: Its path.
    """
    directory.makedirs(ignoreExistingDirectory=True)
    directory.child(name).setContent(text.encode())
    return directory.child(name).path


class RequirementsFileTests(SynchronousTestCase):
    """
    :func:`parse_requirements_file`.
    """

    def parse(self, text: str, **others: str) -> tuple[list[str], list[str]]:
        """
        Parse ``text`` as ``requirements.txt`` beside the files ``others``
        (name to text).

        :return: The requirements as strings, and the warnings.
        """
        folder = FilePath(self.mktemp())
        for name, content in others.items():
            write(folder, name, content)
        parsed = parse_requirements_file(write(folder, "requirements.txt", text))
        return [str(r) for r in parsed.requirements], list(parsed.warnings)

    def error(self, text: str) -> str:
        """
        The message of the error that parsing ``text`` raises.
        """
        path = write(FilePath(self.mktemp()), "requirements.txt", text)
        return str(self.assertRaises(RequirementsError, parse_requirements_file, path))

    def test_requirements_comments_and_blanks(self) -> None:
        """
        Each requirement line gives one requirement with its extras,
        specifiers and marker; comments (whole lines and trailing ones) and
        blank lines give nothing.
        """
        found, warnings = self.parse(
            "# the app\n\nrequests[socks]>=2.31  # pinned below 3\n"
            "  torch==2.3.1 ; sys_platform == 'linux'\n"
        )
        self.assertEqual(
            found,
            ["requests[socks]>=2.31", 'torch==2.3.1; sys_platform == "linux"'],
        )
        self.assertEqual(warnings, [])

    def test_continuation(self) -> None:
        """
        A line ending in a backslash continues on the next line.
        """
        found, _ = self.parse("requests\\\n  >=2.31 \\\n ,<3\nattrs\n")
        self.assertEqual(found, ["requests<3,>=2.31", "attrs"])

    def test_includes(self) -> None:
        """
        ``-r``, ``-rFILE``, ``--requirement FILE`` and ``--requirement=FILE``
        include other files, relative to the including file, in order.
        """
        found, _ = self.parse(
            "first\n-r a.txt\n-rb.txt\n--requirement c.txt\n--requirement=d.txt\n",
            **{"a.txt": "alpha\n", "b.txt": "beta\n", "c.txt": "gamma\n"},
            **{"d.txt": "delta\n"},
        )
        self.assertEqual(found, ["first", "alpha", "beta", "gamma", "delta"])
        self.assertIn("cannot read", self.error("-r missing.txt\n"))

    def test_nested_include_relative_to_includer(self) -> None:
        """
        A file included from a subdirectory includes relative to itself.
        """
        folder = FilePath(self.mktemp())
        write(folder.child("sub"), "d.txt", "-r e.txt\n")
        write(folder.child("sub"), "e.txt", "delta\n")
        path = write(folder, "requirements.txt", "-r sub/d.txt\n")
        parsed = parse_requirements_file(path)
        self.assertEqual([str(r) for r in parsed.requirements], ["delta"])

    def test_include_loop(self) -> None:
        """
        A file that includes itself (through another) is refused.
        """
        folder = FilePath(self.mktemp())
        write(folder, "b.txt", "-r requirements.txt\n")
        path = write(folder, "requirements.txt", "-r b.txt\n")
        error = self.assertRaises(RequirementsError, parse_requirements_file, path)
        self.assertIn("makes a loop", str(error))

    def test_index_options_ignored(self) -> None:
        """
        Index options are ignored with one warning each, naming the file,
        line and option; their values are not taken as requirements.
        """
        found, warnings = self.parse(
            "--index-url https://example.com/simple/\n-i https://x/\n"
            "--extra-index-url=https://y/\n--no-index\n-f ./wheels\nattrs\n"
        )
        self.assertEqual(found, ["attrs"])
        self.assertEqual(len(warnings), 5)
        self.assertIn("requirements.txt:1: ignored --index-url", warnings[0])
        self.assertIn("requirements.txt:4: ignored --no-index", warnings[3])

    def test_hashes_dropped(self) -> None:
        """
        ``--hash`` options of a requirement (as pip-compile writes them, over
        continued lines) are dropped; the requirement stays.
        """
        found, _ = self.parse(
            "attrs==23.1 \\\n    --hash=sha256:aaaa \\\n    --hash sha256:bbbb\n"
        )
        self.assertEqual(found, ["attrs==23.1"])

    def test_other_options_refused(self) -> None:
        """
        Any other pip option is refused with the file, the line and the
        option.
        """
        for text, option in [
            ("attrs\n-e .\n", "-e"),
            ("--pre\n", "--pre"),
            ("-c constraints.txt\n", "-c"),
            ("attrs --config-settings x=y\n", "--config-settings"),
        ]:
            message = self.error(text)
            self.assertIn("requirements.txt:", message)
            self.assertIn(option, message)
            self.assertIn("not supported by warm", message)

    def test_urls_and_paths_refused(self) -> None:
        """
        A requirement naming a URL, or a path, is refused: warm fetches
        projects from indexes only.
        """
        self.assertIn(
            "names a URL", self.error("attrs @ https://example.com/attrs.whl\n")
        )
        self.assertIn("is a path", self.error("./local/project\n"))
        self.assertIn("is a path", self.error("attrs-23.1-py3-none-any.whl\n"))

    def test_invalid_requirement(self) -> None:
        """
        A line that is not a requirement is refused with its line number.
        """
        message = self.error("attrs\n\nnot a requirement!\n")
        self.assertIn("requirements.txt:3:", message)
        self.assertIn("is not a requirement", message)


class BuildRequirementsTests(SynchronousTestCase):
    """
    :func:`build_requirements`.
    """

    def test_declared(self) -> None:
        """
        An sdist's ``[build-system] requires`` is what building it needs.
        """
        sdist = build_sdist(
            "x", "1.0", buildable=True, build_requires=["flit_core>=3.2", "tool"]
        )
        self.assertEqual(
            build_requirements(sdist.content, sdist.filename),
            ("flit_core>=3.2", "tool"),
        )

    def test_in_tree_backend(self) -> None:
        """
        An sdist with an in-tree backend and no requirements needs nothing.
        """
        sdist = build_sdist("x", "1.0", buildable=True)
        self.assertEqual(build_requirements(sdist.content, sdist.filename), ())

    def test_no_pyproject(self) -> None:
        """
        An sdist without ``pyproject.toml`` needs what pip assumes then.
        """
        sdist = build_sdist("x", "1.0")
        self.assertEqual(
            build_requirements(sdist.content, sdist.filename), DEFAULT_BUILD_REQUIRES
        )

    def test_unreadable(self) -> None:
        """
        Bytes that are no sdist give ``None``.
        """
        self.assertIsNone(build_requirements(b"not a tarball", "x-1.0.tar.gz"))
