"""Per-rule behaviour of the request, params, strips, thinking and token rules, per revision."""

from __future__ import annotations

import json

import pytest

from gonka_conformance.engine.pipeline import analyse, forwarded_bytes, normalize
from gonka_conformance.engine.types import Limits
from models import DEEPSEEK, GLM, HI, KIMI, MINIMAX, NEW, OLD, QWEN


def accepted(body: dict, model: str = QWEN, revision: str = NEW, **kw) -> dict:
    result = normalize({"messages": HI, **body}, model=model, revision=revision, **kw)
    assert result.outcome == "accepted", result.message
    return json.loads(forwarded_bytes(result))


def rejected(body, model: str = QWEN, revision: str = NEW, **kw):
    payload = body if isinstance(body, (bytes, str)) else {"messages": HI, **body}
    result = normalize(payload, model=model, revision=revision, **kw)
    assert result.outcome == "rejected", f"accepted: {result.body}"
    return result


def rule_ids(body: dict, model: str = QWEN, revision: str = NEW) -> set[str]:
    analysis = analyse({"messages": HI, **body}, model=model, revision=revision)
    return {e.rule for e in analysis.events} | {r.rule for r in analysis.rejections}


# --- read / scan / parse --------------------------------------------------------------------


def test_body_over_10_mib_is_413() -> None:
    body = b'{"messages":[{"role":"user","content":"' + b"a" * (10 * 1024 * 1024) + b'"}]}'
    result = rejected(body)
    assert (result.status, result.message, result.rule) == (413, "request body too large", "limit-body-size")


def test_body_at_exactly_10_mib_is_read() -> None:
    prefix, suffix = b'{"messages":[{"role":"user","content":"', b'"}]}'
    body = prefix + b"a" * (10 * 1024 * 1024 - len(prefix) - len(suffix)) + suffix
    assert len(body) == 10 * 1024 * 1024
    assert normalize(body, model=QWEN).outcome == "accepted"


def test_nesting_depth_32_passes_33_fails() -> None:
    def nested(depth: int) -> bytes:  # the body object itself is level 1
        return b'{"messages":[{"role":"user","content":"hi"}],"metadata":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
    assert normalize(nested(32), model=QWEN).rule != "limit-nesting-depth" if normalize(nested(32), model=QWEN).outcome == "rejected" else True
    result = rejected(nested(33))
    assert result.message == "request nesting depth exceeds limit 32"


def test_brackets_inside_strings_do_not_count_towards_depth() -> None:
    content = "[" * 100
    assert accepted({"messages": [{"role": "user", "content": content}]})["messages"][0]["content"] == content


@pytest.mark.parametrize("raw, message", [
    (b"", "parse request: EOF"),
    (b"   ", "parse request: EOF"),
    (b"[]", "parse request: json: cannot unmarshal array into Go value of type map[string]interface {}"),
    (b'"x"', "parse request: json: cannot unmarshal string into Go value of type map[string]interface {}"),
    (b"{", "parse request: unexpected EOF"),
    (b"{x", "parse request: invalid character 'x' looking for beginning of object key string"),
    (b"nope", "parse request: invalid character 'n' looking for beginning of value"),
    (b'{"a" 1}', "parse request: invalid character '1' after object key"),
    (b'{"a":1 "b":2}', "parse request: invalid character '\"' after object key:value pair"),
    (b'{"a":NaN}', "parse request: invalid character 'N' looking for beginning of value"),
])
def test_parse_errors_use_go_wording(raw: bytes, message: str) -> None:
    result = rejected(raw)
    assert (result.status, result.message, result.rule) == (400, message, "reject-malformed-json")


def test_trailing_bytes_after_the_object_are_ignored() -> None:
    assert normalize(b'{"messages":[{"role":"user","content":"hi"}]} trailing', model=QWEN).outcome == "accepted"


def test_large_integers_keep_their_digits() -> None:
    assert b'"seed":9007199254740993' in forwarded_bytes(normalize({"messages": HI, "seed": 9007199254740993}, model=QWEN))


# --- allowlist and extra_body ---------------------------------------------------------------


@pytest.mark.parametrize("key, rule", [
    ("tags", "reject-tags"), ("guided_json", "reject-guided-decoding"), ("guided_choice", "reject-guided-decoding"),
    ("enforced_tokens", "reject-enforced_tokens"), ("ignore_eos", "reject-vllm-internals"),
    ("prompt_logprobs", "reject-vllm-internals"), ("web_search", "reject-minimax-platform-keys"),
    ("functions", "reject-legacy-functions"), ("modalities", "reject-unknown-param"), ("best_of", "reject-unknown-param"),
])
def test_unknown_parameters_are_rejected_by_family(key: str, rule: str) -> None:
    result = rejected({key: 1})
    assert result.rule == rule and result.pointer == f"/{key}"
    assert result.message.startswith(f'Chat completions parameter "{key}" is currently rejected by the Gonka network.')
    assert result.message.endswith("file a request at https://github.com/gonka-ai/gonka/issues")


def test_unknown_key_with_quotes_is_go_quoted() -> None:
    assert rejected({'we"ird\n': 1}).message.startswith('Chat completions parameter "we\\"ird\\n" is')


def test_empty_key_has_its_own_message() -> None:
    assert rejected({"": 1}).message == "request body contains a field with an empty name"


def test_extra_body_lifted_top_level_wins_and_lifted_keys_face_the_allowlist() -> None:
    body = accepted({"temperature": 0.4, "extra_body": {"temperature": 1.9, "top_p": 0.5, "extra_body": {"x": 1}}})
    assert body["temperature"] == 0.4 and body["top_p"] == 0.5 and "extra_body" not in body
    result = rejected({"extra_body": {"tags": ["a"]}})
    assert result.rule == "reject-tags" and result.pointer == "/extra_body/tags"
    assert "extra_body" not in accepted({"extra_body": "not an object"})


def test_linter_sees_every_unknown_key() -> None:
    analysis = analyse({"messages": HI, "tags": 1, "guided_json": {}, "foo": 2}, model=QWEN)
    assert [r.rule for r in analysis.rejections] == ["reject-tags", "reject-guided-decoding", "reject-unknown-param"]


# --- sampling ---------------------------------------------------------------------------


@pytest.mark.parametrize("field, sent, expected", [
    ("temperature", 9, 2), ("temperature", -1, 0), ("temperature", "1.5", 1.5), ("min_p", 7, 1), ("min_p", -1, 0),
    ("top_p", 3, 1), ("repetition_penalty", "5.0", 2), ("frequency_penalty", -9, -2), ("presence_penalty", 2.5, 2),
    ("top_k", "40", 40),
])
def test_sampling_values_are_sanitized_and_clamped(field: str, sent, expected) -> None:
    assert accepted({field: sent})[field] == expected


@pytest.mark.parametrize("value", ["nan", "Infinity", "-inf", "abc", " 1", True, [1], {"a": 1}, "1_0"])
def test_non_numeric_sampling_values_vanish(value) -> None:
    assert "temperature" not in accepted({"temperature": value})


@pytest.mark.parametrize("field, value, message", [
    ("top_p", 0, "top_p: must be greater than 0"), ("top_p", "-1", "top_p: must be greater than 0"),
    ("repetition_penalty", 0, "repetition_penalty: must be greater than 0"),
    ("top_k", 0, "top_k: must be -1 or a positive integer"), ("top_k", -2, "top_k: must be -1 or a positive integer"),
    ("top_k", 0.5, "top_k: must be -1 or a positive integer"),
])
def test_out_of_range_sampling_is_rejected(field: str, value, message: str) -> None:
    result = rejected({field: value})
    assert (result.message, result.rule) == (message, "reject-out-of-range-sampling")


@pytest.mark.parametrize("value", [-1, 1, 1.5, 40])
def test_top_k_accepted_values(value) -> None:
    assert accepted({"top_k": value})["top_k"] == value


def test_kimi_forces_penalties_to_zero_but_minimax_keeps_them() -> None:
    kimi = accepted({"frequency_penalty": 0.5, "presence_penalty": -1.5}, model=KIMI)
    assert (kimi["frequency_penalty"], kimi["presence_penalty"]) == (0, 0)
    minimax = accepted({"frequency_penalty": 0.5}, model=MINIMAX)
    assert minimax["frequency_penalty"] == 0.5


def test_logit_bias_filtering_and_cap() -> None:
    assert accepted({"logit_bias": {"1": 10, "2": 101, "3": "x", "4": -100}})["logit_bias"] == {"1": 10, "3": "x", "4": -100}
    assert "logit_bias" not in accepted({"logit_bias": {"1": 1e30}})
    assert rejected({"logit_bias": {str(i): 1 for i in range(1025)}}).message == "logit_bias: map size 1025 exceeds limit 1024"
    assert len(accepted({"logit_bias": {str(i): 1 for i in range(1024)}})["logit_bias"]) == 1024


# --- n ----------------------------------------------------------------------------------


@pytest.mark.parametrize("revision, n, temperature, expected", [
    (OLD, 0, None, 1), (OLD, 3, None, 3), (OLD, 99, None, 5), (OLD, 3, 0, 1), (OLD, 3, "0", 1),
    (NEW, 0, None, 1), (NEW, 3, None, 1), (NEW, 1638400, None, 1),
])
def test_n_coercion_per_revision(revision: str, n: int, temperature, expected: int) -> None:
    body = {"n": n} if temperature is None else {"n": n, "temperature": temperature}
    assert accepted(body, revision=revision)["n"] == expected


@pytest.mark.parametrize("n", [-1, 1.5, "2", 2.0])
def test_non_integer_n_fails_the_typed_decode(n) -> None:
    assert rejected({"n": n}).message == "parse request: n must be a non-negative integer"


def test_absent_n_stays_absent() -> None:
    assert "n" not in accepted({})


# --- types and bounds -------------------------------------------------------------------


@pytest.mark.parametrize("body, message", [
    ({"seed": -5}, "seed: must be a non-negative integer"),
    ({"seed": "42"}, "seed: must be a non-negative integer"),
    ({"seed": 2**64}, "seed: must be a non-negative integer"),
    ({"min_tokens": 1.5}, "min_tokens: must be a non-negative integer"),
    ({"skip_special_tokens": "yes"}, "skip_special_tokens: must be a boolean"),
    ({"detokenize": 1}, "detokenize: must be a boolean"),
    ({"parallel_tool_calls": "true"}, "parallel_tool_calls: must be a boolean"),
    ({"stop": ["a", 1]}, "stop[1]: must be a string"),
    ({"bad_words": [None]}, "bad_words[0]: must be a string"),
    ({"stream": "true"}, "parse request: stream must be a boolean"),
    ({"model": 7}, "parse request: model must be a string"),
    ({"max_tokens": "100"}, "parse request: max_tokens must be a non-negative integer"),
    ({"max_completion_tokens": 100.0}, "parse request: max_completion_tokens must be a non-negative integer"),
    ({"stop": ["x"] * 17}, "stop: array length 17 exceeds limit 16"),
    ({"stop": ["x" * 257]}, "stop[0]: string length 257 exceeds limit 256"),
    ({"bad_words": ["w"] * 65}, "bad_words: array length 65 exceeds limit 64"),
    ({"bad_words": ["é" * 65]}, "bad_words[0]: string length 130 exceeds limit 128"),
    ({"user": 5}, "user: invalid wrapper shape: must be a string"),
    ({"user": "x" * 513}, "user: length exceeded: 513 > 512"),
    ({"prompt_cache_key": ["a"]}, "prompt_cache_key: invalid wrapper shape: must be a string"),
    ({"max_tokens": -3}, "max_tokens: must be greater than 0"),
    ({"max_completion_tokens": 0}, "max_completion_tokens: must be greater than 0"),
])
def test_field_rejections(body: dict, message: str) -> None:
    assert rejected(body).message == message


def test_nulls_count_as_absent() -> None:
    body = accepted({"seed": None, "stream": None, "max_tokens": None, "skip_special_tokens": None})
    assert body["max_tokens"] == 3072 and body["seed"] is None


def test_single_string_stop_is_not_length_checked() -> None:
    assert accepted({"stop": "x" * 1000})["stop"] == "x" * 1000


def test_stop_token_ids_validated_in_2026_05_and_stripped_in_2026_09() -> None:
    assert rejected({"stop_token_ids": [1, "two"]}, revision=OLD).message == "stop_token_ids[1]: must be an integer token id"
    assert rejected({"stop_token_ids": [1] * 65}, revision=OLD).message == "stop_token_ids: array length 65 exceeds limit 64"
    assert "stop_token_ids" not in accepted({"stop_token_ids": [1, "two"]}, revision=NEW)


def test_min_tokens_per_revision() -> None:
    assert accepted({"min_tokens": 5000, "max_tokens": 100}, revision=OLD)["min_tokens"] == 100
    assert "min_tokens" not in accepted({"min_tokens": 10, "stop_token_ids": [1]}, revision=OLD)
    assert "min_tokens" not in accepted({}, revision=OLD)
    assert accepted({}, revision=NEW)["min_tokens"] == 64
    assert accepted({"min_tokens": 100}, revision=NEW)["min_tokens"] == 100
    assert accepted({"min_tokens": 5000, "max_tokens": 200}, revision=NEW)["min_tokens"] == 200


def test_logprobs_forced_in_2026_05_checked_in_2026_09() -> None:
    old = accepted({"logprobs": False, "top_logprobs": 20}, revision=OLD)
    assert (old["logprobs"], old["top_logprobs"]) == (True, 5)
    new = accepted({"logprobs": False, "top_logprobs": 20})
    assert (new["logprobs"], new["top_logprobs"]) == (False, 5)
    assert "logprobs" not in accepted({})
    assert rejected({"logprobs": "yes"}).message == "logprobs: must be a boolean"
    assert rejected({"top_logprobs": -1}).message == "top_logprobs: must be a non-negative integer"


def test_return_token_ids_always_forced() -> None:
    assert accepted({"return_token_ids": False}, revision=OLD)["return_token_ids"] is True
    assert accepted({})["return_token_ids"] is True


# --- stream options ---------------------------------------------------------------------


def test_stream_options_rules() -> None:
    old = accepted({"stream": False, "stream_options": {"include_usage": True}}, revision=OLD)
    assert "stream_options" not in old
    kept = accepted({"stream": True, "stream_options": {"include_usage": True, "continuous_usage_stats": True}}, revision=OLD)
    assert kept["stream_options"] == {"include_usage": True}
    assert "stream_options" not in accepted({"stream": True, "stream_options": {"x": 1}}, revision=OLD)
    assert rejected({"stream": True, "stream_options": 3}).message == "stream_options: invalid wrapper shape: must be an object"


def test_newest_forces_upstream_stream_with_usage() -> None:
    body = accepted({"stream": False})
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "stream" not in accepted({}, revision=OLD)


# --- strips -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["service_tier", "store", "provider", "plugins", "cache_key", "extra_headers",
                                   "thinking_config", "think", "prompt_cache_key"])
def test_silent_strips(field: str) -> None:
    value = "session-1" if field == "prompt_cache_key" else {"any": ["thing"]}
    assert field not in accepted({field: value})
    assert f"strip-{field}" in rule_ids({field: value})


def test_safety_identifier_kept_on_kimi_stripped_elsewhere_without_type_check() -> None:
    assert accepted({"safety_identifier": "h"}, model=KIMI)["safety_identifier"] == "h"
    assert rejected({"safety_identifier": 5}, model=KIMI).message == "safety_identifier: invalid wrapper shape: must be a string"
    assert "safety_identifier" not in accepted({"safety_identifier": 5}, model=MINIMAX)


# --- reasoning and thinking -----------------------------------------------------------------


def test_reasoning_translation_per_revision() -> None:
    assert accepted({"reasoning": {"effort": "high", "exclude": True}})["reasoning_effort"] == "high"
    assert "reasoning_effort" not in accepted({"reasoning": {"effort": "high"}}, revision=OLD)
    assert "reasoning_effort" not in accepted({"reasoning": {"enabled": False, "effort": "high"}}, revision=OLD)
    assert accepted({"reasoning": {"enabled": False, "effort": "high"}})["reasoning_effort"] == "none"
    assert accepted({"reasoning": {"effort": "high"}, "reasoning_effort": "low"})["reasoning_effort"] == "low"
    assert "reasoning" not in accepted({"reasoning": "on"})


def test_reasoning_effort_enum() -> None:
    assert rejected({"reasoning_effort": "max"}, revision=OLD).message == 'reasoning_effort: unsupported value: got "max"'
    for model in (KIMI, MINIMAX, QWEN, DEEPSEEK, GLM):  # newest: max joins the enum on every route
        assert accepted({"reasoning_effort": "max"}, model=model)["reasoning_effort"] == "max"
    assert rejected({"reasoning_effort": ""}).message == 'reasoning_effort: unsupported value: got ""'
    assert rejected({"reasoning_effort": 1}).message == "reasoning_effort: invalid shape: must be a string"
    assert rejected({"reasoning": {"effort": "ultra"}}).message == 'reasoning_effort: unsupported value: got "ultra"'


def test_enable_thinking_translation() -> None:
    assert accepted({"enable_thinking": False})["chat_template_kwargs"] == {"enable_thinking": False}
    kept = accepted({"enable_thinking": False, "chat_template_kwargs": {"enable_thinking": True}})
    assert kept["chat_template_kwargs"] == {"enable_thinking": True} and "enable_thinking" not in kept
    assert rejected({"enable_thinking": "no"}).message == "enable_thinking: must be a boolean: got string"
    assert rejected({"enable_thinking": 1}).message == "enable_thinking: must be a boolean: got json.Number"
    assert "enable_thinking" not in accepted({"enable_thinking": "anything"}, model=MINIMAX)


def test_thinking_per_family_and_revision() -> None:
    kimi = accepted({"thinking": {"type": "disabled"}}, model=KIMI)
    assert kimi["chat_template_kwargs"]["thinking"] is False and "thinking" not in kimi
    assert accepted({"thinking": {"type": "adaptive"}}, model=KIMI)["chat_template_kwargs"]["thinking"] is True
    qwen = accepted({"thinking": {"type": "auto", "display": "summarized"}})
    assert qwen["thinking"] == {"type": "enabled"}
    assert "thinking" not in accepted({"thinking": "garbage"}, model=MINIMAX)
    assert rejected({"thinking": {"type": "adaptive"}}, revision=OLD).message.endswith('got "adaptive"')
    assert rejected({"thinking": True}).message == "thinking: invalid wrapper shape: must be an object"
    assert rejected({"thinking": {}}).message.endswith("type is required")


def test_reasoning_split_and_thinking_token_budget_by_family() -> None:
    assert accepted({"reasoning_split": True}, model=MINIMAX)["reasoning_split"] is True
    assert "reasoning_split" not in accepted({"reasoning_split": True})
    assert "thinking_token_budget" not in accepted({"thinking_token_budget": 10}, model=MINIMAX)


def test_glm_thinking_is_always_on() -> None:
    body = accepted({"enable_thinking": False, "chat_template_kwargs": {"thinking": False}}, model=GLM)
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert "chat_template_kwargs" not in accepted({}, model=GLM, revision=OLD)


# --- output tokens and the Kimi resolver -------------------------------------------------------


@pytest.mark.parametrize("body, admin, expected", [
    ({}, False, {"max_tokens": 3072}),
    ({"max_tokens": 8000}, False, {"max_tokens": 4096}),
    ({"max_tokens": 8000}, True, {"max_tokens": 8000}),
    ({"max_completion_tokens": 9000}, False, {"max_tokens": 4096, "max_completion_tokens": 4096}),
    ({"max_tokens": 500, "max_completion_tokens": 300}, False, {"max_tokens": 300, "max_completion_tokens": 300}),
    ({"max_tokens": 9000, "max_completion_tokens": 5000}, False, {"max_tokens": 4096, "max_completion_tokens": 4096}),
])
def test_output_token_resolution(body: dict, admin: bool, expected: dict) -> None:
    got = accepted(body, admin=admin, revision=OLD)
    assert {k: got.get(k) for k in expected} == expected
    if "max_completion_tokens" not in body:
        assert "max_completion_tokens" not in got


def test_custom_limits_and_broker_profile_cap() -> None:
    assert accepted({}, limits=Limits(1000, 2000))["max_tokens"] == 1000
    assert accepted({"max_tokens": 4000}, profile="gonka-api.org")["max_tokens"] == 3072


def test_floor_of_64_in_newest_only() -> None:
    assert accepted({"max_tokens": 10}, revision=OLD)["max_tokens"] == 10
    new = accepted({"max_tokens": 10, "max_completion_tokens": 10})
    assert (new["max_tokens"], new["max_completion_tokens"], new["min_tokens"]) == (64, 64, 64)


@pytest.mark.parametrize("revision, sent, expected", [(OLD, 0, 16), (OLD, 5, 16), (NEW, 0, 64), (NEW, 20, 64)])
def test_kimi_max_tokens_floor(revision: str, sent: int, expected: int) -> None:
    assert accepted({"max_tokens": sent}, model=KIMI, revision=revision)["max_tokens"] == expected


@pytest.mark.parametrize("body, expected_ttb", [
    ({}, 1536), ({"max_tokens": 4096}, 2048), ({"max_tokens": 256}, 128), ({"max_tokens": 255}, 0),
    ({"max_tokens": 4096, "thinking_token_budget": 10000}, 4032), ({"max_tokens": 1000, "thinking_token_budget": 0}, 0),
    ({"max_tokens": 1000, "thinking_token_budget": 300}, 300), ({"max_tokens": 1000, "thinking_token_budget": "9"}, "9"),
    ({"max_tokens": 100, "thinking_token_budget": 50}, 0),
])
def test_kimi_thinking_budget_resolver(body: dict, expected_ttb) -> None:
    assert accepted(body, model=KIMI)["thinking_token_budget"] == expected_ttb


def test_kimi_budget_cap_96000_with_admin() -> None:
    assert accepted({"max_tokens": 200000, "thinking_token_budget": 150000}, model=KIMI, admin=True)["thinking_token_budget"] == 96000


@pytest.mark.parametrize("asked", [
    {"thinking": {"type": "enabled"}}, {"thinking": {"type": "adaptive"}},
    {"chat_template_kwargs": {"thinking": True}}, {},
])
def test_kimi_force_zero_silences_the_template_whatever_the_client_asked(asked: dict) -> None:
    out = accepted({"max_tokens": 100, **asked}, model=KIMI)
    assert out["chat_template_kwargs"]["thinking"] is False and out["thinking_token_budget"] == 0
    if asked.get("thinking", {}).get("type") == "adaptive":
        return  # 2026-05 rejects adaptive (reject-invalid-thinking)
    old = accepted({"max_tokens": 100, **asked}, model=KIMI, revision=OLD)  # 2026-05: the budget only
    assert old["thinking_token_budget"] == 0 and "thinking" not in old
    assert old.get("chat_template_kwargs", {}).get("thinking", None) is not False


def test_families_match_broker_spellings() -> None:
    for model in ("moonshotai/kimi-k2.6", "gonka/moonshotai/Kimi-K2.6", "KIMI-K2.6"):
        assert accepted({"frequency_penalty": 1}, model=model)["frequency_penalty"] == 0
    result = normalize({"model": " MiniMaxAI/MiniMax-M2.7 ", "messages": HI, "reasoning_split": 1}, model=KIMI)
    assert result.family == "minimax" and result.body["reasoning_split"] == 1


# --- profiles -------------------------------------------------------------------------------


def test_gonkagate_rejects_plugins_and_has_no_force_zero() -> None:
    result = rejected({"plugins": [{"id": "web"}]}, profile="gonkagate.com")
    assert (result.status, result.message, result.rule) == (400, "Plugin config is invalid", "strip-plugins")
    body = accepted({"max_tokens": 100}, model="moonshotai/kimi-k2.6", profile="gonkagate.com")
    assert body["thinking_token_budget"] == 36 and "chat_template_kwargs" not in body
    assert "plugins" not in accepted({"plugins": [1]}, profile="gonka-api.org")
