"""
Tests for :mod:`twisted_pypi.core.dummyspec`: the ``--dummy`` syntax.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_pypi.core.dummyspec import (
    DUMMY_SPEC_SYNTAX,
    KNOWN_IMPORT_NAMES,
    DummySpec,
    ImportMode,
    default_module,
    is_import_name,
    parse_dummy_spec,
)


class ParseSpecTests(SynchronousTestCase):
    """
    :func:`parse_dummy_spec` reads every form of ``--dummy``.
    """

    def test_name_only(self) -> None:
        """
        A bare name mirrors every upstream version, with no importable module.
        """
        self.assertEqual(
            parse_dummy_spec("torch"),
            DummySpec("torch", None, ImportMode.ABSENT, "torch"),
        )

    def test_name_normalized(self) -> None:
        """
        The project name is normalized; the import name comes from it.
        """
        spec = parse_dummy_spec("PyYAML")
        self.assertEqual((spec.project, spec.module), ("pyyaml", "yaml"))
        spec = parse_dummy_spec("Opencv_Python.Headless:stub")
        self.assertEqual((spec.project, spec.module), ("opencv-python-headless", "cv2"))

    def test_one_version(self) -> None:
        """
        ``==VERSION`` offers exactly that version.
        """
        self.assertEqual(parse_dummy_spec("torch==2.3.1").versions, ("2.3.1",))

    def test_version_list(self) -> None:
        """
        Versions are separated by commas and kept in the order given;
        blanks around the parts are ignored.
        """
        self.assertEqual(
            parse_dummy_spec("tensorflow==2.16.1,2.15.0").versions,
            ("2.16.1", "2.15.0"),
        )
        self.assertEqual(
            parse_dummy_spec(" torch == 2.3.1 , 2.4.0 : stub ").versions,
            ("2.3.1", "2.4.0"),
        )

    def test_versions_normalized(self) -> None:
        """
        Versions are normalized to their canonical spelling and duplicates
        (equal as versions) are dropped.
        """
        self.assertEqual(
            parse_dummy_spec("torch==2.4.0RC1,v2.3.1,2.3.1,2.4.0-rc1").versions,
            ("2.4.0rc1", "2.3.1"),
        )

    def test_local_and_epoch_versions(self) -> None:
        """
        Local versions and epochs are accepted.
        """
        self.assertEqual(
            parse_dummy_spec("torch==2.3.1+cpu,1!2.0").versions,
            ("2.3.1+cpu", "1!2.0"),
        )

    def test_modes(self) -> None:
        """
        ``:absent`` and ``:stub`` choose the mode, in any case.
        """
        self.assertIs(parse_dummy_spec("torch:absent").mode, ImportMode.ABSENT)
        self.assertIs(parse_dummy_spec("torch:stub").mode, ImportMode.STUB)
        self.assertIs(parse_dummy_spec("torch==2.3.1:STUB").mode, ImportMode.STUB)

    def test_module(self) -> None:
        """
        ``:module=`` names the stub's module, dotted names included, and may
        come before ``:stub``.
        """
        self.assertEqual(
            parse_dummy_spec("opencv-python==4.9.0.80:stub:module=cv2"),
            DummySpec("opencv-python", ("4.9.0.80",), ImportMode.STUB, "cv2"),
        )
        self.assertEqual(
            parse_dummy_spec("acme-core:module=acme.core:stub").module, "acme.core"
        )

    def test_errors(self) -> None:
        """
        Each mistake raises a ``ValueError`` that quotes the value, says what
        is wrong and shows the syntax.
        """
        cases = {
            "": "project name is missing",
            "==2.0": "project name is missing",
            "torch>=2.0": "only exact versions",
            "torch~=2.0": "only exact versions",
            "torch!=2.0": "only exact versions",
            "torch=2.0": "only exact versions",
            "tor ch": "'tor ch' is not a valid project name",
            "-torch": "'-torch' is not a valid project name",
            "torch==": "a version is empty",
            "torch==2.3.1,": "a version is empty",
            "torch===2.3.1": "use ==, not ===",
            "torch==2.*": "'2.*' is not a valid version",
            "torch==latest": "'latest' is not a valid version",
            "torch:fast": "unknown option 'fast'",
            "torch:stub=yes": "unknown option 'stub=yes'",
            "torch:module": "unknown option 'module'",
            "torch:": "an option is empty",
            "torch::stub": "an option is empty",
            "torch:stub:absent": "only once",
            "torch:stub:stub": "only once",
            "torch:stub:module=a:module=b": "only once",
            "torch:stub:module=": "'' is not a valid (dotted) Python import name",
            "torch:stub:module=2d": "'2d' is not a valid",
            "torch:stub:module=a..b": "'a..b' is not a valid",
            "torch:stub:module=a.class": "'a.class' is not a valid",
            "torch:stub:module=t\u00f6rch": "is not a valid",
            "torch:module=cv2": ":module= only has an effect with :stub",
            "3to2:stub": "the default import name '3to2' is not a valid",
        }
        for text, problem in cases.items():
            with self.assertRaises(ValueError, msg=text) as raised:
                parse_dummy_spec(text)
            message = str(raised.exception)
            self.assertIn(problem, message, text)
            self.assertIn(repr(text), message)
            self.assertIn(DUMMY_SPEC_SYNTAX, message)

    def test_absent_needs_no_import_name(self) -> None:
        """
        A project whose name is no Python identifier can still be a dummy
        without a module.
        """
        self.assertEqual(parse_dummy_spec("3to2").project, "3to2")


class DummySpecTests(SynchronousTestCase):
    """
    :class:`DummySpec` refuses invalid fields however it is built.
    """

    def test_defaults(self) -> None:
        """
        Only the project is required: every version, absent, default module.
        """
        self.assertEqual(
            DummySpec("scikit-learn"),
            DummySpec("scikit-learn", None, ImportMode.ABSENT, "sklearn"),
        )

    def test_invalid(self) -> None:
        """
        An unnormalized or invalid name, no versions, an invalid version or
        an invalid stub module raise ``ValueError``.
        """
        for args in [
            ("Torch",),
            ("a b",),
            ("torch", ()),
            ("torch", ("x",)),
            ("torch", ("2.0 ",)),
            ("torch", ("1.0-1",)),
            ("torch", None, ImportMode.STUB, "a-b"),
        ]:
            self.assertRaises(ValueError, DummySpec, *args)


class ImportNameTests(SynchronousTestCase):
    """
    :data:`KNOWN_IMPORT_NAMES`, :func:`default_module`, :func:`is_import_name`.
    """

    def test_known(self) -> None:
        """
        Projects whose import name differs from their name map to it.
        """
        expected = {
            "opencv-python": "cv2",
            "opencv-python-headless": "cv2",
            "opencv-contrib-python": "cv2",
            "opencv-contrib-python-headless": "cv2",
            "pillow": "PIL",
            "scikit-learn": "sklearn",
            "scikit-image": "skimage",
            "pyyaml": "yaml",
            "beautifulsoup4": "bs4",
            "tensorflow-cpu": "tensorflow",
            "tensorflow-gpu": "tensorflow",
            "tf-nightly": "tensorflow",
            "faiss-cpu": "faiss",
            "faiss-gpu": "faiss",
            "onnxruntime-gpu": "onnxruntime",
            "python-dateutil": "dateutil",
            "protobuf": "google.protobuf",
            "torch": "torch",
            "torchvision": "torchvision",
            "torchaudio": "torchaudio",
        }
        self.assertEqual(dict(KNOWN_IMPORT_NAMES), expected)
        for project, module in expected.items():
            self.assertEqual(default_module(project), module)

    def test_default(self) -> None:
        """
        Any other project imports as its normalized name with ``_`` for ``-``;
        known names are found in any spelling.
        """
        self.assertEqual(default_module("My.Package"), "my_package")
        self.assertEqual(default_module("Pillow"), "PIL")

    def test_read_only(self) -> None:
        """
        The table cannot be changed by accident.
        """
        with self.assertRaises(TypeError):
            KNOWN_IMPORT_NAMES["torch"] = "x"  # type: ignore[index]

    def test_import_names(self) -> None:
        """
        Dotted ASCII identifiers that are not keywords are import names.
        """
        for name in ("cv2", "PIL", "_x", "google.protobuf", "a.b.c"):
            self.assertTrue(is_import_name(name), name)
        for name in (
            "",
            "2d",
            "a-b",
            "a.",
            ".a",
            "a..b",
            "class",
            "a.None",
            "t\u00f6rch",
            "a/b",
        ):
            self.assertFalse(is_import_name(name), name)
