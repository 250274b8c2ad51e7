"""The messages[] rules (cases/rules/20-messages.yaml): goldens, every error string, pointer
translation after drops, and robustness on arbitrary JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from goldens import load_goldens
from gonka_conformance.catalogue.loader import load_catalogue
from gonka_conformance.engine.check_messages import messages_contract
from gonka_conformance.engine.context import Site
from gonka_conformance.engine.pipeline import analyse, normalize, render
from models import KIMI, MINIMAX, QWEN, REVISIONS


GOLDENS = [g for g in load_goldens() if g.name.startswith(("messages_", "arrays_messages_"))]


def body(messages: Any) -> bytes:
    return json.dumps({"messages": messages}).encode()


def call(call_id: Any = "c1", name: Any = "f", **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}
    entry.update(extra)
    return entry


USER = {"role": "user", "content": "q"}


def asking(*calls: dict[str, Any]) -> list[dict[str, Any]]:
    """A user turn and an assistant turn making these tool calls."""
    return [USER, {"role": "assistant", "content": None, "tool_calls": list(calls)}]


# --- goldens ------------------------------------------------------------------------------


def test_messages_goldens_present() -> None:
    assert len(GOLDENS) == 20


@pytest.mark.parametrize("golden", GOLDENS, ids=[g.name for g in GOLDENS])
def test_golden(golden) -> None:
    result = normalize(golden.body, model=golden.routed_model, revision="2026-05")
    if golden.status == "ok":
        assert result.outcome == "accepted", getattr(result, "message", "")
        assert result.body["messages"] == golden.forwarded_json()["messages"]
    else:
        assert result.outcome == "rejected"
        assert result.message == golden.message


# --- every error string, and the rule that owns it ------------------------------------------

ERRORS: list[tuple[str, Any, str, str]] = [
    ("absent-as-non-array", "hi", "messages is required", "require-messages"),
    ("null", None, "messages is required", "require-messages"),
    ("object", {"role": "user"}, "messages is required", "require-messages"),
    ("empty", [], "messages must not be empty", "require-messages"),
    ("not-object", ["hi"], "messages[0] must be an object", "schema-message-object"),
    ("role-missing", [{"content": "x"}], "messages[0].role: is required", "schema-message-role"),
    ("role-null", [{"role": None, "content": "x"}], "messages[0].role: is required", "schema-message-role"),
    ("role-number", [{"role": 1, "content": "x"}], "messages[0].role: must be a string", "schema-message-role"),
    ("role-blank", [{"role": " \t", "content": "x"}], "messages[0].role: must not be empty", "schema-message-role"),
    ("role-unknown", [{"role": "model", "content": "x"}], 'messages[0].role has unsupported value "model"', "schema-message-role"),
    ("role-quoted", [{"role": 'a"b\n', "content": "x"}], 'messages[0].role has unsupported value "a\\"b\\n"', "schema-message-role"),
    ("role-case", [{"role": "User", "content": "x"}], 'messages[0].role has unsupported value "User"', "schema-message-role"),
    ("user-tool-calls", [{"role": "user", "content": "x", "tool_calls": [call()]}],
     "messages[0]: tool_calls is not allowed for this role", "reject-role-disallowed-fields"),
    ("forbidden-order", [{"role": "user", "content": "x", "function_call": {}, "tool_call_id": "c"}],
     "messages[0]: tool_call_id is not allowed for this role", "reject-role-disallowed-fields"),
    ("system-null-still-present", [{"role": "system", "content": "x", "function_call": None}],
     "messages[0]: function_call is not allowed for this role", "reject-role-disallowed-fields"),
    ("developer-tool-calls", [{"role": "developer", "content": "x", "tool_calls": None}],
     "messages[0]: tool_calls is not allowed for this role", "reject-role-disallowed-fields"),
    ("assistant-tool-call-id", [USER, {"role": "assistant", "content": "x", "tool_call_id": "c"}],
     "messages[1]: tool_call_id is not allowed for this role", "reject-role-disallowed-fields"),
    ("tool-tool-calls", asking(call()) + [{"role": "tool", "tool_call_id": "c1", "content": "r", "tool_calls": []}],
     "messages[2]: tool_calls is not allowed for this role", "reject-role-disallowed-fields"),
    ("function-tool-call-id", [USER, {"role": "function", "name": "f", "content": "r", "tool_call_id": "c"}],
     "messages[1]: tool_call_id is not allowed for this role", "reject-role-disallowed-fields"),
    ("content-missing", [{"role": "user"}], "messages[0].content: is required", "schema-message-content"),
    ("content-null", [{"role": "system", "content": None}], "messages[0].content: is required", "schema-message-content"),
    ("content-blank", [{"role": "user", "content": " \n\u3000"}], "messages[0].content: must not be empty", "schema-message-content"),
    ("content-empty-array", [{"role": "user", "content": []}], "messages[0].content: must not be empty", "schema-message-content"),
    ("content-number", [{"role": "user", "content": 5}],
     "messages[0].content: must be a string or an array of typed content parts", "schema-message-content"),
    ("tool-content-object", asking(call()) + [{"role": "tool", "tool_call_id": "c1", "content": {"a": 1}}],
     "messages[2].content: must be a string or an array of typed content parts", "schema-message-content"),
    ("function-content-missing", [USER, {"role": "function", "name": "f"}], "messages[1].content: is required", "schema-message-content"),
    ("assistant-content-bool", [USER, {"role": "assistant", "content": True}],
     "messages[1].content: must be a string or an array of typed content parts", "schema-message-content"),
    ("tool-calls-string", [USER, {"role": "assistant", "content": "x", "tool_calls": "c"}],
     "messages[1].tool_calls must be an array", "schema-assistant-tool-calls"),
    ("tool-calls-empty", [USER, {"role": "assistant", "content": "x", "tool_calls": []}],
     "messages[1].tool_calls must not be empty", "schema-assistant-tool-calls"),
    ("call-not-object", asking("c"), "messages[1].tool_calls[0] must be an object", "schema-assistant-tool-calls"),
    ("call-id-missing", asking({"type": "function", "function": {"name": "f"}}),
     "messages[1].tool_calls[0].id: is required", "schema-assistant-tool-calls"),
    ("call-id-number", asking(call(7)), "messages[1].tool_calls[0].id: must be a string", "schema-assistant-tool-calls"),
    ("call-id-blank", asking(call(" ")), "messages[1].tool_calls[0].id: must not be empty", "schema-assistant-tool-calls"),
    ("call-id-duplicated", asking(call("a"), call("b"), call("a")),
     "messages[1].tool_calls[2].id is duplicated", "reject-duplicate-tool-call-id"),
    ("call-type-missing", asking({"id": "c1", "function": {"name": "f"}}),
     "messages[1].tool_calls[0].type: is required", "schema-assistant-tool-calls"),
    ("call-type-number", asking(call(type=1)), "messages[1].tool_calls[0].type: must be a string", "schema-assistant-tool-calls"),
    ("call-type-empty", asking(call(type="")), "messages[1].tool_calls[0].type: must not be empty", "schema-assistant-tool-calls"),
    ("call-type-custom", asking(call(type="custom")), 'messages[1].tool_calls[0].type must be "function"', "schema-assistant-tool-calls"),
    ("call-function-missing", asking({"id": "c1", "type": "function"}),
     "messages[1].tool_calls[0].function must be an object", "schema-assistant-tool-calls"),
    ("call-function-name-missing", asking(call(function={"arguments": "{}"})),
     "messages[1].tool_calls[0].function.name: is required", "schema-assistant-tool-calls"),
    ("call-function-name-number", asking(call(name=3)),
     "messages[1].tool_calls[0].function.name: must be a string", "schema-assistant-tool-calls"),
    ("call-function-name-blank", asking(call(name="  ")),
     "messages[1].tool_calls[0].function.name: must not be empty", "schema-assistant-tool-calls"),
    ("call-arguments-object", asking(call(function={"name": "f", "arguments": {"a": 1}})),
     "messages[1].tool_calls[0].function.arguments: must be a string", "schema-assistant-tool-calls"),
    ("function-call-string", [USER, {"role": "assistant", "content": "x", "function_call": "f"}],
     "messages[1].function_call must be an object", "schema-function-call"),
    ("function-call-name-missing", [USER, {"role": "assistant", "content": None, "function_call": {"arguments": "{}"}}],
     "messages[1].function_call.name: is required", "schema-function-call"),
    ("function-call-name-number", [USER, {"role": "assistant", "function_call": {"name": 1}}],
     "messages[1].function_call.name: must be a string", "schema-function-call"),
    ("function-call-name-blank", [USER, {"role": "assistant", "function_call": {"name": ""}}],
     "messages[1].function_call.name: must not be empty", "schema-function-call"),
    ("function-call-arguments", [USER, {"role": "assistant", "function_call": {"name": "f", "arguments": 1}}],
     "messages[1].function_call.arguments: must be a string", "schema-function-call"),
    ("tool-call-id-missing", asking(call()) + [{"role": "tool", "content": "r"}],
     "messages[2].tool_call_id: is required", "require-tool-call-id"),
    ("tool-call-id-number", asking(call()) + [{"role": "tool", "tool_call_id": 1, "content": "r"}],
     "messages[2].tool_call_id: must be a string", "require-tool-call-id"),
    ("tool-call-id-empty", asking(call()) + [{"role": "tool", "tool_call_id": "", "content": "r"}],
     "messages[2].tool_call_id: must not be empty", "require-tool-call-id"),
    ("function-name-missing", [USER, {"role": "function", "content": "42"}], "messages[1].name: is required", "require-function-name"),
    ("function-name-number", [USER, {"role": "function", "name": 1, "content": "42"}],
     "messages[1].name: must be a string", "require-function-name"),
    ("function-name-blank", [USER, {"role": "function", "name": "", "content": "42"}],
     "messages[1].name: must not be empty", "require-function-name"),
    ("part-not-object", [{"role": "user", "content": ["hi"]}], "messages[0].content[0] must be an object", "schema-message-content-parts"),
    ("part-type-missing", [{"role": "user", "content": [{"text": "x"}]}],
     "messages[0].content[0].type: is required", "schema-message-content-parts"),
    ("part-type-number", [{"role": "user", "content": [{"type": 1}]}],
     "messages[0].content[0].type: must be a string", "schema-message-content-parts"),
    ("part-type-blank", [{"role": "user", "content": [{"type": " "}]}],
     "messages[0].content[0].type: must not be empty", "schema-message-content-parts"),
    ("part-text-missing", [{"role": "user", "content": [{"type": "text"}]}],
     "messages[0].content[0].text: is required", "schema-message-content-parts"),
    ("part-text-number", [{"role": "user", "content": [{"type": "text", "text": 1}]}],
     "messages[0].content[0].text: must be a string", "schema-message-content-parts"),
    ("part-text-blank", [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "\n"}]}],
     "messages[0].content[1].text: must not be empty", "schema-message-content-parts"),
    ("image-url", [{"role": "user", "content": [{"type": "text", "text": "see"}, {"type": "image_url", "image_url": {"url": "x"}}]}],
     'messages[0].content[1].type has unsupported value "image_url"', "reject-multimodal-content"),
    ("video-url", [{"role": "user", "content": [{"type": "video_url"}]}],
     'messages[0].content[0].type has unsupported value "video_url"', "reject-multimodal-content"),
    ("input-audio-on-tool", asking(call()) + [{"role": "tool", "tool_call_id": "c1", "content": [{"type": "input_audio"}]}],
     'messages[2].content[0].type has unsupported value "input_audio"', "reject-multimodal-content"),
    ("image-on-assistant", [USER, {"role": "assistant", "content": [{"type": "image_url"}]}],
     'messages[1].content[0].type has unsupported value "image_url"', "reject-multimodal-content"),
    # Ordering: normalizer errors win over any validation error; indices count after drops.
    ("flatten-before-validate", [{"role": "pirate", "content": "x"}, {"role": "user", "content": [{"type": "image_url"}]}],
     'messages[1].content[0].type has unsupported value "image_url"', "reject-multimodal-content"),
    ("index-after-drop", [USER, {"role": "tool", "tool_call_id": "gone", "content": "r"}, {"role": "pirate", "content": "x"}],
     'messages[1].role has unsupported value "pirate"', "schema-message-role"),
    ("forbidden-before-content", [{"role": "user", "tool_call_id": "x"}],
     "messages[0]: tool_call_id is not allowed for this role", "reject-role-disallowed-fields"),
    ("tool-calls-before-function-call", [USER, {"role": "assistant", "tool_calls": "x", "function_call": "y", "content": "z"}],
     "messages[1].tool_calls must be an array", "schema-assistant-tool-calls"),
    ("first-message-wins", [{"role": "user"}, {"role": "pirate"}], "messages[0].content: is required", "schema-message-content"),
    ("all-dropped", [{"role": "assistant", "content": ""}, {"role": "tool", "tool_call_id": "x", "content": "r"}],
     "messages must not be empty", "require-messages"),
]


@pytest.mark.parametrize("revision", REVISIONS)
@pytest.mark.parametrize(("messages", "message", "rule"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_error_string(messages: Any, message: str, rule: str, revision: str) -> None:
    result = normalize(body(messages), model=QWEN if revision == "2026-05" else KIMI, revision=revision)
    assert result.outcome == "rejected"
    assert (result.status, result.message, result.rule) == (400, message, rule)


def test_cap_counts_before_drops_and_wins() -> None:
    orphans = [{"role": "tool", "tool_call_id": "x", "content": "r"}] * 2048
    result = normalize(body([{"role": "pirate"}] + orphans), model=QWEN, revision="2026-05")
    assert (result.rule, result.message) == ("limit-messages-count", "messages: array length 2049 exceeds limit 2048")


def _contract_site(messages: Any) -> Site:
    rule = load_catalogue().by_id["require-messages"]
    return Site("/messages", {"messages": messages}, "messages", messages, rule.targets[0].options, rule)


@pytest.mark.parametrize(("messages", "code", "rule", "text"), [
    # Unreachable through the pipeline (the normalizers remove these shapes first), but kept
    # exact for routes or profiles where a normalizer is not in force.
    ([USER, {"role": "assistant"}], "content-required-unless-calls", "schema-message-content",
     "messages[1].content: is required unless tool_calls or function_call is provided"),
    ([USER, {"role": "tool", "tool_call_id": "nope", "content": "r"}], "tool-call-id-unmatched", "require-tool-call-id",
     "messages[1].tool_call_id does not match any previous assistant tool_calls"),
])
def test_unreachable_validator_codes(messages: Any, code: str, rule: str, text: str) -> None:
    site = _contract_site(messages)
    hits = list(messages_contract(None, site))  # type: ignore[arg-type]
    assert [h.code for h in hits] == [code]
    assert site.options["delegate"][code] == rule
    assert render(load_catalogue().by_id[rule].messages[code], hits[0].params) == text


# --- what is accepted ------------------------------------------------------------------------


def accepted_messages(messages: Any, model: str = QWEN, revision: str = "2026-05") -> list[Any]:
    result = normalize(body(messages), model=model, revision=revision)
    assert result.outcome == "accepted", getattr(result, "message", "")
    return result.body["messages"]


def test_duplicate_ids_across_assistant_turns_allowed() -> None:
    messages = (asking(call("functions.f:0")) + [{"role": "tool", "tool_call_id": "functions.f:0", "content": "1"}]
                + [{"role": "assistant", "content": None, "tool_calls": [call("functions.f:0")]},
                   {"role": "tool", "tool_call_id": "functions.f:0", "content": "2"}])
    assert accepted_messages(messages) == messages


def test_second_answer_to_one_call_is_dropped() -> None:
    messages = asking(call("c1")) + [{"role": "tool", "tool_call_id": "c1", "content": "a"},
                                     {"role": "tool", "tool_call_id": "c1", "content": "b"}]
    assert accepted_messages(messages) == messages[:3]


def test_blank_tool_call_id_is_an_orphan() -> None:
    # The dropper only skips "" (Go `id != ""`); "  " names no call and is dropped.
    messages = [USER, {"role": "tool", "tool_call_id": "  ", "content": "r"}]
    assert accepted_messages(messages) == [USER]


@pytest.mark.parametrize("content", [None, "", "  ", []])
def test_tool_sentinel(content: Any) -> None:
    tool = {"role": "tool", "tool_call_id": "c1"}
    if content is not None:
        tool["content"] = content
    messages = accepted_messages(asking(call()) + [tool])
    assert messages[2]["content"] == "<empty tool result>"


@pytest.mark.parametrize(("extra", "expected"), [
    ({"tool_calls": [call()]}, {"role": "assistant", "content": None, "tool_calls": [call()]}),
    ({"content": [], "function_call": {"name": "f"}}, {"role": "assistant", "content": None, "function_call": {"name": "f"}}),
    ({"content": " ", "function_call": {"name": "f"}, "tool_calls": None},
     {"role": "assistant", "content": None, "function_call": {"name": "f"}}),
    ({"content": "hi", "function_call": None}, {"role": "assistant", "content": "hi"}),
])
def test_assistant_normalization(extra: dict[str, Any], expected: dict[str, Any]) -> None:
    message = {"role": "assistant", "content": ""}
    message.update(extra)
    assert accepted_messages([USER, message])[1] == expected


def test_flatten_keeps_text_verbatim_and_ignores_extra_keys() -> None:
    content = [{"type": "text", "text": " a "}, {"type": "text", "text": "b\n", "name": "n", "cache_control": {}}]
    assert accepted_messages([{"role": "system", "content": content}, USER])[0]["content"] == " a \nb\n"


def test_name_passes_on_other_roles_and_unknown_keys_pass() -> None:
    messages = [{"role": "user", "content": "q", "name": "bob"},
                {"role": "assistant", "content": "a", "reasoning_content": "thought", "reasoning_details": [1]},
                {"role": "function", "name": "f", "content": "42"}]
    assert accepted_messages(messages) == messages


@pytest.mark.parametrize("model", [QWEN, KIMI, MINIMAX])
def test_standard_tool_message_on_every_route(model: str) -> None:
    messages = asking(call()) + [{"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "r"}]}]
    assert accepted_messages(messages, model=model, revision="2026-05")[2] == {"role": "tool", "tool_call_id": "c1", "content": "r"}


def test_minimax_accept_rule_is_informational() -> None:
    rule = load_catalogue().by_id["accept-tool-message-minimax-shape"]
    assert rule.kind == "accept" and rule.targets == () and rule.families == ("minimax",)


# --- analyse: pointers into the client's body, every problem ----------------------------------


def test_pointers_translate_to_original_indices() -> None:
    messages = [USER,
                {"role": "tool", "tool_call_id": "gone", "content": "r"},     # dropped (orphan)
                {"role": "assistant", "content": "  "},                        # dropped (empty turn)
                {"role": "pirate", "content": "x"},                            # current index 1
                {"role": "user", "content": [{"type": "image_url"}]},         # current index 2
                {"role": "tool", "name": "n", "content": "", "tool_call_id": "gone2"}]  # dropped (orphan)
    analysis = analyse(body(messages), model=QWEN, revision="2026-05")
    found = {(r.rule, r.pointer, r.message) for r in analysis.rejections}
    assert ("schema-message-role", "/messages/3/role", 'messages[1].role has unsupported value "pirate"') in found
    assert ("reject-multimodal-content", "/messages/4/content/0/type",
            'messages[2].content[0].type has unsupported value "image_url"') in found
    drops = [(e.rule, e.pointer) for e in analysis.events if e.rule.startswith("drop-")]
    assert drops == [("drop-orphan-tool-messages", "/messages/1"), ("drop-orphan-tool-messages", "/messages/5"),
                     ("drop-empty-assistant-turns", "/messages/2")]
    assert analysis.result.message == 'messages[2].content[0].type has unsupported value "image_url"'


def test_event_pointers_after_drops() -> None:
    messages = [USER, {"role": "tool", "tool_call_id": "gone", "content": "r"}] + asking(call())[1:] + [
        {"role": "tool", "tool_call_id": "c1", "name": "f", "content": [{"type": "text", "text": "x"}]}]
    analysis = analyse(body(messages), model=QWEN, revision="2026-05")
    assert analysis.rejections == ()
    events = {(e.rule, e.pointer) for e in analysis.events}
    assert ("strip-tool-message-name", "/messages/3/name") in events
    assert ("flatten-text-parts", "/messages/3/content") in events


def test_analyse_reports_every_bad_part_and_message() -> None:
    messages = [{"role": "user", "content": [{"type": "image_url"}, {"type": "text", "text": "t"}, {"type": "video_url"}]},
                {"role": "assistant", "content": "x", "tool_calls": [call("a"), call("a")], "function_call": 3},
                {"role": "user", "content": "ok", "tool_call_id": "x"}]
    rules = [(r.rule, r.pointer) for r in analyse(body(messages), model=QWEN, revision="2026-05").rejections]
    assert rules == [
        ("reject-multimodal-content", "/messages/0/content/0/type"),
        ("reject-multimodal-content", "/messages/0/content/2/type"),
        ("reject-duplicate-tool-call-id", "/messages/1/tool_calls/1/id"),
        ("schema-function-call", "/messages/1/function_call"),
        ("reject-role-disallowed-fields", "/messages/2/tool_call_id"),
    ]


# --- catalogue hygiene ------------------------------------------------------------------------


def test_every_code_has_a_template() -> None:
    catalogue = load_catalogue()
    for rule_id in ("require-messages", "flatten-text-parts"):
        for code, owner in catalogue.by_id[rule_id].targets[0].options["delegate"].items():
            assert code in catalogue.by_id[owner].messages, (rule_id, code, owner)


# --- robustness: any JSON in messages ----------------------------------------------------------

KEYS = st.sampled_from(["role", "content", "tool_calls", "tool_call_id", "function_call", "name", "id",
                        "type", "function", "arguments", "text", "image_url"])
WORDS = st.sampled_from(["", " ", "user", "assistant", "tool", "system", "developer", "function", "text",
                         "image_url", "c1", "f", "<empty tool result>"])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | WORDS | st.text(max_size=4))
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=3), inner, max_size=6),
    max_leaves=30,
)
IDS = st.sampled_from(["c1", "c2", "", " ", None, 1])
PART = st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "", None])},
                             optional={"text": WORDS | st.none() | st.integers(), "name": WORDS})
CONTENT = WORDS | st.none() | st.lists(PART | JSONISH, max_size=3) | JSONISH
CALL = st.fixed_dictionaries({"id": IDS, "type": st.sampled_from(["function", "custom"])},
                             optional={"function": st.fixed_dictionaries({"name": WORDS | st.none()},
                                                                         optional={"arguments": WORDS | st.none() | JSONISH})})
PLAUSIBLE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "tool", "system", "developer", "function", "pirate"])},
    optional={"content": CONTENT, "tool_calls": st.none() | st.lists(CALL, max_size=3) | JSONISH, "tool_call_id": IDS,
              "function_call": st.none() | st.fixed_dictionaries({}, optional={"name": WORDS, "arguments": WORDS}) | JSONISH,
              "name": WORDS | st.none()},
)
MESSAGES = st.lists(PLAUSIBLE | JSONISH, max_size=8) | JSONISH


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=MESSAGES, model=st.sampled_from([QWEN, KIMI, MINIMAX]), revision=st.sampled_from(REVISIONS))
def test_never_raises_on_any_messages(messages: Any, model: str, revision: str) -> None:
    raw = body(messages)
    analysis = analyse(raw, model=model, revision=revision)
    result = normalize(raw, model=model, revision=revision)
    assert result.outcome in ("accepted", "rejected")
    # analyse keeps going past the first rejection but never disagrees about it
    assert (result.outcome == "rejected") == bool(analysis.rejections)
    if analysis.rejections:
        assert result.message == analysis.rejections[0].message
    if result.outcome == "accepted":
        # Normalization is idempotent on messages: the forwarded history passes unchanged.
        again = normalize(body(result.body["messages"]), model=model, revision=revision)
        assert again.outcome == "accepted" and again.body["messages"] == result.body["messages"]


# Mostly well-formed histories, so the accepted path (drops, fills, flattening) is exercised.
POOL = st.sampled_from(["c1", "c2", "c3"])
TEXT = st.sampled_from(["", " ", "hi", "x\ny"])
PARTS = st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.sampled_from(["a", " b ", "c\n"])},
                                       optional={"name": st.just("n")}), max_size=3)
BODY_CONTENT = TEXT | PARTS | st.none()
WELL_FORMED = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "developer"]), "content": st.sampled_from(["q", "w"]) | PARTS.filter(bool)},
                          optional={"name": st.just("bob")}),
    st.fixed_dictionaries({"role": st.just("assistant")},
                          optional={"content": BODY_CONTENT,
                                    "tool_calls": st.none() | st.lists(POOL.map(call), min_size=1, max_size=2, unique_by=lambda c: c["id"]),
                                    "function_call": st.none() | st.just({"name": "f", "arguments": "{}"})}),
    st.fixed_dictionaries({"role": st.just("tool"), "tool_call_id": POOL},
                          optional={"content": BODY_CONTENT, "name": st.just("f")}),
    st.fixed_dictionaries({"role": st.just("function"), "name": st.just("f"), "content": st.sampled_from(["42"]) | PARTS.filter(bool)}),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(WELL_FORMED, min_size=1, max_size=8), revision=st.sampled_from(REVISIONS))
def test_forwarded_history_is_stable(messages: list[Any], revision: str) -> None:
    result = normalize(body(messages), model=QWEN if revision == "2026-05" else KIMI, revision=revision)
    if result.outcome == "rejected":
        assert result.rule in {"require-messages", "schema-message-content"}  # emptied or blank user turns only
        return
    forwarded = result.body["messages"]
    for message in forwarded:
        assert isinstance(message.get("content"), str) or (message["role"] == "assistant" and message.get("content") is None)
        if message["role"] == "tool":
            assert "name" not in message
        assert message.get("tool_calls", 1) is not None and message.get("function_call", 1) is not None
    again = normalize(body(forwarded), model=QWEN if revision == "2026-05" else KIMI, revision=revision)
    assert again.outcome == "accepted" and again.body["messages"] == forwarded
    assert not [e for e in again.events if e.pointer.startswith("/messages")]
