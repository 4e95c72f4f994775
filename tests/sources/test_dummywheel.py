"""
Tests for :mod:`twisted_pypi.sources.dummywheel`: the ``--dummy`` syntax and the wheels.

Installing the wheels with real installers is in
:mod:`tests.e2e.test_dummy_install`.
"""

from __future__ import annotations

import base64
import email.parser
import hashlib
import io
import os
import subprocess
import sys
import types
import zipfile

from packaging.tags import Tag
from packaging.utils import parse_wheel_filename
from packaging.version import Version
from twisted.trial.unittest import SynchronousTestCase

from tests import REPOSITORY
from twisted_pypi.core.dummyspec import (
    DummySpec,
    ImportMode,
    parse_dummy_spec,
)
from twisted_pypi.sources.dummywheel import DummyWheel, build_dummy_wheel

ROOT = REPOSITORY

#: The sha256 of ``build_dummy_wheel(DummySpec("torch", mode=STUB), "2.3.1",
#: ">=3.8")``.  Published hashes end up in lockfiles, so a change here is a
#: compatibility event: update it only on purpose.
GOLDEN_SHA256 = "a857629b6b9c233e18d5d631cd668e679d0b8adc3275e128364d9726598d0687"


def read(wheel: DummyWheel) -> dict[str, bytes]:
    """
    Every file in ``wheel``, by path, in archive order.
    """
    with zipfile.ZipFile(io.BytesIO(wheel.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def headers(metadata: bytes) -> email.message.Message:
    """
    The ``METADATA`` header block, parsed the way installers read it.
    """
    return email.parser.BytesParser().parsebytes(metadata)


def stub(spec: DummySpec, version: str = "2.3.1") -> types.ModuleType:
    """
    Run a stub wheel's ``__init__.py`` as a fresh module, without installing.
    """
    files = read(build_dummy_wheel(spec, version, None))
    path = spec.module.replace(".", "/") + "/__init__.py"
    module = types.ModuleType(spec.module)
    exec(compile(files[path], path, "exec"), module.__dict__)
    return module


class WheelTests(SynchronousTestCase):
    """
    :func:`build_dummy_wheel` makes a valid, self-consistent wheel.
    """

    def test_filename(self) -> None:
        """
        The filename is ``{name}-{version}-py3-none-any.whl`` with the name
        in wheel form, and parses back to the project and version.
        """
        for project, version, filename in [
            ("torch", "2.3.1", "torch-2.3.1-py3-none-any.whl"),
            ("opencv-python", "4.9.0.80", "opencv_python-4.9.0.80-py3-none-any.whl"),
            ("torch", "2.4.0rc1", "torch-2.4.0rc1-py3-none-any.whl"),
            ("torch", "2.3.1+cpu", "torch-2.3.1+cpu-py3-none-any.whl"),
            ("torch", "1!2.0", "torch-1!2.0-py3-none-any.whl"),
        ]:
            wheel = build_dummy_wheel(DummySpec(project), version, None)
            self.assertEqual(wheel.filename, filename)
            self.assertEqual(
                parse_wheel_filename(wheel.filename),
                (project, Version(version), (), frozenset([Tag("py3", "none", "any")])),
            )

    def test_metadata_matches_filename(self) -> None:
        """
        ``METADATA`` names the project and the version exactly as in the
        filename, has a one-line summary and no dependencies, and the
        ``metadata`` attribute is that file byte for byte.
        """
        for version in ("2.3.1", "2.4.0rc1", "2.3.1+cpu", "2.4.0RC1"):
            for mode in ImportMode:
                wheel = build_dummy_wheel(DummySpec("torch", mode=mode), version, None)
                files = read(wheel)
                self.assertEqual(
                    files[f"torch-{version}.dist-info/METADATA"], wheel.metadata
                )
                parsed = headers(wheel.metadata)
                self.assertEqual(parsed["Metadata-Version"], "2.1")
                self.assertEqual(parsed["Name"], "torch")
                self.assertEqual(parsed["Version"], version)
                self.assertEqual(wheel.filename.split("-")[1], version)
                self.assertIsNone(parsed["Requires-Dist"])
                self.assertIn("Placeholder for torch", parsed["Summary"])
                self.assertIn("twisted-pypi", parsed["Summary"])
                self.assertNotIn("\n", parsed["Summary"])

    def test_description(self) -> None:
        """
        The description says what the placeholder does and how to get the
        real package.
        """
        absent = build_dummy_wheel(DummySpec("torch"), "2.3.1", None)
        body = headers(absent.metadata).get_payload()
        assert isinstance(body, str)
        self.assertIn("ModuleNotFoundError", body)
        self.assertIn("install it from PyPI directly", body)
        self.assertIn("remove `--dummy torch`", body)
        spec = DummySpec("torch", mode=ImportMode.STUB)
        body = headers(build_dummy_wheel(spec, "2.3.1", None).metadata).get_payload()
        assert isinstance(body, str)
        self.assertIn("`import torch` works", body)

    def test_properties(self) -> None:
        """
        ``sha256``, ``metadata_sha256`` and ``size`` describe the bytes.
        """
        wheel = build_dummy_wheel(DummySpec("torch"), "2.3.1", None)
        self.assertEqual(wheel.sha256, hashlib.sha256(wheel.content).hexdigest())
        self.assertEqual(
            wheel.metadata_sha256, hashlib.sha256(wheel.metadata).hexdigest()
        )
        self.assertEqual(wheel.size, len(wheel.content))

    def test_requires_python(self) -> None:
        """
        ``Requires-Python`` is mirrored, kept on one line, and left out when
        not given or empty.
        """

        def requires(value: str | None) -> str | None:
            wheel = build_dummy_wheel(DummySpec("torch"), "2.3.1", value)
            return headers(wheel.metadata)["Requires-Python"]

        self.assertEqual(requires(">=3.8"), ">=3.8")
        self.assertEqual(requires(">=3.8,\n<3.13"), ">=3.8, <3.13")
        self.assertIsNone(requires(None))
        self.assertIsNone(requires(" "))

    def test_invalid_requires_python(self) -> None:
        """
        An invalid ``Requires-Python`` raises ``ValueError``.
        """
        for value in (">=3.8\nRequires-Dist: x", "3.8", ">=3.8;"):
            self.assertRaises(
                ValueError, build_dummy_wheel, DummySpec("torch"), "2.3.1", value
            )

    def test_invalid_version(self) -> None:
        """
        A version that is not PEP 440 or cannot stand in a filename as
        written raises ``ValueError``.
        """
        for version in ("banana", "2.3.1 ", "2.3.1\n", "1.0-1", "2.*"):
            self.assertRaises(
                ValueError, build_dummy_wheel, DummySpec("torch"), version, None
            )

    def test_record(self) -> None:
        """
        ``RECORD`` lists every file with its sha256 and size, and itself
        with neither.
        """
        spec = DummySpec("acme-core", mode=ImportMode.STUB, module="acme.core")
        files = read(build_dummy_wheel(spec, "1.0", ">=3.8"))
        lines = files.pop("acme_core-1.0.dist-info/RECORD").decode().splitlines()
        self.assertEqual(lines[-1], "acme_core-1.0.dist-info/RECORD,,")
        listed = {}
        for line in lines[:-1]:
            path, digest, size = line.split(",")
            listed[path] = (digest, int(size))
        self.assertEqual(set(listed), set(files))
        for path, data in files.items():
            expected = hashlib.sha256(data).digest()
            algorithm, _, encoded = listed[path][0].partition("=")
            self.assertEqual(algorithm, "sha256")
            self.assertNotIn("=", encoded)
            self.assertEqual(base64.urlsafe_b64decode(encoded + "="), expected)
            self.assertEqual(listed[path][1], len(data))

    def test_absent_contents(self) -> None:
        """
        An absent-mode wheel holds only metadata: ``top_level.txt`` is empty
        and there is no INSTALLER or ``direct_url.json``.
        """
        files = read(build_dummy_wheel(DummySpec("torch"), "2.3.1", None))
        info = "torch-2.3.1.dist-info/"
        self.assertEqual(
            list(files),
            [
                info + "METADATA",
                info + "WHEEL",
                info + "top_level.txt",
                info + "RECORD",
            ],
        )
        self.assertEqual(files[info + "top_level.txt"], b"")

    def test_stub_contents(self) -> None:
        """
        A stub wheel adds ``<module>/__init__.py`` and names the module in
        ``top_level.txt``.
        """
        spec = DummySpec("opencv-python", mode=ImportMode.STUB)
        files = read(build_dummy_wheel(spec, "4.9.0.80", None))
        info = "opencv_python-4.9.0.80.dist-info/"
        self.assertEqual(
            list(files),
            [
                "cv2/__init__.py",
                info + "METADATA",
                info + "WHEEL",
                info + "top_level.txt",
                info + "RECORD",
            ],
        )
        self.assertEqual(files[info + "top_level.txt"], b"cv2\n")

    def test_dotted_stub(self) -> None:
        """
        A dotted module creates only the leaf package's ``__init__.py``,
        leaving its parents namespace packages.
        """
        spec = DummySpec("acme-core", mode=ImportMode.STUB, module="acme.core")
        files = read(build_dummy_wheel(spec, "1.0", None))
        self.assertIn("acme/core/__init__.py", files)
        self.assertEqual(
            [p for p in files if not p.startswith("acme_core-")],
            ["acme/core/__init__.py"],
        )
        self.assertEqual(files["acme_core-1.0.dist-info/top_level.txt"], b"acme\n")

    def test_wheel_file(self) -> None:
        """
        ``WHEEL`` declares a pure ``py3-none-any`` wheel made by twisted-pypi.
        """
        files = read(build_dummy_wheel(DummySpec("torch"), "2.3.1", None))
        self.assertEqual(
            files["torch-2.3.1.dist-info/WHEEL"],
            b"Wheel-Version: 1.0\nGenerator: twisted-pypi\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        )

    def test_zip_entries(self) -> None:
        """
        Every entry is stored uncompressed with a fixed date, mode and
        creating system.
        """
        spec = DummySpec("torch", mode=ImportMode.STUB)
        wheel = build_dummy_wheel(spec, "2.3.1", None)
        with zipfile.ZipFile(io.BytesIO(wheel.content)) as archive:
            self.assertIsNone(archive.testzip())
            for info in archive.infolist():
                self.assertEqual(info.compress_type, zipfile.ZIP_STORED)
                self.assertEqual(info.date_time, (1980, 1, 1, 0, 0, 0))
                self.assertEqual(info.external_attr, 0o100644 << 16)
                self.assertEqual(info.create_system, 3)


class UpstreamFilenameTests(SynchronousTestCase):
    """
    With ``upstream_filename`` the dummy imitates one upstream wheel.
    """

    def build(self, filename: str, version: str = "2.3.1+cpu") -> dict[str, bytes]:
        """
        The files of a ``torch`` dummy imitating ``filename``.
        """
        wheel = build_dummy_wheel(
            DummySpec("torch"), version, ">=3.8", upstream_filename=filename
        )
        self.assertEqual(wheel.filename, filename)
        return read(wheel)

    def test_platform_tags(self) -> None:
        """
        The filename is kept exactly and ``WHEEL`` lists its tag.
        """
        files = self.build("torch-2.3.1+cpu-cp311-cp311-linux_x86_64.whl")
        self.assertIn(
            b"\nTag: cp311-cp311-linux_x86_64\n",
            files["torch-2.3.1+cpu.dist-info/WHEEL"],
        )

    def test_compressed_tags_and_build(self) -> None:
        """
        A compressed tag set becomes one ``Tag`` line per tag, in order, and
        a build tag a ``Build`` line.
        """
        files = self.build("Torch-2.3.1+cpu-1-py2.py3-none-any.whl")
        self.assertEqual(
            files["Torch-2.3.1+cpu.dist-info/WHEEL"],
            b"Wheel-Version: 1.0\nGenerator: twisted-pypi\nRoot-Is-Purelib: true\n"
            b"Tag: py2-none-any\nTag: py3-none-any\nBuild: 1\n",
        )

    def test_version_as_in_filename(self) -> None:
        """
        ``METADATA`` spells the version as the filename does.
        """
        files = self.build("torch-2.3.1.0-py3-none-any.whl", version="2.3.1")
        metadata = headers(files["torch-2.3.1.0.dist-info/METADATA"])
        self.assertEqual(metadata["Version"], "2.3.1.0")

    def test_mismatch(self) -> None:
        """
        A filename of another project or version, or no wheel filename at
        all, raises ``ValueError``.
        """
        for filename in (
            "torchvision-2.3.1+cpu-py3-none-any.whl",
            "torch-2.3.2-py3-none-any.whl",
            "torch-2.3.1+cpu.tar.gz",
            "torch-2.3.1+cpu-1\n-py3-none-any.whl",
            "torch-2.3.1+cpu-py3-none.whl",
        ):
            self.assertRaises(
                ValueError,
                build_dummy_wheel,
                DummySpec("torch"),
                "2.3.1+cpu",
                None,
                upstream_filename=filename,
            )


class StubModuleTests(SynchronousTestCase):
    """
    The stub ``__init__.py`` imports but refuses every use.
    """

    def test_version(self) -> None:
        """
        The stub has the dummy's ``__version__`` and exports nothing.
        """
        module = stub(DummySpec("torch", mode=ImportMode.STUB))
        self.assertEqual(module.__version__, "2.3.1")
        self.assertEqual(module.__all__, [])

    def test_use_raises(self) -> None:
        """
        Any public attribute raises an error that is both a ``RuntimeError``
        and an ``AttributeError`` and says it is a placeholder.
        """
        module = stub(DummySpec("torch", mode=ImportMode.STUB))
        with self.assertRaises(RuntimeError) as raised:
            module.zeros(1)
        self.assertIsInstance(raised.exception, AttributeError)
        self.assertEqual(
            str(raised.exception),
            "torch 2.3.1 is a placeholder served by the twisted-pypi proxy"
            " (--dummy); install the real package from PyPI to use it"
            " (torch.zeros)",
        )

    def test_hasattr_false(self) -> None:
        """
        ``hasattr`` is false and ``getattr`` gives the default.
        """
        module = stub(DummySpec("torch", mode=ImportMode.STUB))
        self.assertFalse(hasattr(module, "cuda"))
        self.assertEqual(getattr(module, "_C", "default"), "default")

    def test_dunders(self) -> None:
        """
        Missing dunder names raise a plain ``AttributeError``, as any module.
        """
        module = stub(DummySpec("acme-core", mode=ImportMode.STUB, module="acme.core"))
        for name in ("__path__", "__wrapped__", "__torch_function__"):
            with self.assertRaises(AttributeError) as raised:
                getattr(module, name)
            self.assertIs(type(raised.exception), AttributeError)
            self.assertEqual(
                str(raised.exception), f"module 'acme.core' has no attribute '{name}'"
            )


class DeterminismTests(SynchronousTestCase):
    """
    The same inputs give the same bytes everywhere.
    """

    CASES = [
        ("torch", "2.3.1", ">=3.8", None),
        ("torch:stub", "2.3.1", ">=3.8", None),
        ("acme-core:stub:module=acme.core", "1.0rc1", None, None),
        ("torch", "2.3.1+cpu", None, "torch-2.3.1+cpu-1-py2.py3-none-any.whl"),
    ]

    def test_same_bytes(self) -> None:
        """
        Building twice gives identical bytes.
        """
        spec = DummySpec("torch", mode=ImportMode.STUB)
        first = build_dummy_wheel(spec, "2.3.1", ">=3.8")
        second = build_dummy_wheel(spec, "2.3.1", ">=3.8")
        self.assertEqual(first.content, second.content)
        self.assertEqual(first, second)

    def test_golden(self) -> None:
        """
        A reference wheel has the same sha256 as when this test was written,
        whatever the Python or ``zipfile`` version.
        """
        spec = DummySpec("torch", mode=ImportMode.STUB)
        self.assertEqual(
            build_dummy_wheel(spec, "2.3.1", ">=3.8").sha256, GOLDEN_SHA256
        )

    def test_other_processes(self) -> None:
        """
        Processes with other hash seeds, time zones and locales build the same
        wheels as this one.
        """
        expected = [
            build_dummy_wheel(
                parse_dummy_spec(text), version, python, upstream_filename=upstream
            ).sha256
            for text, version, python, upstream in self.CASES
        ]
        self.assertEqual(len(set(expected)), len(self.CASES))
        script = (
            "from twisted_pypi.core.dummyspec import parse_dummy_spec\n"
            "from twisted_pypi.sources.dummywheel import build_dummy_wheel\n"
            f"for text, version, python, upstream in {self.CASES!r}:\n"
            "    print(build_dummy_wheel(parse_dummy_spec(text), version, python,"
            " upstream_filename=upstream).sha256)\n"
        )
        for seed, tz, locale in [
            ("0", "UTC", "C"),
            ("4242", "Pacific/Kiritimati", "C.UTF-8"),
        ]:
            env = {
                "PYTHONPATH": ROOT,
                "PYTHONHASHSEED": seed,
                "TZ": tz,
                "LC_ALL": locale,
                "PATH": os.environ.get("PATH", ""),
            }
            result = subprocess.run(
                [sys.executable, "-c", script],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout.split(), expected)
