"""mypy on the installed package (`conformance/`, `lint/`, `reports/` under their import names).

One run on a copy of the tree with the known-error list of pyproject.toml switched off and one
deliberate type error added: every error must be in a listed module or the deliberate one, and
every listed module must still have an error (so the list only shrinks)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from package_tree import PACKAGE, ROOT, build_tree

PYPROJECT = ROOT / "pyproject.toml"
DELIBERATE = ("common/errors.py", 'DELIBERATELY_WRONG: int = "not an int"\n')


def _known_error_modules() -> set[str]:
    overrides = tomllib.loads(PYPROJECT.read_text())["tool"]["mypy"].get("overrides", [])
    return {module for override in overrides if override.get("ignore_errors") for module in override["module"]}


def _config_without_known_errors(path: Path) -> Path:
    """pyproject's [tool.mypy] section alone, without the ignore_errors overrides."""
    mypy = tomllib.loads(PYPROJECT.read_text())["tool"]["mypy"]
    lines = ["[mypy]"] + [f"{key} = {str(value).lower() if isinstance(value, bool) else value}"
                          for key, value in mypy.items() if key != "overrides"]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_mypy_finds_only_the_listed_errors(tmp_path: Path) -> None:
    tree = build_tree(tmp_path / "tree")
    module_file, line = DELIBERATE
    target = tree / PACKAGE / module_file
    target.write_text(target.read_text() + line)
    config = _config_without_known_errors(tmp_path / "mypy.ini")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "-p", PACKAGE, "--config-file", str(config), "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", "--show-error-codes"],
        cwd=tree, env={"MYPYPATH": str(tree), "PATH": ""}, capture_output=True, text=True, timeout=900)
    assert result.returncode in (0, 1), result.stderr
    failing = {match.group(1).removesuffix("/__init__").replace("/", ".")
               for match in re.finditer(r"^(\S+?)\.py:\d+: error:", result.stdout, re.M)}
    deliberate = f"{PACKAGE}.{module_file.removesuffix('.py').replace('/', '.')}"
    assert deliberate in failing, "mypy did not see the deliberate error: " + result.stdout[-2000:]
    known = _known_error_modules()
    assert failing - known - {deliberate} == set(), result.stdout
    assert known - failing == set(), "clean now: remove from [[tool.mypy.overrides]] in pyproject.toml"
