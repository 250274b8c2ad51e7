"""gonka-lint control: --select/--ignore, [tool.gonka-lint], the ignore file (generated, stale
entries), --strict, --exit-zero, --min-severity, --explain and usage errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gonka_conformance import load_catalogue
from gonka_conformance.lint.cli import main
from gonka_conformance.lint.config import ConfigError, Selector
from models import HI, PLAIN


@pytest.fixture()
def project(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fixtures").mkdir()
    (tmp_path / "fixtures" / "hermes.json").write_text(json.dumps(
        {"model": PLAIN, "messages": HI, "tags": ["x"], "store": True, "think": True}, indent=2))
    (tmp_path / "fixtures" / "clean.json").write_text(json.dumps({"model": PLAIN, "messages": HI}))
    (tmp_path / "fixtures" / "info.json").write_text(json.dumps({"model": PLAIN, "messages": HI,
                                                                  "extra_body": {"top_k": 2}}))
    return tmp_path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def rules(out: str) -> list[str]:
    return sorted(f["rule"] for f in json.loads(out)["findings"])


def test_select_and_ignore_by_id_and_prefix(project, capsys) -> None:
    base = ["fixtures/hermes.json", "--format", "json"]
    assert rules(run(capsys, *base)[1]) == ["reject-tags", "strip-store", "strip-think"]
    assert rules(run(capsys, *base, "--select", "strip-")[1]) == ["strip-store", "strip-think"]
    assert rules(run(capsys, *base, "--ignore", "strip-store,reject-")[1]) == ["strip-think"]
    assert rules(run(capsys, *base, "--select", "strip-", "--ignore", "strip-think")[1]) == ["strip-store"]
    # the most specific selector wins
    assert rules(run(capsys, *base, "--select", "strip-think", "--ignore", "strip-")[1]) == ["strip-think"]
    code, out, err = run(capsys, *base, "--ignore", "reject-")
    assert code == 0  # no error finding left


def test_selector_semantics() -> None:
    ids = ["reject-tags", "reject-guided-decoding", "strip-store"]
    everything = Selector.build(ids, None, [], [])
    assert all(everything(rule) for rule in ids)
    assert not Selector.build(ids, ["ALL"], [], ["ALL"])("strip-store")
    with pytest.raises(ConfigError, match="unknown rule or prefix 'nope'"):
        Selector.build(ids, ["nope"], [], [])


def test_strict_exit_zero_and_min_severity(project, capsys) -> None:
    code, out, err = run(capsys, "fixtures/info.json", "--format", "json")
    assert code == 0 and rules(out) == ["unwrap-extra_body", "unwrap-extra_body"]
    assert run(capsys, "fixtures/info.json", "--strict")[0] == 1
    assert run(capsys, "fixtures/hermes.json", "--exit-zero")[0] == 0
    code, out, err = run(capsys, "fixtures/hermes.json", "--format", "json", "--min-severity", "error")
    assert rules(out) == ["reject-tags"]


def test_pyproject_configuration(project, capsys) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.gonka-lint]\nignore = ["strip-store"]\nstrict = true\nformat = "json"\nmodel = "moonshotai/Kimi-K2.6"\n')
    code, out, err = run(capsys, "fixtures/info.json")
    assert code == 1 and "unwrap-extra_body" in rules(out)  # strict, json
    assert "strip-store" not in rules(run(capsys, "fixtures/hermes.json")[1])
    assert "strip-store" in rules(run(capsys, "fixtures/hermes.json", "--isolated", "--format", "json")[1])
    (project / "pyproject.toml").write_text('[tool.gonka-lint]\nselct = ["x"]\n')
    code, out, err = run(capsys, "fixtures/clean.json")
    assert code == 2 and "unknown key 'selct'" in err
    (project / "pyproject.toml").write_text('[tool.gonka-lint\n')
    code, out, err = run(capsys, "fixtures/clean.json", "--config", "pyproject.toml")
    assert code == 2 and "invalid TOML" in err


def test_ignore_file_generate_apply_and_stale(project, capsys) -> None:
    code, out, err = run(capsys, "fixtures", "--generate-ignore-file")
    assert code == 0 and "wrote 5 entries" in err
    data = yaml.safe_load((project / ".gonka-lint-ignore.yaml").read_text())
    assert data["version"] == 1
    assert data["ignore"]["fixtures/hermes.json"] == {"reject-tags": ["/tags"], "strip-store": ["/store"],
                                                      "strip-think": ["/think"]}
    code, out, err = run(capsys, "fixtures", "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["findings"] == [] and report["summary"]["ignored"] == 5 and err == ""
    # the payload is fixed: its entries go stale, and the run says so
    (project / "fixtures" / "hermes.json").write_text(json.dumps({"model": PLAIN, "messages": HI, "tags": ["x"]}))
    code, out, err = run(capsys, "fixtures", "--format", "json")
    assert code == 0
    assert "stale ignore entry fixtures/hermes.json: strip-store /store" in err
    assert {(s["rule"], s["pointer"]) for s in json.loads(out)["stale_ignores"]} == {
        ("strip-store", "/store"), ("strip-think", "/think")}
    # entries of files not linted in this run are neither stale nor dropped when regenerating
    code, out, err = run(capsys, "fixtures/clean.json")
    assert "stale" not in err
    run(capsys, "fixtures/hermes.json", "--generate-ignore-file")
    data = yaml.safe_load((project / ".gonka-lint-ignore.yaml").read_text())
    assert data["ignore"]["fixtures/hermes.json"] == {"reject-tags": ["/tags"]}
    assert "fixtures/info.json" in data["ignore"]


def test_ignore_file_errors(project, capsys) -> None:
    (project / "bad.yaml").write_text("ignore: [1, 2\n")
    code, out, err = run(capsys, "fixtures/clean.json", "--ignore-file", "bad.yaml")
    assert code == 2 and "bad.yaml:" in err and "invalid YAML" in err
    code, out, err = run(capsys, "fixtures/clean.json", "--ignore-file", "missing.yaml")
    assert code == 2 and "ignore file not found" in err


def test_usage_errors_exit_2(project, capsys) -> None:
    assert run(capsys, "fixtures/clean.json", "--revision", "1999-01")[0] == 2
    code, out, err = run(capsys, "fixtures/clean.json", "--profile", "nobody.example")
    assert code == 2 and "unknown broker profile" in err
    code, out, err = run(capsys, "fixtures/clean.json", "--select", "reject-tagz")
    assert code == 2 and "unknown rule or prefix" in err
    assert run(capsys, "fixtures/clean.json", "--fix", "--diff")[0] == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["--format", "yaml"])
    assert exit_info.value.code == 2


def test_explain(capsys) -> None:
    code, out, err = run(capsys, "--explain", "reject-tags")
    assert code == 0
    assert out.startswith("reject-tags — ")
    for part in ("What happens", "Why", "Fix", "Automatic fix", "remove-field (safe", "Sources",
                 "troubleshooting.md#reject-tags", "Defined in cases/rules/"):
        assert part in out
    code, out, err = run(capsys, "--explain", "reject-tags", "--format", "json")
    data = json.loads(out)
    assert data["id"] == "reject-tags" and data["fix"]["implemented"] is True
    code, out, err = run(capsys, "--explain", "reject-tag")
    assert code == 2 and "did you mean reject-tags" in err


def test_explain_covers_every_rule() -> None:
    from gonka_conformance.lint.explain import explain_text

    catalogue = load_catalogue()
    for rule in catalogue.rules:
        text = explain_text(catalogue, rule.id)
        assert text.startswith(f"{rule.id} — ") and rule.title in text


def test_pre_commit_hooks_and_requests_only(project, capsys) -> None:
    hooks = yaml.safe_load((Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml").read_text())
    lint_hook = next(h for h in hooks if h["id"] == "gonka-lint")
    assert lint_hook["entry"].split()[0] == "gonka-lint" and lint_hook["language"] == "python"
    import re

    assert re.search(lint_hook["files"], "fixtures/a.jsonl") and not re.search(lint_hook["files"], "a.yaml")
    # pre-commit names every staged .json file: configuration files are skipped, broken fixtures are not
    (project / "package.json").write_text('{"name": "x"}')
    (project / "tsconfig.json").write_text("{ // comment\n}")
    (project / "fixtures" / "broken.json").write_text('{"messages": [}')
    args = lint_hook["entry"].split()[1:] + ["--isolated", "--no-ignore-file", "package.json", "tsconfig.json",
                                             "fixtures/clean.json", "fixtures/broken.json"]
    code, out, err = run(capsys, *args)
    assert code == 2 and "fixtures/broken.json:1:15: invalid JSON" in err
    assert "package.json" not in err and "tsconfig.json" not in err
