"""Regressions from the gonka-lint code review: each test names the bug it pins down."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from gonka_conformance.goemu import json as gojson
from gonka_conformance.lint import PayloadError, lint
from gonka_conformance.lint.cli import main
from gonka_conformance.lint.config import ConfigError, IgnoreFile, find_pyproject, load_config
from gonka_conformance.reports.lint import FORMATS
from gonka_conformance.lint.explain import explain_text
from gonka_conformance.lint.findings import Finding
from gonka_conformance.lint.fixes import CatalogueOptionError, MANUAL, _schema_sites
from gonka_conformance.lint.hook import LintHook
from gonka_conformance.lint.inputs import Record
from gonka_conformance.lint.runner import Options, fix_record

from test_lint_inputs import GOOD, SECRET, TAGGED, entry, har, run, write
from models import KIMI, PLAIN

CHAT = "https://api.example/v1/chat/completions"


# --- 1: --fix never rewrites a HAR capture, whatever its extension --------------------------------


def test_fix_leaves_a_har_saved_as_json_untouched(tmp_path: Path, capsys) -> None:
    capture = write(tmp_path / "capture.json", har([entry("POST", CHAT, GOOD), entry("POST", CHAT, TAGGED)]))
    original = capture.read_bytes()
    code, out, err = run(capsys, str(capture), "--fix")
    assert capture.read_bytes() == original
    assert code == 1 and "reject-tags" in out
    assert "fixes are not applied to HAR captures" in err


def test_fix_rewrites_a_sniffed_json_file_without_a_har_note(tmp_path: Path, capsys) -> None:
    path = write(tmp_path / "payload.txt", TAGGED)
    code, out, err = run(capsys, str(path), "--fix")
    assert code == 0 and "Fixed 1." in out and "HAR" not in err
    assert json.loads(path.read_text()) == GOOD


# --- 2: --show-normalized never prints a secret ---------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_show_normalized_masks_secrets(fmt: str, tmp_path: Path, capsys) -> None:
    token = "sk-" + "test" + "abcdefghijklmnopqrstuvwxyz01"  # an obvious fake, shaped like a key
    body = {"model": PLAIN, "messages": [{"role": "user", "content": f"key {token}"}],
            "extra_headers": {"Authorization": f"Bearer {SECRET}"}}
    path = write(tmp_path / "p.json", body)
    code, out, err = run(capsys, str(path), "--show-normalized", "--format", fmt)
    assert code == 0  # a warning only
    assert "strip-extra_headers" in out
    assert SECRET not in out + err and token not in out + err


# --- 3: an unwritable directory is one line, and the other inputs are still fixed -----------------


def test_fix_in_an_unwritable_directory_is_an_input_error(tmp_path: Path, capsys, monkeypatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    blocked = write(locked / "a.json", TAGGED)
    other = write(tmp_path / "b.json", TAGGED)
    real = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> Any:
        if Path(kwargs.get("dir", "")) == locked:  # root ignores chmod: simulate the EACCES
            raise PermissionError(13, "Permission denied")
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    code, out, err = run(capsys, str(blocked), str(other), "--fix")
    assert code == 2
    assert f"gonka-lint: {blocked}: cannot write the fixes: permission denied" in err.splitlines()
    assert json.loads(other.read_text()) == GOOD and json.loads(blocked.read_text()) == TAGGED


# --- 4: a malformed [tool] in pyproject.toml ------------------------------------------------------


@pytest.mark.parametrize("tool", ['tool = 1', 'tool = "gonka-lint"', 'tool = ["gonka-lint"]'])
def test_malformed_tool_key(tool: str, tmp_path: Path, capsys, monkeypatch) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(tool + "\n")
    with pytest.raises(ConfigError, match=r"\[tool\] must be a table"):
        load_config(pyproject, formats=FORMATS)
    assert find_pyproject(tmp_path) != pyproject  # skipped: not ours to report unless named
    code = main(["--config", str(pyproject), "--no-ignore-file", str(write(tmp_path / "p.json", GOOD))])
    _out, err = capsys.readouterr()
    assert code == 2 and "[tool] must be a table" in err and "Traceback" not in err


# --- 5: unreadable directories -------------------------------------------------------------------


def test_named_file_under_an_unsearchable_directory(tmp_path: Path, capsys, monkeypatch) -> None:
    target = tmp_path / "secret" / "p.json"

    def is_dir(self: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "is_dir", is_dir)
    code, out, err = run(capsys, str(target))
    assert code == 2 and f"gonka-lint: {target}: permission denied" in err.splitlines()


def test_unreadable_directories_are_reported(tmp_path: Path, capsys, monkeypatch) -> None:
    root = tmp_path / "payloads"
    (root / "locked").mkdir(parents=True)
    write(root / "ok.json", TAGGED)
    empty_locked = tmp_path / "closed"
    empty_locked.mkdir()
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(path) in (root / "locked", empty_locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = run(capsys, str(root), str(empty_locked))
    assert code == 2
    lines = err.splitlines()
    assert f"gonka-lint: {root / 'locked'}: permission denied" in lines
    assert f"gonka-lint: {empty_locked}: permission denied" in lines
    assert "no .json" not in err and "reject-tags" in out  # the readable file is still linted


# --- 6: an empty selection is a usage error --------------------------------------------------------


def test_empty_select_is_a_usage_error(tmp_path: Path, capsys) -> None:
    path = write(tmp_path / "p.json", TAGGED)
    code, _out, err = run(capsys, str(path), "--select", "")
    assert code == 2 and "empty rule selection" in err
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.gonka-lint]\nselect = []\n")
    with pytest.raises(ConfigError, match="select = \\[\\] would disable every rule"):
        load_config(pyproject, formats=FORMATS)


# --- 7: the hook and lint() validate their target early ---------------------------------------------


@pytest.mark.parametrize("target", [{"profile": "nope"}, {"revision": "1999-01"}])
def test_unknown_target_fails_early(target: dict[str, str]) -> None:
    with pytest.raises(ValueError) as error:
        LintHook(**target)
    assert "\n" not in str(error.value) and not isinstance(error.value, KeyError)
    with pytest.raises(ValueError) as error:
        lint(GOOD, **target)
    assert not isinstance(error.value, (KeyError, PayloadError))


def test_hook_forgets_the_last_findings_on_an_unreadable_body() -> None:
    hook = LintHook(on_error="log")
    hook.check(json.dumps(TAGGED).encode())
    assert hook.last
    hook.check(b"not json")
    assert hook.last == []
    request = httpx.Request("POST", CHAT, content=b"[]")
    hook(request)
    assert hook.last == []


# --- 9, 10: fixes read the catalogue ----------------------------------------------------------------


def test_kimi_fix_first_writes_the_catalogues_payload(catalogue) -> None:
    wanted = catalogue.by_id["kimi-empty-content-think-burn"].lint["fix"]["with"]
    body = {"model": KIMI, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    result = fix_record(Record("p.json", None, json.dumps(body).encode()), Options(catalogue),
                        lambda f: f.rule == "kimi-empty-content-think-burn")
    fixed = json.loads(result.after.record.raw)
    assert {key: fixed[key] for key in wanted} == wanted


def test_rewritten_tool_call_ids_match_the_catalogue_pattern(catalogue) -> None:
    options = catalogue.by_id["canonical-tool-call-ids"].targets[0].options
    pattern = re.compile(options["pattern"])
    body = {"model": KIMI, "thinking_token_budget": 0, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "web search/ü", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "x"},
        {"role": "tool", "tool_call_id": "b", "content": "y"}]}
    result = fix_record(Record("p.json", None, json.dumps(body).encode()), Options(catalogue), lambda f: True)
    messages = json.loads(result.after.record.raw)["messages"]
    ids = [call["id"] for call in messages[1]["tool_calls"]]
    assert all(pattern.fullmatch(i) for i in ids) and len(set(ids)) == 2
    assert [messages[2]["tool_call_id"], messages[3]["tool_call_id"]] == ids
    assert ids[1] == options["template"].format(name="call", index=1)


# --- 12, 13: limits and bounds come from the catalogue only ----------------------------------------


def test_schema_sites_use_the_targets_bounds(catalogue) -> None:
    tools = catalogue.by_id["schema-tools"].targets[0].options["bounds"]["max_nodes"]
    sites = {site.pattern.pattern: site.bounds.max_nodes for site in _schema_sites(catalogue, "inline-schema-ref")}
    assert sites["/tools/[0-9]+/function/parameters"] == tools


def test_limits_missing_from_the_catalogue_fail_loudly(catalogue) -> None:
    broken = SimpleNamespace(by_id={}, rules=())
    with pytest.raises(CatalogueOptionError, match="body-size"):
        Options(broken).max_body  # type: ignore[arg-type]  # noqa: B018
    limit = catalogue.by_id["limit-body-size"].targets[0].options["limit"]
    assert Options(catalogue).max_body == limit


# --- 14: the BOM message quotes the engine ----------------------------------------------------------


def test_bom_message_quotes_the_go_decoder() -> None:
    raw = b'\xef\xbb\xbf{"messages": []}'
    with pytest.raises(gojson.GoJSONError) as go:
        gojson.decode_object(raw)
    with pytest.raises(PayloadError) as error:
        lint(raw)
    assert go.value.message in str(error.value) and "byte-order mark" in str(error.value)


# --- 19, 20: ignore file lookups and manual fixes ---------------------------------------------------


def test_ignore_lookup_without_recording_use(tmp_path: Path) -> None:
    ignore = IgnoreFile(tmp_path / ".gonka-lint-ignore.yaml", {"p.json": {"reject-tags": {"/tags"}}})
    finding = Finding("reject-tags", "error", "m", "/tags", file=str(tmp_path / "p.json"))
    assert ignore.matches(finding, record_use=False) and not ignore.used
    assert ignore.stale([str(tmp_path / "p.json")])
    assert ignore.matches(finding) and ignore.used and not ignore.stale([str(tmp_path / "p.json")])


def test_explain_says_manual_fix(catalogue) -> None:
    manual = [r.id for r in catalogue.rules if (r.lint.get("fix") or {}).get("op") == MANUAL]
    assert manual
    text = explain_text(catalogue, manual[0])
    assert "manual fix" in text and "not implemented" not in text


def test_ambient_events_of_a_long_model_id_are_not_kept() -> None:
    """ambient() is cached per target; a hostile log of distinct megabyte-long model ids must
    not stay in memory through that cache (the id object would be one of its keys)."""
    import sys

    from gonka_conformance.lint.findings import ambient
    from models import CATALOGUE

    model = "kimi-" + "x" * 100_000
    before = sys.getrefcount(model)
    assert ambient(CATALOGUE, model, None, None, None, None, False)  # answered (the model's events)
    assert sys.getrefcount(model) == before
    short = "kimi-short"
    held = sys.getrefcount(short)
    ambient(CATALOGUE, short, None, None, None, None, False)
    assert sys.getrefcount(short) > held  # (a short id is remembered: the check above can fail)
