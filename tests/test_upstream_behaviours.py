"""Behaviours pinned by upstream's own unit tests (issue 10), per rule and per revision."""

from __future__ import annotations

import json

import pytest

from gonka_conformance.catalogue.loader import load_catalogue
from gonka_conformance.engine.pipeline import forwarded_bytes, normalize
from gonka_conformance.lint import lint
from gonka_conformance.lint.explain import explain_json, explain_text
from models import GLM, HI, KIMI, MINIMAX, NEW, OLD, PLAIN, QWEN

BOTH = pytest.mark.parametrize("revision", [OLD, NEW])


def forwarded(body: dict, model: str = QWEN, revision: str = NEW) -> dict:
    result = normalize({"messages": HI, **body}, model=model, revision=revision)
    assert result.outcome == "accepted", result.message
    return json.loads(forwarded_bytes(result))


def refused(body: dict, model: str = QWEN, revision: str = NEW):
    result = normalize({"messages": HI, **body}, model=model, revision=revision)
    assert result.outcome == "rejected", f"accepted: {result.body}"
    return result


# --- 3 and 8: string lists emptied by sanitising; Go's white space ---------------------------


@BOTH
@pytest.mark.parametrize("words", [[], [""], ["", "\t", "\n"], ["\u3000", "\u00a0"], ["\u000b", "\u000c"]])
def test_emptied_bad_words_is_dropped(revision: str, words: list) -> None:
    assert "bad_words" not in forwarded({"bad_words": words}, revision=revision)


@BOTH
@pytest.mark.parametrize("kept", ["\u001c", "\u001d", "\u001e", "\u001f", "\u200b", "\ufeff", "\u0000"])
def test_go_keeps_what_python_would_strip(revision: str, kept: str) -> None:
    # str.strip() removes U+001C-U+001F; strings.TrimSpace does not.
    assert forwarded({"bad_words": [kept, " "]}, revision=revision)["bad_words"] == [kept]


# --- 4-7: $ref inlining, ref siblings, non-schema targets, patternProperties keys -------------


def rf(schema: dict) -> dict:
    return {"response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}}


def test_structured_outputs_json_local_ref_is_inlined_and_unused_defs_dropped() -> None:
    schema = {"type": "object", "properties": {"x": {"$ref": "#/definitions/x"}}, "definitions": {"x": {"type": "string"}}}
    got = forwarded({"structured_outputs": {"json": schema}})
    assert got["structured_outputs"]["json"] == {"type": "object", "properties": {"x": {"type": "string"}}}
    unused = forwarded({"structured_outputs": {"json": {"type": "object", "$defs": {"unused": {"type": "NOT_A_VALID_TYPE"}}}}})
    assert unused["structured_outputs"]["json"] == {"type": "object"}
    # 2026-05 refused every reference keyword there.
    assert refused({"structured_outputs": {"json": schema}}, revision=OLD).rule == "reject-schema-ref"
    dangling = refused({"structured_outputs": {"json": {"type": "object", "properties": {"x": {"$ref": "#/definitions/x"}}}}})
    assert dangling.message.startswith("structured_outputs.json: ")


@pytest.mark.parametrize("siblings, kept", [
    ({"description": "from sibling"}, {"type": "string", "description": "from ref"}),
    ({"type": "string"}, {"type": "integer", "minimum": 1, "maximum": 9}),
])
def test_keywords_beside_a_ref_are_ignored(siblings: dict, kept: dict) -> None:
    target = {"type": "string", "description": "from ref"} if "description" in siblings else {"type": "integer", "minimum": 1, "maximum": 9}
    schema = {"type": "object", "properties": {"x": {"$ref": "#/$defs/P", **siblings}}, "$defs": {"P": target}}
    assert forwarded(rf(schema))["response_format"]["json_schema"]["schema"]["properties"]["x"] == kept


@pytest.mark.parametrize("target", ["justastring", 42, [{"type": "string"}], None])
def test_a_ref_to_a_non_schema_value_is_a_400(target) -> None:
    schema = {"type": "object", "properties": {"x": {"$ref": "#/$defs/S"}}, "$defs": {"S": target}}
    result = refused(rf(schema))
    assert result.message == ("response_format.json_schema.schema: schema reference keyword is forbidden: "
                              "reference target must resolve to an object or boolean schema")
    assert result.rule == "reject-schema-ref"


def test_boolean_schema_refs_are_inlined() -> None:
    schema = {"type": "object", "properties": {"a": {"$ref": "#/$defs/Y"}, "b": {"$ref": "#/$defs/N"}}, "$defs": {"Y": True, "N": False}}
    assert forwarded(rf(schema))["response_format"]["json_schema"]["schema"]["properties"] == {"a": True, "b": False}


@pytest.mark.parametrize("key, message", [
    ("[", "schema pattern is not a valid regular expression: error parsing regexp: missing closing ]: `[`"),
    ("a" * 513, "schema pattern is not a valid regular expression: length 513 exceeds limit 512"),
])
def test_pattern_properties_keys_are_patterns_in_2026_09(key: str, message: str) -> None:
    schema = {"type": "object", "patternProperties": {key: {"type": "string"}}}
    result = refused(rf(schema))
    assert (result.message, result.rule) == ("response_format.json_schema.schema: " + message, "reject-invalid-pattern-key")
    tools = [{"type": "function", "function": {"name": "f", "parameters": schema}}]
    assert refused({"tools": tools}).rule == "reject-invalid-pattern-key"
    assert refused({"structured_outputs": {"json": schema}}).rule == "reject-invalid-pattern-key"
    assert "response_format" in forwarded(rf(schema), revision=OLD)  # 2026-05 never looked at the keys
    assert "patternProperties" in forwarded(rf({"type": "object", "patternProperties": {"^x_": {}}}))["response_format"]["json_schema"]["schema"]


# --- 9, 10: the linter reports the unknown-model 400 and the translations ---------------------


def errors(payload: dict, **kw) -> list[tuple[str, str]]:
    return [(f.rule, f.message) for f in lint(payload, **kw) if f.severity == "error"]


@pytest.mark.parametrize("model, kw", [
    ("Kimi-K2.6", {}),
    ("moonshotai/kimi-k2.6", {}),                                    # upstream matches exactly
    (KIMI, {"profile": "gonkagate.com"}),                            # that broker serves the lowercase id
    (QWEN, {}),                                                      # retired in 2026-09
    (GLM, {"revision": OLD}),                                        # not yet served in 2026-05
])
def test_every_model_id_the_gateway_400s_is_an_error(model: str, kw: dict) -> None:
    found = errors({"model": model, "messages": HI}, **kw)
    assert [rule for rule, _ in found] == ["reject-unknown-model"]
    assert found[0][1].startswith(f'unsupported model "{model}"; supported models: ')


@pytest.mark.parametrize("model, kw", [
    (KIMI, {}), ("moonshotai/kimi-k2.6", {"profile": "gonkagate.com"}),
    (QWEN, {"revision": OLD}), (f" {MINIMAX} ", {}),
])
def test_served_model_ids_are_not_errors(model: str, kw: dict) -> None:
    assert errors({"model": model, "messages": HI}, **kw) == []


def test_case_hint_without_a_profile() -> None:
    hints = [f for f in lint({"model": "moonshotai/kimi-k2.6", "messages": HI}) if f.rule == "model-id-case-sensitive"]
    assert len(hints) == 1 and f'"{KIMI}"' in hints[0].message


@pytest.mark.parametrize("revision", [OLD, NEW])
def test_a_translated_client_field_is_an_info_finding_with_the_anchor(revision: str) -> None:
    model = QWEN if revision == OLD else PLAIN
    found = [f for f in lint({"model": model, "messages": HI, "enable_thinking": False}, revision=revision)
             if f.rule == "translate-enable_thinking"]
    assert len(found) == 1 and found[0].severity == "info"
    assert found[0].anchor and found[0].anchor.endswith("#translate-enable_thinking")
    kimi = [f.rule for f in lint({"model": KIMI, "messages": HI, "thinking": {"type": "disabled"}, "max_tokens": 4096})]
    assert kimi.count("translate-thinking-kimi") == 1
    assert lint({"model": KIMI, "messages": HI, "max_completion_tokens": 1500}) == []  # a mirror keeps the field


# --- disputed evidence: the engine follows the default, can follow the other side, the linter says so


def test_the_engine_follows_a_disputed_rules_default_and_can_follow_the_other_side() -> None:
    schema = {"type": "object", "properties": {"x": {"$ref": "#/$defs/P", "description": "sibling"}}, "$defs": {"P": {"type": "string"}}}
    default = json.loads(forwarded_bytes(normalize({"messages": HI, **rf(schema)}, model=QWEN)))
    other = normalize({"messages": HI, **rf(schema)}, model=QWEN, evidence={"inline-schema-ref": "merge-siblings"})
    assert default["response_format"]["json_schema"]["schema"]["properties"]["x"] == {"type": "string"}
    assert json.loads(forwarded_bytes(other))["response_format"]["json_schema"]["schema"]["properties"]["x"] == \
        {"type": "string", "description": "sibling"}
    # The other side of a non-schema target: inlined as it is, not refused.
    odd = {"type": "object", "properties": {"x": {"$ref": "#/$defs/S"}}, "$defs": {"S": "text"}}
    assert normalize({"messages": HI, **rf(odd)}, model=QWEN, evidence={"inline-schema-ref": "merge-siblings"}).outcome == "accepted"
    # 2026-05 MiniMax structured_outputs: accepted by default, the route gate's 400 on the other side.
    body = {"messages": HI, "structured_outputs": {"json_object": True}}
    assert normalize(body, model=MINIMAX, revision=OLD).outcome == "accepted"
    assert normalize(body, model=MINIMAX, revision=OLD, evidence={"reject-structured_outputs-minimax": "rejected"}).status == 400


@pytest.mark.parametrize("evidence", [
    {"inline-schema-ref": "no-such-side"}, {"strip-store": "anything"}, {"accept-tool-message-minimax-shape": "native-array"},
])
def test_an_unknown_or_unexecutable_side_is_refused(evidence: dict) -> None:
    with pytest.raises(ValueError):
        normalize({"messages": HI}, model=QWEN, evidence=evidence)


def test_findings_of_disputed_rules_are_uncertain() -> None:
    findings = lint({"model": MINIMAX, "messages": HI, "not_a_param": 1})
    assert [(f.rule, f.uncertain) for f in findings] == [("reject-unknown-param", True)]
    assert all(not f.uncertain for f in lint({"model": MINIMAX, "messages": HI, "tags": ["x"]}))


def test_disputed_alternatives_name_sources_and_a_valid_default() -> None:
    disputed = [r for r in load_catalogue().rules if r.evidence]
    assert {r.id for r in disputed} >= {"reject-structured_outputs-minimax", "accept-tool-message-minimax-shape",
                                         "reject-whitespace-names", "reject-unknown-param", "inline-schema-ref"}
    for rule in disputed:
        assert rule.evidence.alternative(rule.evidence.default)
        assert all(a.sources for a in rule.evidence.alternatives)


def test_explain_and_rules_list_the_sides_of_a_disputed_rule() -> None:
    catalogue = load_catalogue()
    text = explain_text(catalogue, "reject-structured_outputs-minimax")
    assert "the engine follows: accepted" in text and "rejected: MiniMax answers 400" in text and "@fad1002c" in text
    data = json.loads(explain_json(catalogue, "inline-schema-ref"))
    assert data["evidence"]["default"] == "ignore-siblings"
    assert {s["name"]: s["engine_follows"] for s in data["evidence"]["alternatives"]} == {"ignore-siblings": True, "merge-siblings": True}
    assert json.loads(explain_json(catalogue, "strip-store"))["evidence"] is None


# --- hostile inputs on the new paths --------------------------------------------------------------


@pytest.mark.parametrize("model", ["\u0000\u001b[31m", "x" * 100_000, "moonshotai/Kimi-K2.6\u200b"])
def test_odd_model_ids_are_one_quoted_error_quickly(model: str) -> None:
    import time

    started = time.monotonic()
    found = errors({"model": model, "messages": HI})
    assert time.monotonic() - started < 30
    assert [rule for rule, _ in found] == ["reject-unknown-model"]
    assert "\u001b" not in found[0][1] and "\x00" not in found[0][1]  # Go %q escapes control characters


@pytest.mark.parametrize("evidence", [{"inline-schema-ref": None}, {"": ""}, {"inline-schema-ref": ["merge-siblings"]}])
def test_malformed_evidence_selections_are_refused(evidence: dict) -> None:
    with pytest.raises((ValueError, TypeError)):
        normalize({"messages": HI}, model=QWEN, evidence=evidence)


def test_blank_tool_names_before_2026_09_are_disputed() -> None:
    body = {"messages": HI, "tools": [{"type": "function", "function": {"name": "   "}}]}
    assert normalize(body, model=QWEN, revision=OLD).outcome == "accepted"  # the 2026-05 code (a644769b)
    other = normalize(body, model=QWEN, revision=OLD, evidence={"reject-whitespace-names": "rejected-before-2026-09"})
    assert (other.rule, other.message) == ("reject-whitespace-names", "tools[i].function.name: must be a non-empty string (tools[0])")
    assert normalize(body, model=KIMI).rule == "reject-whitespace-names"  # 2026-09: both sides agree
