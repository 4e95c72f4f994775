"""
The package's shape: no import cycles between its modules, and every module
within the size budget.  (The layer contract itself is declared in
``setup.cfg`` and checked by ``lint-imports`` in the test command.)
"""

from __future__ import annotations

import ast
import importlib
import os

import grimp
from twisted.trial.unittest import SynchronousTestCase

from tests import REPOSITORY

#: The layers below the web layer, but the upstream client: they never
#: import ``twisted.web`` (import-linter forbids only whole external
#: packages, so this part of the contract is checked here).
BELOW_WEB = (
    "core",
    "storage",
    "files",
    "sources",
    "pypijson",
    "resolve",
    "mirror",
    "upload",
)

#: The most lines a module of the package may have.
MAX_MODULE_LINES = 450


def _cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """
    The strongly connected components of more than one module (Tarjan).
    """
    modules = sorted(m for m in graph.modules if m.startswith(package))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(module: str) -> None:
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if not other.startswith(package):
                continue
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in modules:
        if module not in index:
            visit(module)
    return found


def _web_imports(source: str) -> list[str]:
    """
    The ``twisted.web`` modules that ``source`` imports, at any depth.
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found.extend(
            n for n in names if n == "twisted.web" or n.startswith("twisted.web.")
        )
    return found


class ShapeTests(SynchronousTestCase):
    """
    The structure every change must keep.
    """

    def test_no_import_cycles(self) -> None:
        """
        No two modules of ``twisted_pypi`` import each other, directly or
        through others, counting imports inside functions too.
        """
        graph = grimp.build_graph("twisted_pypi")
        self.assertEqual(_cycles(graph, "twisted_pypi"), [])

    def test_no_web_below_web(self) -> None:
        """
        No module of a layer below the web layer (but the upstream client)
        imports ``twisted.web``, at the top or inside a function.
        """
        offenders = {}
        for layer in BELOW_WEB:
            top = os.path.join(REPOSITORY, "twisted_pypi", layer)
            for name in sorted(os.listdir(top)):
                if name.endswith(".py"):
                    with open(os.path.join(top, name), encoding="utf-8") as f:
                        imported = _web_imports(f.read())
                    if imported:
                        offenders[f"{layer}/{name}"] = imported
        self.assertEqual(offenders, {})

    def test_web_import_detection(self) -> None:
        """
        The check above sees every form of importing ``twisted.web`` (so it
        can fail), and only those.
        """
        source = (
            "import twisted.web.http\n"
            "from twisted.web.iweb import IResponse\n"
            "from twisted import web\n"
            "from twisted.internet import defer\n"
            "def later():\n"
            "    from twisted.web import server\n"
        )
        self.assertEqual(
            _web_imports(source),
            [
                "twisted.web.http",
                "twisted.web.iweb",
                "twisted.web.iweb.IResponse",
                "twisted.web",
                "twisted.web",
                "twisted.web.server",
            ],
        )

    def test_cycle_detection(self) -> None:
        """
        The cycle finder reports a cycle when there is one (so the test above
        can fail).
        """
        graph = grimp.ImportGraph()
        for name in ("p", "p.a", "p.b", "p.c"):
            graph.add_module(name)
        graph.add_import(importer="p.a", imported="p.b")
        graph.add_import(importer="p.b", imported="p.a")
        graph.add_import(importer="p.b", imported="p.c")
        self.assertEqual(_cycles(graph, "p"), [["p.a", "p.b"]])

    def test_public_names_declared(self) -> None:
        """
        Every module of ``twisted_pypi`` (but the package markers) declares
        its public names in ``__all__``, and each of them exists.
        """
        missing = []
        for module in sorted(grimp.build_graph("twisted_pypi").modules):
            if module.endswith("__main__"):
                continue
            imported = importlib.import_module(module)
            if hasattr(imported, "__path__"):
                continue
            names = getattr(imported, "__all__", None)
            if names is None:
                missing.append(module)
                continue
            missing.extend(f"{module}.{n}" for n in names if not hasattr(imported, n))
        self.assertEqual(missing, [])

    def test_module_size(self) -> None:
        """
        No module of ``twisted_pypi`` is over the size budget.
        """
        too_long = {}
        top = os.path.join(REPOSITORY, "twisted_pypi")
        for folder, _, files in os.walk(top):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    with open(path, encoding="utf-8") as f:
                        lines = sum(1 for _ in f)
                    if lines > MAX_MODULE_LINES:
                        too_long[os.path.relpath(path, top)] = lines
        self.assertEqual(too_long, {})
