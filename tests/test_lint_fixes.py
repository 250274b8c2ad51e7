"""gonka-lint fixes: each op the catalogue names and the linter implements, applied to a payload;
the fixed payload lints clean of the fixed rules and is accepted by the engine, and a safe fix
that adopts the gateway's own change leaves the forwarded body exactly as it was."""

from __future__ import annotations

import json
import sys
import io
from pathlib import Path
from typing import Any

import pytest

from gonka_conformance import normalize
from gonka_conformance.lint.cli import main
from gonka_conformance.lint.fixes import MANUAL, OPS, unimplemented_ops
from gonka_conformance.lint.inputs import Record
from gonka_conformance.lint.runner import Options, fix_record, lint_record
from models import GLM, HI, KIMI, PLAIN


def fix(catalogue, payload: dict[str, Any] | str, *, unsafe: bool = False, indent: int | None = 2, **options: Any):
    text = payload if isinstance(payload, str) else json.dumps(payload, indent=indent)
    opts = Options(catalogue, **options)
    result = fix_record(Record("payload.json", None, text.encode()), opts,
                        lambda f: bool(f.fix and f.fix.available and (f.fix.safe or unsafe)), whole_file=True)
    return result.after.record.raw.decode(), result, opts


def rules_of(outcome) -> set[str]:
    return {f.rule for f in outcome.findings}


# (name, payload, options, unsafe, rules the fix must remove, the forwarded body must not change)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool, set[str], bool]] = [
    ("remove-field/tags", {"model": PLAIN, "messages": HI, "tags": ["x"]}, {}, False, {"reject-tags"}, False),
    ("remove-field/strips", {"model": PLAIN, "messages": HI, "store": True, "plugins": [], "cache_key": "k",
                             "think": True, "service_tier": "flex", "extra_headers": {"a": "b"}}, {}, False,
     {"strip-store", "strip-plugins", "strip-cache_key", "strip-think", "strip-service_tier", "strip-extra_headers"},
     True),
    ("remove-field/guided-unsafe", {"model": PLAIN, "messages": HI, "guided_json": {"type": "object"}}, {}, True,
     {"reject-guided-decoding"}, False),
    ("clamp-field", {"model": PLAIN, "messages": HI, "temperature": 5, "top_p": 3}, {}, False,
     {"clamp-temperature", "clamp-top-p"}, True),
    ("set-max-tokens/cap", {"model": PLAIN, "messages": HI, "max_tokens": 9000}, {}, False, {"cap-max-tokens"}, True),
    ("set-max-tokens/floor", {"model": PLAIN, "messages": HI, "max_tokens": 10}, {}, False, {"floor-token-budget"},
     True),
    ("drop-blank-entries", {"model": PLAIN, "messages": HI, "bad_words": ["bad", "  "]}, {}, False,
     {"strip-blank-bad-words"}, True),
    ("reasoning-to-effort", {"model": PLAIN, "messages": HI, "reasoning": {"effort": "low", "exclude": True}}, {},
     False, {"translate-reasoning"}, True),
    ("move-extra-body-keys", {"model": PLAIN, "messages": HI, "extra_body": {"top_k": 5, "temperature": 0.2},
                              "temperature": 0.5}, {}, False, {"unwrap-extra_body"}, True),
    ("functions-to-tools", {"model": PLAIN, "messages": HI, "functions": [
        {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "function_call": {"name": "get_weather"}}, {}, False, {"reject-legacy-functions"}, False),
    ("rewrite-duplicate-tool-call-ids", {"model": PLAIN, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "search", "arguments": "{\"q\": 1}"}},
            {"id": "call_0", "type": "function", "function": {"name": "fetch", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "first"},
        {"role": "tool", "tool_call_id": "call_0", "content": "second"}]}, {}, False,
     {"reject-duplicate-tool-call-id"}, False),
    ("set-thinking-budget-zero", {"model": KIMI, "messages": HI, "thinking": {"type": "disabled"}}, {}, False,
     {"kimi-thinking-disabled-keeps-budget"}, False),
    ("kimi-fix-first", {"model": KIMI, "messages": HI, "max_tokens": 100}, {}, True,
     {"kimi-empty-content-think-burn", "force-kimi-template-thinking-off"}, False),
    ("developer-to-system", {"model": GLM, "messages": [{"role": "developer", "content": "Be brief."}, *HI]}, {},
     False, {"glm-developer-messages-dropped"}, False),
    ("remove-orphan-tool-messages", {"model": PLAIN, "messages": [*HI, {"role": "tool", "tool_call_id": "gone",
                                                                          "content": "orphan"}]}, {}, False,
     {"drop-orphan-tool-messages"}, True),
    ("remove-tool-message-name", {"model": PLAIN, "messages": [
        *HI, {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "name": "f", "tool_call_id": "c1", "content": "4"}]}, {}, False,
     {"strip-tool-message-name"}, True),
    ("coerce-type", {"model": PLAIN, "messages": HI, "seed": "42", "max_tokens": 100.0,
                     "skip_special_tokens": "true"}, {}, True,
     {"reject-malformed-param-types", "reject-typed-fields"}, False),
    ("remove-disallowed-message-fields", {"model": PLAIN, "messages": [{"role": "user", "content": "hi",
                                                                        "tool_call_id": "x"}]}, {}, True,
     {"reject-role-disallowed-fields"}, False),
    ("drop-non-text-parts", {"model": PLAIN, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": "data:,"}}]}]}, {},
     True, {"reject-multimodal-content"}, False),
    ("drop-max-completion-tokens", {"model": PLAIN, "messages": HI, "max_tokens": 2000,
                                    "max_completion_tokens": 1000}, {}, False, {"sync-max-token-fields"}, False),
    ("trim-oldest-messages", {"model": PLAIN, "messages": [{"role": "system", "content": "sys"}] + [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(2100)]}, {}, True,
     {"limit-messages-count"}, False),
    ("remove-strict", {"model": PLAIN, "messages": HI, "tools": [{"type": "function", "function": {
        "name": "f", "strict": True, "parameters": {"type": "object"}}}]}, {}, False, {"strip-tools-strict"}, True),
    ("set-tool-choice-auto", {"model": PLAIN, "messages": HI, "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object"}}}], "tool_choice": "required"}, {}, True,
     {"coerce-tool-choice-required"}, True),
    ("inline-schema-refs", {"model": PLAIN, "messages": HI, "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"a": {"$ref": "#/$defs/A"}},
                                    "$defs": {"A": {"type": "string"}}}}}]}, {"revision": "2026-05"}, False,
     {"reject-schema-ref"}, False),
    ("use-response-format", {"model": KIMI, "messages": HI, "structured_outputs": {
        "json": {"type": "object", "properties": {"a": {"type": "integer"}}}}}, {}, True,
     {"reject-structured_outputs-kimi"}, False),
    ("set-model", {"model": "moonshotai/kimi-k2.6", "messages": HI}, {"profile": "gonka-api.org"}, False,
     {"model-id-case-sensitive"}, False),
    ("remove-empty-assistant-turns", {"model": PLAIN, "messages": [*HI, {"role": "assistant", "content": ""},
                                                                   {"role": "user", "content": "again"}]}, {}, False,
     {"drop-empty-assistant-turns"}, True),
    ("rewrite-tool-call-ids", {"model": KIMI, "thinking_token_budget": 0, "messages": [
        *HI, {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_abc", "type": "function", "function": {"name": "search", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "found"}]}, {}, True,
     {"canonical-tool-call-ids"}, False),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fix_round_trips_through_the_engine(case, catalogue) -> None:
    name, payload, options, unsafe, fixed_rules, same_forwarded = case
    missing = {rule for rule in fixed_rules if rule not in catalogue.by_id}
    assert not missing, f"rules not in the catalogue: {sorted(missing)}"
    op = name.split("/")[0]
    assert op in OPS, f"{op} is not implemented"
    before = lint_record(Record("p.json", None, json.dumps(payload, indent=2).encode()), Options(catalogue, **options))
    assert fixed_rules <= rules_of(before), sorted(rules_of(before))
    text, result, opts = fix(catalogue, payload, unsafe=unsafe, **options)
    fixed = json.loads(text)  # still one JSON object
    assert isinstance(fixed, dict)
    assert not fixed_rules & rules_of(result.after), [(f.rule, f.pointer) for f in result.after.findings]
    assert {f.rule for f in result.fixed} >= fixed_rules
    outcome = normalize(text.encode(), catalogue=catalogue, model=opts.model, revision=opts.revision,
                        profile=opts.profile)
    assert outcome.outcome == "accepted", outcome.to_json()
    if same_forwarded:  # a safe fix that adopts the gateway's change: nothing changes upstream
        original = normalize(json.dumps(payload).encode(), catalogue=catalogue, revision=opts.revision,
                             profile=opts.profile)
        assert original.outcome == "accepted" and original.body == outcome.body


def test_duplicate_tool_call_ids_are_rewritten_without_dropping_calls(catalogue) -> None:
    payload = CASES[[c[0] for c in CASES].index("rewrite-duplicate-tool-call-ids")][1]
    text, result, _ = fix(catalogue, payload)
    messages = json.loads(text)["messages"]
    calls = messages[1]["tool_calls"]
    assert [c["id"] for c in calls] == ["functions.search:0", "functions.fetch:1"]
    assert [c["function"]["arguments"] for c in calls] == ['{"q": 1}', "{}"]  # nothing else changed
    assert [(m["tool_call_id"], m["content"]) for m in messages[2:]] == [
        ("functions.search:0", "first"), ("functions.fetch:1", "second")]


def test_fixes_keep_the_file_layout(catalogue) -> None:
    text = ('{\n    "model": "%s",\n    "tags": ["x"],\n    "messages": [\n        {"role": "user", "content": "hi"}\n'
            '    ],\n    "store": true\n}\n') % PLAIN
    fixed, result, _ = fix(catalogue, text)
    assert fixed == '{\n    "model": "%s",\n    "messages": [\n        {"role": "user", "content": "hi"}\n    ]\n}\n' % PLAIN
    compact = json.dumps({"model": KIMI, "messages": HI, "max_tokens": 100}, separators=(",", ":"))
    fixed, _, _ = fix(catalogue, compact, unsafe=True)
    assert fixed.endswith(',"max_tokens":4096,"thinking":{"type":"disabled"},"thinking_token_budget":0}')


def test_unsafe_fixes_need_the_flag(catalogue) -> None:
    payload = {"model": KIMI, "messages": HI, "max_tokens": 100}
    text, result, _ = fix(catalogue, payload)
    assert json.loads(text) == payload and not result.fixed
    burn = next(f for f in result.after.findings if f.rule == "kimi-empty-content-think-burn")
    assert burn.fix.available and not burn.fix.safe


def test_manual_fixes_are_never_offered(catalogue) -> None:
    # Every op the catalogue names is implemented; "manual" is deliberate (the docs say what to do).
    assert unimplemented_ops(catalogue) == {}
    assert MANUAL not in OPS
    manual = {r.id for r in catalogue.rules if (r.lint.get("fix") or {}).get("op") == MANUAL}
    assert manual, "the catalogue names no manual fix any more: drop this test"
    # A rule with a manual fix still shows its advice, with no automatic fix.
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(20):
        deep = {"type": "array", "items": deep}
    payload = {"model": PLAIN, "messages": HI, "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"q": deep}}}}]}
    outcome = lint_record(Record("p.json", None, json.dumps(payload).encode()), Options(catalogue))
    offered = [f for f in outcome.findings if f.fix and f.fix.op == MANUAL]
    assert offered, [f.rule for f in outcome.findings]
    for finding in offered:
        assert finding.fix.available is False and finding.fix.description


# --- the command line --------------------------------------------------------------------------


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["--isolated", "--no-ignore-file", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_fix_writes_in_place_and_diff_does_not(tmp_path: Path, capsys) -> None:
    path = tmp_path / "hermes.json"
    original = json.dumps({"model": KIMI, "messages": HI, "tags": ["x"], "max_tokens": 100}, indent=2) + "\n"
    path.write_text(original)
    code, out, err = run(capsys, str(path), "--diff")
    assert code == 1 and path.read_text() == original
    assert out.startswith(f"--- a/{path}\n+++ b/{path}\n") and '-  "tags": [' in out
    assert '"thinking_token_budget"' not in out  # unsafe: not without --unsafe-fixes
    code, out, err = run(capsys, str(path), "--diff", "--unsafe-fixes")
    assert '+  "thinking_token_budget": 0' in out
    code, out, err = run(capsys, str(path), "--fix")
    assert code == 0 and "Fixed 1." in out and "tags" not in path.read_text()
    code, out, err = run(capsys, str(path), "--fix", "--unsafe-fixes")
    assert json.loads(path.read_text())["max_tokens"] == 4096
    code, out, err = run(capsys, str(path), "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["summary"]["errors"] == 0
    # What remains is information about the fix-first payload itself, never a warning or error.
    assert sorted((f["rule"], f["severity"]) for f in report["findings"]) == [
        ("output-above-effective-cap", "info"), ("translate-thinking-kimi", "info")]


def test_fix_respects_select_and_ignore(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"model": PLAIN, "messages": HI, "store": True, "think": True}))
    run(capsys, str(path), "--fix", "--ignore", "strip-store")
    assert json.loads(path.read_text()) == {"model": PLAIN, "messages": HI, "store": True}


def test_fix_jsonl_rewrites_only_the_fixed_lines(tmp_path: Path, capsys) -> None:
    path = tmp_path / "log.jsonl"
    lines = [json.dumps({"model": PLAIN, "messages": HI}), json.dumps({"model": PLAIN, "messages": HI, "store": True}),
             "not json", json.dumps({"model": PLAIN, "messages": HI, "tags": ["x"]})]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    code, out, err = run(capsys, str(path), "--fix")
    assert code == 2  # the unreadable line
    new = path.read_bytes().decode().split("\r\n")
    assert new[0] == lines[0] and new[2] == "not json" and new[4] == ""
    assert json.loads(new[1]) == {"model": PLAIN, "messages": HI} and json.loads(new[3]) == json.loads(new[1])


def test_fix_stdin_prints_the_fixed_payload(capsys, monkeypatch) -> None:
    payload = json.dumps({"model": PLAIN, "messages": HI, "tags": ["x"]})
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(payload.encode())))
    code, out, err = run(capsys, "-", "--fix")
    assert json.loads(out) == {"model": PLAIN, "messages": HI} and "Fixed 1." in err and code == 0
