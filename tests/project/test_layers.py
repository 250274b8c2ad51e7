"""The layering of ARCHITECTURE.md, checked on the installed import names.

The import-linter contracts live in pyproject.toml (`[tool.importlinter]`): the data flow
cases -> catalogue -> engine -> faces -> reports -> CLI, independent faces, and faces that use
only the engine's public interface. Each check is also run on a copy with one deliberate bad
import, so a checker that silently passes everything would fail here."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from package_tree import PACKAGE, ROOT, build_tree

PYPROJECT = ROOT / "pyproject.toml"

_LINT_IMPORTS = (
    "import sys\n"
    "from importlinter.cli import lint_imports\n"
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))\n"
)

# Strongly connected components of the runtime import graph (imports under TYPE_CHECKING do
# not run, so they cannot form a cycle at import time).
_CYCLES = """
import json, sys
import grimp
graph = grimp.build_graph(sys.argv[1], exclude_type_checking_imports=True, cache_dir=None)
edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
index, low, stack, on, found = {}, {}, [], set(), []
def visit(root):
    work = [(root, iter(edges[root]))]
    index[root] = low[root] = len(index); stack.append(root); on.add(root)
    while work:
        node, children = work[-1]
        for child in children:
            if child not in index:
                index[child] = low[child] = len(index); stack.append(child); on.add(child)
                work.append((child, iter(edges[child])))
                break
            if child in on:
                low[node] = min(low[node], index[child])
        else:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop(); on.discard(member); component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
for module in edges:
    if module not in index:
        visit(module)
print(json.dumps(found))
"""


def _run(code: str, tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The copy comes first on the path, ahead of the editable install's import hook.
    return subprocess.run([sys.executable, "-c", code, *args], cwd=tree, env={"PYTHONPATH": str(tree), "PATH": ""},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return build_tree(tmp_path / "tree")


def _add_import(tree: Path, module: str, line: str) -> None:
    path = tree.joinpath(*module.split(".")).with_suffix(".py")
    path.write_text(path.read_text() + f"\n{line}  # deliberately against the layering\n")


def test_the_tree_copy_holds_every_face(tree: Path) -> None:
    package = tree / PACKAGE
    for module in ("cli.py", "engine/pipeline.py", "lint/cli.py", "reports/model.py", "cases/__init__.py",
                   "common/errors.py", "goemu/re2.py"):
        assert (package / module).is_file(), module


def test_the_contracts_are_kept(tree: Path) -> None:
    result = _run(_LINT_IMPORTS, tree, str(PYPROJECT))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    # the engine reaching up to a face
    ("gonka_conformance.engine.types", "from gonka_conformance.lint import findings", "The data flow"),
    # the ground floor reaching up to the CLI
    ("gonka_conformance.common.errors", "import gonka_conformance.cli", "The data flow"),
    # one face importing another
    ("gonka_conformance.gateway.chat", "from gonka_conformance.live import judge", "The data flow"),
    # a face importing an engine internal
    ("gonka_conformance.lint.runner", "from gonka_conformance.engine import registry", "public interface"),
    # a face reaching past the engine package into the module behind a public name
    ("gonka_conformance.gateway.chat", "from gonka_conformance.engine.pipeline import normalize", "public interface"),
])
def test_a_back_import_breaks_a_contract(tree: Path, module: str, line: str, contract: str) -> None:
    _add_import(tree, module, line)
    result = _run(_LINT_IMPORTS, tree, str(PYPROJECT))
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout[result.stdout.index("Broken contracts"):]
    assert contract in broken and module in broken


def test_there_is_no_import_cycle(tree: Path) -> None:
    result = _run(_CYCLES, tree, PACKAGE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_an_added_cycle_is_found(tree: Path) -> None:
    _add_import(tree, "gonka_conformance.engine.registry", "from gonka_conformance.engine import pipeline")
    result = _run(_CYCLES, tree, PACKAGE)
    assert result.returncode == 0, result.stderr
    (cycle,) = json.loads(result.stdout)
    assert {"gonka_conformance.engine.registry", "gonka_conformance.engine.pipeline"} <= set(cycle)


def _private_engine_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and "engine" in node.module.split("."):
            found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name.startswith("_")]
    return found


def test_no_face_imports_a_private_engine_name() -> None:
    folders = [ROOT / "lint", ROOT / "reports", *(p for p in (ROOT / "conformance").iterdir()
                                                  if p.is_dir() and p.name != "engine")]
    offenders = {str(path.relative_to(ROOT)): names for folder in folders for path in folder.rglob("*.py")
                 if (names := _private_engine_imports(path.read_text()))}
    assert offenders == {}
    assert _private_engine_imports("from ..engine.pipeline import _plan\n") == ["engine.pipeline._plan"]


def test_every_engine_module_but_its_types_is_closed_to_the_faces() -> None:
    """The engine package and ``types`` are its public interface: any other engine module, a new
    one included, must be listed in the engine-interface contract, and every public name of the
    package is importable."""
    import gonka_conformance.engine as engine

    contract = next(c for c in tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
                    if c["id"] == "engine-interface")
    modules = {f"{PACKAGE}.engine.{path.stem}" for path in (ROOT / "conformance" / "engine").glob("*.py")
               if path.stem not in ("__init__", "types")}
    assert set(contract["forbidden_modules"]) == modules
    assert all(hasattr(engine, name) for name in engine.__all__)
