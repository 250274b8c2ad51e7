"""gonka-conformance normalize / rules / coverage / docs: output contracts and exit codes."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from gonka_conformance.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str], capsys, stdin: bytes | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_normalize_accepted_prints_the_wire_body_and_events(tmp_path, capsys) -> None:
    path = tmp_path / "body.json"
    path.write_text('{"messages":[{"role":"user","content":"hi"}],"temperature":"9","plugins":[1]}')
    code, out, err = run(["normalize", str(path), "--model", "MiniMaxAI/MiniMax-M2.7", "--revision", "2026-05"], capsys)
    data = json.loads(out)
    assert code == 0 and err == ""
    assert data["outcome"] == "accepted" and data["body"]["temperature"] == 2 and "plugins" not in data["body"]
    assert list(data["body"]) == sorted(data["body"])  # key-sorted, as upstream marshals it
    assert {e["rule"] for e in data["events"]} >= {"clamp-temperature", "strip-plugins", "force-logprobs"}
    assert all(e["pointer"].startswith("/") for e in data["events"])


def test_normalize_rejected_from_stdin(capsys, monkeypatch) -> None:
    code, out, _ = run(["normalize", "-", "--compact"], capsys, b'{"messages":[{"role":"user","content":"hi"}],"tags":[]}', monkeypatch)
    data = json.loads(out)
    assert code == 1 and data["outcome"] == "rejected" and data["status"] == 400 and data["rule"] == "reject-tags"
    assert data["message"].startswith('Chat completions parameter "tags" is currently rejected')


def test_normalize_of_binary_input_is_the_gateways_parse_error(capsys, monkeypatch) -> None:
    code, out, _ = run(["normalize", "-"], capsys, b"\x00\xff\xfe binary", monkeypatch)
    assert code == 1 and json.loads(out)["rule"] == "reject-malformed-json"


def test_admin_bypasses_the_cap(capsys, monkeypatch) -> None:
    body = b'{"messages":[{"role":"user","content":"hi"}],"max_tokens":9000}'
    _, out, _ = run(["normalize", "-", "--admin"], capsys, body, monkeypatch)
    assert json.loads(out)["body"]["max_tokens"] == 9000


@pytest.mark.parametrize("argv, message", [
    (["normalize", "/no/such/file.json"], "/no/such/file.json: no such file"),
    (["normalize", "/"], "/: is a directory"),
    (["normalize", "-", "--revision", "1999-01"], "unknown revision '1999-01'"),
    (["normalize", "-", "--profile", "nobody.example"], "unknown broker profile 'nobody.example'"),
])
def test_usage_errors_are_one_line_with_exit_2(argv, message, capsys) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_no_command_prints_help_and_exits_2(capsys) -> None:
    code, _, err = run([], capsys)
    assert code == 2 and "usage:" in err


def test_rules_text_and_json(capsys) -> None:
    code, out, _ = run(["rules"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:5] == ["id", "kind", "level", "families", "revisions"]
    assert any(line.startswith("reject-tags ") and "troubleshooting.md#reject-tags" in line for line in lines)
    assert lines[-1].endswith("2026-05, 2026-09 (default)")
    code, out, _ = run(["rules", "--format", "json", "--select", "strip-plugins"], capsys)
    data = json.loads(out)
    (rule,) = data["rules"]
    assert rule["kind"] == "strip" and rule["anchor"].endswith("#strip-plugins")
    assert rule["divergences"][0]["broker"] in {"gonka-api.org", "gonkagate.com"}
    assert {d["broker"] for d in rule["divergences"]} == {"gonka-api.org", "gonkagate.com"}


def test_coverage_check_against_the_committed_document(capsys) -> None:
    code, _, err = run(["coverage", "--check", str(REPO / "docs" / "coverage.md")], capsys)
    assert code == 0, err


def test_normalize_keeps_a_lone_surrogate_printable(capsys, monkeypatch) -> None:
    body = b'{"messages":[{"role":"user","content":"hi"}],"user":"\\ud800"}'
    code, out, _ = run(["normalize", "-"], capsys, body, monkeypatch)
    assert code == 0 and json.loads(out)["body"]["user"] == "\ud800"


def test_limit_overrides_keep_the_profile_and_must_be_positive(capsys, monkeypatch) -> None:
    body = b'{"messages":[{"role":"user","content":"hi"}],"max_tokens":4000}'
    _, out, _ = run(["normalize", "-", "--profile", "gonka-api.org", "--default-max-tokens", "100"], capsys, body, monkeypatch)
    assert json.loads(out)["body"]["max_tokens"] == 3072  # the profile's cap still applies
    with pytest.raises(SystemExit) as exit_info:
        main(["normalize", "-", "--max-tokens-cap", "0"])
    assert exit_info.value.code == 2 and "must be at least 1" in capsys.readouterr().err


def test_coverage_check_of_a_directory_is_a_usage_error(tmp_path, capsys) -> None:
    code, _, err = run(["coverage", "--check", str(tmp_path)], capsys)
    assert code == 2 and "is a directory" in err


def test_docs_lists_every_shipped_manual_and_prints_one(capsys) -> None:
    shipped = sorted(path.stem for path in (REPO / "docs").glob("*.md"))
    code, out, err = run(["docs"], capsys)
    assert code == 0 and err == ""
    assert [line.split()[0] for line in out.splitlines()] == shipped
    assert "live-suite  The live conformance suite" in out.splitlines()
    for argv in (["docs", "live-suite"], ["docs", "live-suite.md"], ["docs", "docs/live-suite.md"]):
        code, out, _ = run(argv, capsys)
        assert code == 0 and out == (REPO / "docs" / "live-suite.md").read_text(encoding="utf-8")


def test_docs_of_an_unknown_topic_is_a_usage_error_naming_the_topics(capsys) -> None:
    code, out, err = run(["docs", "nope"], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "no manual 'nope'" in err and "live-suite" in err and "verbs" in err
