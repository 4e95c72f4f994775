"""
Tests for :mod:`twisted_pypi.resolve.target`: the tags and marker environment of
the running interpreter or of an explicit Python version and platform.
"""

from __future__ import annotations

import sys

from packaging.markers import Marker
from packaging.tags import Tag, parse_tag, sys_tags
from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.resolve.target import (
    Target,
    compatible_platforms,
    platform_environment,
)


def tags(text: str) -> frozenset[Tag]:
    """The tags of a compressed tag set such as ``py2.py3-none-any``."""
    return parse_tag(text)


class CurrentTargetTests(SynchronousTestCase):
    """
    :meth:`Target.current` and a partly given target.
    """

    def test_running_interpreter(self) -> None:
        """
        The default target is this interpreter: its version and the tags
        ``packaging`` computes for it.
        """
        target = Target.create()
        self.assertEqual(
            target.python_version, f"{sys.version_info[0]}.{sys.version_info[1]}"
        )
        self.assertEqual(target.tags, tuple(sys_tags()))
        self.assertIsNone(target.platform)
        self.assertIn("this machine", target.describe())

    def test_platform_only(self) -> None:
        """
        A platform alone keeps the running Python's exact version.
        """
        target = Target.create(platform="win_amd64")
        here = Target.current()
        self.assertEqual(target.python_full_version, here.python_full_version)
        self.assertEqual(target.python_version, here.python_version)
        self.assertEqual(target.environment["sys_platform"], "win32")

    def test_python_version_only(self) -> None:
        """
        A Python version alone keeps this machine's platforms and marker
        values but changes the Python in both.
        """
        target = Target.create("3.9")
        here = Target.current()
        self.assertEqual(target.environment["python_version"], "3.9")
        self.assertEqual(target.environment["python_full_version"], "3.9.0")
        self.assertEqual(
            target.environment["sys_platform"], here.environment["sys_platform"]
        )
        self.assertEqual(target.tags[0].interpreter, "cp39")
        self.assertEqual(target.tags[0].platform, here.tags[0].platform)


class ExplicitTargetTests(SynchronousTestCase):
    """
    :meth:`Target.create` with a platform tag.
    """

    def test_windows_environment(self) -> None:
        """
        ``win_amd64`` is Windows on AMD64 as the markers name them.
        """
        env = Target.create("3.11", "win_amd64").environment
        self.assertEqual(env["sys_platform"], "win32")
        self.assertEqual(env["platform_system"], "Windows")
        self.assertEqual(env["platform_machine"], "AMD64")
        self.assertEqual(env["os_name"], "nt")
        self.assertEqual(env["implementation_name"], "cpython")
        self.assertEqual(env["python_version"], "3.11")
        self.assertEqual(env["python_full_version"], "3.11.0")

    def test_windows_tags(self) -> None:
        """
        A Windows target takes CPython and pure wheels for Windows, not
        Linux ones, and prefers the binary wheel.
        """
        target = Target.create("3.11", "win_amd64")
        binary = target.rank(tags("cp311-cp311-win_amd64"))
        pure = target.rank(tags("py3-none-any"))
        assert binary is not None and pure is not None
        self.assertLess(binary, pure)
        self.assertIsNotNone(target.rank(tags("cp38-abi3-win_amd64")))
        self.assertIsNone(target.rank(tags("cp311-cp311-manylinux_2_17_x86_64")))
        self.assertIsNone(target.rank(tags("cp312-cp312-win_amd64")))

    def test_manylinux_takes_older_glibc(self) -> None:
        """
        A ``manylinux_2_28`` machine takes wheels for older glibc versions
        and their legacy names, not newer ones.
        """
        target = Target.create("3.11", "manylinux_2_28_x86_64")
        for tag in (
            "cp311-cp311-manylinux_2_28_x86_64",
            "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
            "cp311-cp311-manylinux1_x86_64",
        ):
            self.assertIsNotNone(target.rank(tags(tag)), tag)
        self.assertIsNone(target.rank(tags("cp311-cp311-manylinux_2_34_x86_64")))
        self.assertIsNone(target.rank(tags("cp311-cp311-manylinux_2_28_aarch64")))
        self.assertEqual(target.environment["platform_machine"], "x86_64")
        self.assertEqual(target.environment["platform_system"], "Linux")

    def test_legacy_manylinux_name(self) -> None:
        """
        ``manylinux2014_aarch64`` is understood as ``manylinux_2_17_aarch64``.
        """
        platforms = compatible_platforms("manylinux2014_aarch64")
        self.assertEqual(platforms[0], "manylinux_2_17_aarch64")
        self.assertIn("manylinux2014_aarch64", platforms)
        self.assertEqual(
            platform_environment("manylinux2014_aarch64")["platform_machine"],
            "aarch64",
        )

    def test_macos(self) -> None:
        """
        A macOS 11 arm64 machine is ``darwin``/``arm64`` and takes universal2
        wheels for older macOS versions, not x86_64 ones.
        """
        target = Target.create("3.12", "macosx_11_0_arm64")
        self.assertEqual(target.environment["sys_platform"], "darwin")
        self.assertEqual(target.environment["platform_machine"], "arm64")
        self.assertIsNotNone(target.rank(tags("cp312-cp312-macosx_10_9_universal2")))
        self.assertIsNone(target.rank(tags("cp312-cp312-macosx_10_9_x86_64")))

    def test_musllinux(self) -> None:
        """
        A ``musllinux_1_2`` machine is Linux and takes ``musllinux_1_1`` but
        not ``manylinux`` wheels.
        """
        target = Target.create("3.11", "musllinux_1_2_x86_64")
        self.assertEqual(target.environment["sys_platform"], "linux")
        self.assertIsNotNone(target.rank(tags("cp311-cp311-musllinux_1_1_x86_64")))
        self.assertIsNone(target.rank(tags("cp311-cp311-manylinux_2_17_x86_64")))

    def test_bad_python_version(self) -> None:
        """
        Anything but a Python 3 ``X.Y[.Z]`` version is refused with a message
        showing the form.
        """
        for text in ("three", "2.7", "3", "3.11.x"):
            with self.assertRaises(ValueError) as caught:
                Target.create(text, "win_amd64")
            self.assertIn("X.Y", str(caught.exception))

    def test_bad_platform(self) -> None:
        """
        An unknown platform tag is refused with a message listing the
        understood forms.
        """
        with self.assertRaises(ValueError) as caught:
            Target.create("3.11", "solaris_sparc")
        self.assertIn("'solaris_sparc'", str(caught.exception))
        self.assertIn("win_amd64", str(caught.exception))


class TargetChecksTests(SynchronousTestCase):
    """
    :meth:`Target.allows_python` and :meth:`Target.evaluate`.
    """

    def test_requires_python(self) -> None:
        """
        ``requires-python`` is checked against the full version, ``3.11``
        meaning ``3.11.0``; an empty or invalid value allows everything.
        """
        target = Target.create("3.11", "win_amd64")
        self.assertTrue(target.allows_python(">=3.8"))
        self.assertFalse(target.allows_python(">=3.12"))
        self.assertFalse(target.allows_python(">=3.11.1"))
        self.assertTrue(target.allows_python(None))
        self.assertTrue(target.allows_python(""))
        self.assertTrue(target.allows_python(">=3.x"))

    def test_markers(self) -> None:
        """
        Markers see the target's platform and Python, and ``extra`` only
        when given.
        """
        target = Target.create("3.11", "win_amd64")
        self.assertTrue(target.evaluate(Marker('sys_platform == "win32"')))
        self.assertFalse(target.evaluate(Marker('python_version < "3.10"')))
        self.assertTrue(target.evaluate(None))
        socks = Marker('extra == "socks"')
        self.assertFalse(target.evaluate(socks))
        self.assertTrue(target.evaluate(socks, "socks"))
