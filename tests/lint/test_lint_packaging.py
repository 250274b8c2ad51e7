"""What the wheel ships for gonka-lint users: the manual the help names, type markers, the
agent mappings, Python 3.11–3.13 classifiers, and the documented pre-commit tag scheme."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from gonka_conformance import __version__
from gonka_conformance.lint.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_help_names_a_manual_the_package_ships(capsys: pytest.CaptureFixture[str]) -> None:
    assert "gonka-lint --docs" in " ".join(build_parser().format_help().replace("-\n", "-").split())
    assert main(["--docs"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "lint.md").read_text()
    data = PYPROJECT["tool"]["setuptools"]
    assert data["package-dir"]["gonka_conformance.docs"] == "docs"
    assert "*.md" in data["package-data"]["gonka_conformance.docs"]


def test_type_markers_and_agent_mappings_are_package_data() -> None:
    data = PYPROJECT["tool"]["setuptools"]["package-data"]
    for package, folder in (("gonka_conformance", "conformance"), ("gonka_conformance.lint", "lint"),
                            ("gonka_conformance.reports", "reports")):
        assert "py.typed" in data[package] and (ROOT / folder / "py.typed").is_file()
    assert {"agents/*.yaml", "agents/*.json"} <= set(data["gonka_conformance.lint"])


def test_python_versions_match_the_classifiers() -> None:
    project = PYPROJECT["project"]
    versions = {c.rsplit(" ", 1)[-1] for c in project["classifiers"] if re.fullmatch(r".*:: 3\.\d+", c)}
    assert versions == {"3.11", "3.12", "3.13"}
    assert project["requires-python"] == ">=3.11"


def test_documented_pre_commit_rev_is_this_versions_tag() -> None:
    manual = (ROOT / "docs" / "lint.md").read_text()
    assert PYPROJECT["project"]["version"] == __version__
    assert f"rev: v{__version__}" in manual and "v<version>" in manual
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    assert "id: gonka-lint-agent-config" in hooks
