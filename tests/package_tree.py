"""The installed package's import tree, rebuilt from the repository for static tools.

The wheel maps folders to import names (``conformance/`` -> ``gonka_conformance``, ``lint/`` ->
``gonka_conformance.lint``, …: ``[tool.setuptools] package-dir`` in pyproject.toml). Tools that
read source files (import-linter, mypy) cannot follow the editable install's import hook, so
this copies the Python files into a temporary folder laid out under the import names."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "gonka_conformance"


def package_dirs() -> dict[str, Path]:
    """Import name -> repository folder, from pyproject.toml (the one place that defines it)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {name: ROOT / folder for name, folder in config["package-dir"].items()}


def build_tree(dest: Path) -> Path:
    """Copy every mapped package's ``*.py`` and ``py.typed`` under ``dest``; returns ``dest``.
    Subfolders of a mapped folder that are mapped themselves are copied from their own mapping."""
    mapped = package_dirs()
    mapped_folders = {folder.resolve() for folder in mapped.values()}
    for name, folder in mapped.items():
        target = dest.joinpath(*name.split("."))
        for source in folder.rglob("*"):
            if source.suffix not in (".py", ".typed") or "__pycache__" in source.parts:
                continue
            if any(parent.resolve() in mapped_folders for parent in source.parents
                   if parent != folder and folder in parent.parents):
                continue  # inside a folder mapped on its own (copied under its own name)
            out = target / source.relative_to(folder)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, out)
    return dest
