"""mypy on the installed package (`conformance/`, `lint/`, `reports/` under their import names).

One run on a copy of the tree with one deliberate type error added: mypy must report that
error and nothing else (so the test fails both when the package has a type error and when mypy
silently checks nothing)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from package_tree import PACKAGE, ROOT, build_tree

PYPROJECT = ROOT / "pyproject.toml"
DELIBERATE = ("common/errors.py", 'DELIBERATELY_WRONG: int = "not an int"\n')


def _config(path: Path) -> Path:
    """pyproject's [tool.mypy] section as an ini file (the copied tree has no pyproject.toml)."""
    mypy = tomllib.loads(PYPROJECT.read_text())["tool"]["mypy"]
    assert "overrides" not in mypy, "no per-module exceptions: fix the error or ignore one line with a reason"
    lines = ["[mypy]"] + [f"{key} = {str(value).lower() if isinstance(value, bool) else value}"
                          for key, value in mypy.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_mypy_reports_only_the_deliberate_error(tmp_path: Path) -> None:
    tree = build_tree(tmp_path / "tree")
    module_file, line = DELIBERATE
    target = tree / PACKAGE / module_file
    text = target.read_text()
    target.write_text(text + line)
    deliberate_line = text.count("\n") + 1
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "-p", PACKAGE, "--config-file", str(_config(tmp_path / "mypy.ini")),
         "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", "--show-error-codes"],
        cwd=tree, env={"MYPYPATH": str(tree), "PATH": ""}, capture_output=True, text=True, timeout=900)
    assert result.returncode in (0, 1), result.stderr
    errors = re.findall(r"^(\S+?\.py):(\d+): error:", result.stdout, re.M)
    assert (f"{PACKAGE}/{module_file}", str(deliberate_line)) in errors, \
        "mypy did not see the deliberate error: " + result.stdout[-2000:]
    assert len(errors) == 1, "mypy errors in the package:\n" + result.stdout
