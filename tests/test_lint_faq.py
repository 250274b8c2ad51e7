"""gonka-lint on payloads shaped like the FAQ's failing agents, and on clean OpenAI SDK payloads.

Every expected rule id must be in the catalogue: a renamed or removed rule fails here.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gonka_conformance.lint import Finding, lint
from models import DEEPSEEK, KIMI, PLAIN


def chat(model: str = PLAIN, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [
        {"role": "system", "content": "You are a helpful coding agent."},
        {"role": "user", "content": "List the files in src/."},
    ]}
    body.update(extra)
    return body


def tool(name: str = "list_files", parameters: dict[str, Any] | None = None, **function: Any) -> dict[str, Any]:
    params = parameters or {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
    return {"type": "function", "function": {"name": name, "description": "List files", "parameters": params, **function}}


def deep_schema(depth: int) -> dict[str, Any]:
    """A nested MCP-style schema (Kilo Code forwards MCP tool schemas untouched): arrays of
    arrays, so the schema is deeper than 16 while the JSON stays within the 32-level limit."""
    schema: dict[str, Any] = {"type": "string"}
    for _level in range(depth):
        schema = {"type": "array", "items": schema}
    return {"type": "object", "properties": {"query": schema}}


def wide_schema(properties: int) -> dict[str, Any]:
    """An OpenClaw-sized parameters schema: hundreds of nodes."""
    return {"type": "object", "properties": {
        f"option_{i}": {"type": "object", "properties": {"enabled": {"type": "boolean"}, "value": {"type": "string"}}}
        for i in range(properties)}}


def tool_call_history(ids: list[str]) -> list[dict[str, Any]]:
    calls = [{"id": call_id, "type": "function", "function": {"name": f"tool_{i}", "arguments": "{}"}}
             for i, call_id in enumerate(ids)]
    results = [{"role": "tool", "tool_call_id": call_id, "content": f"result {i}"} for i, call_id in enumerate(ids)]
    return [{"role": "user", "content": "Run the tools."}, {"role": "assistant", "content": None, "tool_calls": calls},
            *results]


# name -> (payload, expected rule ids)
FAQ_CASES: dict[str, tuple[dict[str, Any], set[str]]] = {
    "hermes-tags": (chat(KIMI, tags=["hermes", "session:abc"], tools=[tool()], thinking_token_budget=0),
                    {"reject-tags"}),
    "hermes-extra-body-tags": (chat(KIMI, extra_body={"tags": ["hermes"]}), {"reject-tags", "unwrap-extra_body"}),
    "kilo-code-deep-mcp-schema-strict": (chat(PLAIN, tools=[tool("mcp_query", deep_schema(20), strict=True)]),
                                         {"schema-depth-tools", "strip-tools-strict"}),
    "openclaw-tool-schema-size": (chat(PLAIN, tools=[tool("configure", wide_schema(120))]), {"schema-nodes-tools"}),
    "kimi-cli-cache-key": (chat(KIMI, cache_key="kimi-cli_f1c55293"), {"strip-cache_key"}),
    "cline-think": (chat(PLAIN, think=True), {"strip-think"}),
    "autogen-duplicate-tool-call-ids": (chat(PLAIN, messages=tool_call_history(["call_0", "call_0"])),
                                        {"reject-duplicate-tool-call-id"}),
    "image-url": (chat(PLAIN, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]),
        {"reject-multimodal-content"}),
    "guided-json": (chat(PLAIN, guided_json={"type": "object"}), {"reject-guided-decoding"}),
    "structured-outputs-with-response-format": (
        chat(PLAIN, structured_outputs={"json": {"type": "object"}}, response_format={"type": "json_object"}),
        {"reject-structured_outputs-with-response_format", "prefer-response-format"}),
    "kimi-max-tokens-100": (chat(KIMI, max_tokens=100), {"kimi-empty-content-think-burn"}),
    "kimi-tool-heavy-default-budget": (chat(KIMI, tools=[tool()]), {"kimi-default-budget-tool-heavy"}),
    "openrouter-plugins": (chat(PLAIN, plugins=[{"id": "web"}]), {"strip-plugins"}),
    "above-output-cap": (chat(PLAIN, max_tokens=8000), {"cap-max-tokens"}),
    "tool-choice-required": (chat(PLAIN, tools=[tool()], tool_choice="required"), {"coerce-tool-choice-required"}),
}


def rules(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


@pytest.mark.parametrize("name", sorted(FAQ_CASES))
def test_faq_agents_get_the_right_findings(name: str, catalogue) -> None:
    payload, expected = FAQ_CASES[name]
    missing = {rule for rule in expected if rule not in catalogue.by_id}
    assert not missing, f"{name}: rules not in the catalogue: {sorted(missing)}"
    findings = lint(json.dumps(payload, indent=2), catalogue=catalogue)
    found = rules(findings)
    assert expected <= found, f"{name}: expected {sorted(expected)}, got {sorted(found)}"
    for finding in findings:  # every finding is complete
        rule = catalogue.by_id[finding.rule]
        assert finding.severity in ("error", "warning", "info")
        assert finding.pointer == "" or finding.pointer.startswith("/")
        assert finding.line is not None and finding.line >= 1 and finding.column >= 1
        assert finding.anchor == rule.anchor and finding.title == rule.title and finding.message
        if finding.origin == "rejection":
            assert finding.severity == "error"


def test_rejections_are_errors_with_the_gateway_message(catalogue) -> None:
    findings = lint(json.dumps(chat(KIMI, tags=["x"])), catalogue=catalogue)
    tags = next(f for f in findings if f.rule == "reject-tags")
    assert tags.severity == "error" and tags.status == 400 and tags.pointer == "/tags"
    assert tags.message.startswith('Chat completions parameter "tags" is currently rejected')
    assert tags.anchor and tags.anchor.endswith("#reject-tags")
    assert tags.fix is not None and tags.fix.op == "remove-field" and tags.fix.safe and tags.fix.available
    assert "metadata" in (tags.fix.description or "")


def test_every_problem_is_reported_not_only_the_first(catalogue) -> None:
    payload = chat(PLAIN, tags=["x"], guided_json={}, think=True, cache_key="k", temperature=5,
                   messages=tool_call_history(["a", "a"]))
    found = rules(lint(json.dumps(payload), catalogue=catalogue))
    assert {"reject-tags", "reject-guided-decoding", "strip-think", "strip-cache_key", "clamp-temperature",
            "reject-duplicate-tool-call-id"} <= found


def test_positions_point_at_the_field(catalogue) -> None:
    text = '{\n  "model": "%s",\n  "messages": [{"role": "user", "content": "hi"}],\n  "tags": ["a"]\n}' % PLAIN
    tags = next(f for f in lint(text, catalogue=catalogue) if f.rule == "reject-tags")
    assert (tags.line, tags.column) == (4, 3)


def test_kimi_max_tokens_100_names_the_forced_budget(catalogue) -> None:
    findings = {f.rule: f for f in lint(json.dumps(chat(KIMI, max_tokens=100)), catalogue=catalogue)}
    burn = findings["kimi-empty-content-think-burn"]
    assert burn.severity == "warning" and burn.pointer == "/thinking_token_budget"
    assert burn.fix is not None and burn.fix.op == "kimi-fix-first" and not burn.fix.safe


def test_broker_profile_and_revision_change_the_findings(catalogue) -> None:
    plugins = json.dumps(chat(PLAIN, plugins=[{"id": "web"}]))
    default = {f.rule: f for f in lint(plugins, catalogue=catalogue)}
    assert default["strip-plugins"].severity == "warning"
    divergent = [b.id for b in catalogue.brokers.values()
                 for d in b.divergences if d.rule == "strip-plugins" and d.behaviour == "reject"]
    if divergent:
        rejected = {f.rule: f for f in lint(plugins, profile=divergent[0], catalogue=catalogue)}
        assert rejected["strip-plugins"].severity == "error" and rejected["strip-plugins"].origin == "rejection"
    old = rules(lint(json.dumps(chat(KIMI, max_tokens=100)), revision="2026-05", catalogue=catalogue))
    assert "force-kimi-template-thinking-off" not in old  # newest-only behaviour


def test_model_override_applies_when_the_body_names_none(catalogue) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    assert "kimi-empty-content-think-burn" in rules(lint(json.dumps(body), model=KIMI, catalogue=catalogue))
    assert "kimi-empty-content-think-burn" not in rules(lint(json.dumps(body), model=PLAIN, catalogue=catalogue))


# --- clean payloads ---------------------------------------------------------------------------

CLEAN = {
    "minimal-qwen": chat(PLAIN),
    "minimal-kimi": chat(KIMI),
    "no-model": {"messages": [{"role": "user", "content": "hi"}]},
    "sampling": chat(PLAIN, temperature=0.7, top_p=0.9, max_tokens=1024, seed=7, user="u-1", n=1,
                     frequency_penalty=0, presence_penalty=0, stop=["\n\n"]),
    "streaming-with-usage": chat(KIMI, stream=True, stream_options={"include_usage": True}, max_tokens=2048),
    "not-streaming": chat(PLAIN, stream=False),
    "max-completion-tokens": chat(KIMI, max_completion_tokens=1500),
    "tools-auto": chat(PLAIN, tools=[tool(), tool("read_file")], tool_choice="auto", parallel_tool_calls=True),
    "tool-history": chat(PLAIN, tools=[tool("tool_0"), tool("tool_1")],
                         messages=[{"role": "system", "content": "Agent."}] + tool_call_history(["call_a", "call_b"])),
    "json-mode": chat(DEEPSEEK, response_format={"type": "json_object"}),
    "json-schema": chat(PLAIN, response_format={"type": "json_schema", "json_schema": {
        "name": "answer", "schema": {"type": "object", "properties": {"answer": {"type": "string"}}}}}),
    "logprobs": chat(PLAIN, logprobs=True, top_logprobs=3),
    "metadata": chat(PLAIN, metadata={"run": "nightly"}),
}


@pytest.mark.parametrize("name", sorted(CLEAN))
def test_clean_openai_sdk_payloads_get_no_findings(name: str, catalogue) -> None:
    findings = lint(json.dumps(CLEAN[name]), catalogue=catalogue)
    assert findings == [], [(f.rule, f.pointer, f.message) for f in findings]


def test_clean_payloads_stay_clean_in_every_revision(catalogue) -> None:
    for rev in catalogue.revisions:
        for name in ("minimal-qwen", "minimal-kimi", "sampling", "tools-auto"):
            payload = dict(CLEAN[name])
            if payload["model"] not in rev.routes:  # a retired route is a 400 (reject-unknown-model)
                payload["model"] = next(route for route in rev.routes if route != KIMI)
            findings = lint(json.dumps(payload), revision=rev.id, catalogue=catalogue)
            assert findings == [], (rev.id, name, [(f.rule, f.pointer) for f in findings])


def test_lint_accepts_mappings_and_text(catalogue) -> None:
    payload = chat(PLAIN, tags=["x"])
    assert rules(lint(payload, catalogue=catalogue)) == rules(lint(json.dumps(payload), catalogue=catalogue))
    assert lint(copy.deepcopy(payload), catalogue=catalogue)[0].line is not None
