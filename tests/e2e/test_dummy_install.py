"""
Dummy wheels from :mod:`twisted_pypi.sources.dummywheel` installed by real installers
(pip and uv) into a real virtual environment, then imported there.

Each test class makes one environment, on first use, and installs all its
wheels with one installer run; nothing touches the network, a package index,
the user's caches or this machine's installer configuration.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING, Any, ClassVar

from packaging.tags import interpreter_name, interpreter_version
from packaging.version import Version
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from twisted_pypi.core.dummyspec import parse_dummy_spec
from twisted_pypi.sources.dummywheel import build_dummy_wheel

if TYPE_CHECKING:
    _TestCase = SynchronousTestCase
else:
    _TestCase = object

#: The wheels installed: spec, version, ``upstream_filename`` (the tags of the
#: running interpreter, as a platform-specific upstream wheel would have).
INSTALLED = [
    ("torch:stub", "2.3.1", None),
    ("torchaudio", "2.3.1+cpu", None),
    (
        "tensorflow",
        "2.16.0rc0",
        f"tensorflow-2.16.0rc0-1-{interpreter_name()}{interpreter_version()}"
        "-none-any.whl",
    ),
    ("acme-core:stub:module=acme.core", "1.0", None),
]


def clean_environment() -> dict[str, str]:
    """
    This process's environment without anything that configures pip, uv or
    Python, and with pip's configuration files ignored.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_", "PYTHON", "VIRTUAL_ENV", "CONDA"))
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull, UV_NO_CONFIG="1", UV_PYTHON_DOWNLOADS="never"
    )
    return env


def find_uv() -> str | None:
    """
    The uv executable from the ``uv`` package or the ``PATH``, if any.
    """
    try:
        from uv import find_uv_bin
    except ImportError:
        return shutil.which("uv")
    try:
        return str(find_uv_bin())
    except FileNotFoundError:
        return shutil.which("uv")


class _InstalledDummyTests(_TestCase):
    """
    What importing installed dummies does; subclasses choose the installer.
    """

    #: The environment's Python, once made; per subclass.
    python: ClassVar[str | None] = None

    @classmethod
    def install_command(cls, python: str, wheels: list[str]) -> list[str]:
        """
        The command that installs ``wheels`` into the environment of
        ``python``; raises ``SkipTest`` if the installer is missing.
        """
        raise NotImplementedError()

    @classmethod
    def environment(cls) -> str:
        """
        The Python of an environment with :data:`INSTALLED`, made on first use
        and removed when the test process exits.
        """
        if cls.python is not None:
            return cls.python
        directory = tempfile.mkdtemp(prefix="twisted-pypi-dummy-")
        atexit.register(shutil.rmtree, directory, True)
        wheels = []
        for text, version, upstream in INSTALLED:
            wheel = build_dummy_wheel(
                parse_dummy_spec(text), version, ">=3.8", upstream_filename=upstream
            )
            path = os.path.join(directory, wheel.filename)
            with open(path, "wb") as f:
                f.write(wheel.content)
            wheels.append(path)
        venv = os.path.join(directory, "venv")
        bindir = "Scripts" if sys.platform == "win32" else "bin"
        python = os.path.join(venv, bindir, "python")
        command = cls.install_command(python, wheels)
        env = clean_environment()
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", venv],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise AssertionError(f"{command} failed:\n{result.stdout}{result.stderr}")
        cls.python = python
        return python

    def probe(self, code: str) -> Any:
        """
        Run ``code`` in the environment; it prints one JSON value, returned.
        """
        result = subprocess.run(
            [self.environment(), "-c", code],
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def test_absent_not_importable(self) -> None:
        """
        An absent-mode dummy has no module: ``find_spec`` is ``None`` and the
        import raises ``ModuleNotFoundError``.
        """
        self.assertEqual(
            self.probe(
                "import importlib.util, json\n"
                "try:\n"
                "    import torchaudio\n"
                "    error = None\n"
                "except ImportError as e:\n"
                "    error = [type(e).__name__, e.name]\n"
                "print(json.dumps([importlib.util.find_spec('torchaudio'), error]))\n"
            ),
            [None, ["ModuleNotFoundError", "torchaudio"]],
        )

    def test_absent_installed(self) -> None:
        """
        The installed distribution has the dummy's version, the mirrored
        ``Requires-Python`` and no requirements, so dependents are satisfied.
        """
        self.assertEqual(
            self.probe(
                "import importlib.metadata as m, json\n"
                "d = m.distribution('torchaudio')\n"
                "print(json.dumps([d.version, d.metadata['Requires-Python'],"
                " d.requires]))\n"
            ),
            ["2.3.1+cpu", ">=3.8", None],
        )

    def test_interpreter_tagged_wheel(self) -> None:
        """
        A dummy named like an interpreter-specific upstream wheel with a build
        tag installs, and its pre-release version is recorded.
        """
        self.assertEqual(
            self.probe(
                "import importlib.metadata as m, importlib.util, json\n"
                "print(json.dumps([m.version('tensorflow'),"
                " importlib.util.find_spec('tensorflow')]))\n"
            ),
            ["2.16.0rc0", None],
        )

    def test_stub_version(self) -> None:
        """
        A stub imports and has the dummy's version.
        """
        self.assertEqual(
            self.probe(
                "import importlib.metadata as m, json, torch\n"
                "print(json.dumps([torch.__version__, m.version('torch')]))\n"
            ),
            ["2.3.1", "2.3.1"],
        )

    def test_stub_hasattr(self) -> None:
        """
        ``hasattr`` on a stub is false, and ``getattr`` gives the default.
        """
        self.assertEqual(
            self.probe(
                "import json, torch\n"
                "print(json.dumps([hasattr(torch, 'cuda'),"
                " getattr(torch, 'nn', 'default')]))\n"
            ),
            [False, "default"],
        )

    def test_stub_use_raises(self) -> None:
        """
        Using a stub raises an error, a ``RuntimeError`` and an
        ``AttributeError``, that says it is a placeholder from twisted-pypi.
        """
        kinds, message = self.probe(
            "import json, torch\n"
            "try:\n"
            "    torch.zeros(1)\n"
            "except Exception as e:\n"
            "    print(json.dumps([[isinstance(e, RuntimeError),"
            " isinstance(e, AttributeError)], str(e)]))\n"
        )
        self.assertEqual(kinds, [True, True])
        self.assertIn("placeholder", message)
        self.assertIn("twisted-pypi", message)
        self.assertIn("torch.zeros", message)

    def test_stub_machinery(self) -> None:
        """
        Import machinery sees an ordinary package: ``__spec__`` and
        ``__path__`` exist, a missing dunder is a plain ``AttributeError``,
        ``from torch import *`` works and a submodule is not found.
        """
        self.assertEqual(
            self.probe(
                "import json, torch\n"
                "from torch import *\n"
                "out = [torch.__spec__.name, len(torch.__path__)]\n"
                "try:\n"
                "    torch.__wrapped__\n"
                "except AttributeError as e:\n"
                "    out.append(type(e).__name__)\n"
                "try:\n"
                "    import torch.nn\n"
                "except ImportError as e:\n"
                "    out.append(type(e).__name__)\n"
                "print(json.dumps(out))\n"
            ),
            ["torch", 1, "AttributeError", "ModuleNotFoundError"],
        )

    def test_dotted_stub(self) -> None:
        """
        A dotted stub module installs under a namespace package: the leaf
        ``__init__.py`` exists, its parent's does not.
        """
        version, files, parent_file = self.probe(
            "import importlib.metadata as m, json, os, acme.core\n"
            "parent = os.path.dirname(os.path.dirname(acme.core.__file__))\n"
            "print(json.dumps([acme.core.__version__,"
            " sorted(str(f) for f in m.files('acme-core')"
            " if not str(f).startswith('acme_core-')"
            " and '__pycache__' not in str(f)),"
            " os.path.exists(os.path.join(parent, '__init__.py'))]))\n"
        )
        self.assertEqual(version, "1.0")
        self.assertEqual(files, ["acme/core/__init__.py"])
        self.assertFalse(parent_file)


class PipInstallTests(_InstalledDummyTests, SynchronousTestCase):
    """
    Dummies installed by ``pip --python``.
    """

    @classmethod
    def install_command(cls, python: str, wheels: list[str]) -> list[str]:
        """
        This interpreter's pip (22.3 or newer, for ``--python``), isolated
        from configuration, caches and indexes.
        """
        try:
            from pip import __version__ as pip_version
        except ImportError:
            raise SkipTest("pip is not installed") from None
        if Version(pip_version) < Version("22.3"):
            raise SkipTest(f"pip {pip_version} has no --python")
        return [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "--isolated",
            "--disable-pip-version-check",
            "install",
            "--no-cache-dir",
            "--no-deps",
            "--no-index",
            "--no-input",
            *wheels,
        ]


class UvInstallTests(_InstalledDummyTests, SynchronousTestCase):
    """
    Dummies installed by ``uv pip install``.
    """

    @classmethod
    def install_command(cls, python: str, wheels: list[str]) -> list[str]:
        """
        uv, offline and isolated from configuration and caches.
        """
        uv = find_uv()
        if uv is None:
            raise SkipTest("uv is not installed")
        return [
            uv,
            "pip",
            "install",
            "--python",
            python,
            "--no-config",
            "--no-cache",
            "--offline",
            "--no-deps",
            "--no-index",
            *wheels,
        ]
