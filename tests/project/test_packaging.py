"""The wheel carries every package of the tree (a new folder missing from pyproject's
``packages`` installs fine in editable mode and breaks every real install), and every manual a
command's help names is shipped and printed by a command (an installed user has no docs/ folder)."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

import pytest

from gonka_conformance import cli
from gonka_conformance.lint import cli as lint_cli

ROOT = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed, mapping = set(setuptools["packages"]), setuptools["package-dir"]
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            if "__pycache__" in relative.parts:
                continue
            found.add(".".join([name, *relative.parts]))
    assert found - listed == set(), "add to [tool.setuptools] packages: " + ", ".join(sorted(found - listed))



#: How a help text names a manual: by its repository path, or by the command that prints it.
PATH_NAMED = re.compile(r"\bdocs/([\w.-]+)\.md\b")
COMMAND_NAMED = re.compile(r"\bgonka-conformance docs ([a-z][a-z0-9-]*)")


def _every_help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``--help`` of both console scripts and of every gonka-conformance subcommand (the run
    subcommand's options are the pytest plugin's ``--gonka-*`` options), one line per entry."""
    monkeypatch.setenv("COLUMNS", "100000")  # no help line wrapped, so no name broken at a hyphen
    helps = {}
    for prog, main, argv in [("gonka-conformance", cli.main, []),
                             *(("gonka-conformance " + name, cli.main, [name]) for name in cli.BY_NAME),
                             ("gonka-lint", lint_cli.main, [])]:
        with pytest.raises(SystemExit) as exit_info:
            main([*argv, "--help"])
        assert exit_info.value.code == 0
        helps[prog] = capsys.readouterr().out
    return helps


def test_every_manual_a_help_names_is_shipped_and_printed_by_a_command(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    helps = _every_help(capsys, monkeypatch)
    named: dict[str, set[str]] = {}
    for prog, text in helps.items():
        for topic in PATH_NAMED.findall(text):
            # a repository path alone does not help an installed user: the help says how to read it
            assert f"gonka-conformance docs {topic}" in text or (topic == "lint" and "gonka-lint --docs" in text), \
                f"{prog} --help names docs/{topic}.md without the command that prints it"
            named.setdefault(topic, set()).add(prog)
        for topic in COMMAND_NAMED.findall(text):
            named.setdefault(topic, set()).add(prog)
    assert {"live-suite", "verbs", "lint"} <= set(named), named  # run, rules --verbs, gonka-lint

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for topic, progs in sorted(named.items()):
        source = ROOT / "docs" / f"{topic}.md"
        assert source.is_file(), f"{', '.join(sorted(progs))} --help names a manual {topic!r} that does not exist"
        assert any(fnmatch.fnmatch(source.name, pattern) for pattern in patterns["gonka_conformance.docs"]), \
            f"docs/{source.name} is not package data of gonka_conformance.docs"
        assert cli.main(["docs", topic]) == 0
        assert capsys.readouterr().out == source.read_text(encoding="utf-8")
    assert lint_cli.main(["--docs"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "lint.md").read_text(encoding="utf-8")
