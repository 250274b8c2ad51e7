"""The simulated model and the response rules, without a server: token rules observable in the
answer, family formats, determinism, and the client's intent recovered from engine events."""

from __future__ import annotations

import json
import re

import pytest

from gonka_conformance.catalogue.loader import load_catalogue
from gonka_conformance.engine.pipeline import normalize
from gonka_conformance.engine.gateway import client_intent, responder
from gonka_conformance.gateway.respond import upstream_chunks, upstream_completion
from gonka_conformance.gateway.simulate import answer_length, simulate
from models import DEEPSEEK, GLM, KIMI, MINIMAX, NEW, OLD, QWEN

WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}}, "required": ["city"]}}}]


def run(body: dict, model: str = KIMI, revision: str = NEW, **kw):
    result = normalize(json.dumps({"model": model, **body}).encode(), revision=revision, **kw)
    assert result.outcome == "accepted", result.message
    return result, simulate(result.body, model=result.model, family=result.family)


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_prompt_length_parsing():
    assert answer_length("Write 6000 words about the sea.") == ("words", 6000)
    assert answer_length("answer in one word") == ("words", 1)
    assert answer_length("emit 1,500 tokens") == ("tokens", 1500)
    assert answer_length("Write an essay about rivers")[1] > 4096
    assert answer_length("How long do hamsters live?") == ("words", 12)  # "long" alone is not long-form


def test_output_follows_the_prompt_and_stops_at_resolved_max_tokens():
    _, short = run({"messages": ask("Say hi in 10 words"), "thinking_token_budget": 0, "max_tokens": 1000})
    choice = short.choices[0]
    assert choice.finish_reason == "stop" and 10 <= len(choice.content) < 1000
    result, long = run({"messages": ask("Write 6000 words about the sea."), "max_tokens": 8000}, model=QWEN)
    assert result.body["max_tokens"] == 4096  # capped by the engine
    assert long.choices[0].finish_reason == "length" and long.choices[0].completion_tokens == 4096
    assert long.usage["completion_tokens"] == 4096


def test_admin_bypasses_the_cap():
    _, sim = run({"messages": ask("Write 9000 tokens of text"), "max_tokens": 8000}, model=QWEN, admin=True)
    assert sim.choices[0].completion_tokens == 8000 and sim.choices[0].finish_reason == "length"


def test_min_tokens_floor_keeps_the_model_from_stopping_early():
    _, sim = run({"messages": ask("one word"), "max_tokens": 500}, model=QWEN)
    assert sim.choices[0].completion_tokens == 64  # newest: min_tokens forced to 64
    _, old = run({"messages": ask("one word"), "max_tokens": 500}, model=QWEN, revision=OLD)
    assert old.choices[0].completion_tokens < 64


def test_kimi_spends_the_resolved_budget_first():
    result, sim = run({"messages": ask("hi"), "max_tokens": 1024})
    assert result.body["thinking_token_budget"] == 512
    choice = sim.choices[0]
    assert choice.reasoning_tokens == 512 and len(choice.reasoning) == 512 and choice.content
    assert sim.usage["completion_tokens_details"]["reasoning_tokens"] == 512


def test_kimi_think_burn_reproduced_when_nothing_is_left():
    # A non-integer budget is forwarded unclamped (contract.md §3 step 7): thinking never stops.
    result, sim = run({"messages": ask("hi"), "max_tokens": 300, "thinking_token_budget": "5000"})
    assert result.body["thinking_token_budget"] == "5000"
    choice = sim.choices[0]
    assert choice.content is None and choice.finish_reason == "length"
    assert choice.reasoning_tokens == choice.completion_tokens == 300


def test_kimi_small_max_tokens_forces_zero_budget_so_content_survives():
    _, sim = run({"messages": ask("one word"), "max_tokens": 100})
    assert sim.choices[0].reasoning_tokens == 0 and sim.choices[0].content


def test_kimi_budget_burns_out_before_a_tool_call():
    # ttb clamps to max_tokens - 64; a call larger than the 64 left cannot be emitted.
    big = [{"type": "function", "function": {"name": "write_file", "parameters": {
        "type": "object", "properties": {f"field_{i}": {"type": "string"} for i in range(20)}}}}]
    _, sim = run({"messages": ask("call write_file"), "tools": big, "max_tokens": 400, "thinking_token_budget": 10_000})
    choice = sim.choices[0]
    assert choice.finish_reason == "length" and choice.content is None and not choice.tool_calls


def test_minimax_thinks_inside_content():
    _, sim = run({"messages": ask("hi")}, model=MINIMAX)
    text = "".join(sim.choices[0].content)
    assert text.startswith("<think>\n") and "\n</think>\n\n" in text and not sim.choices[0].reasoning
    assert not sim.style.separate_reasoning


@pytest.mark.parametrize("model", [GLM, DEEPSEEK])
def test_reasoning_families_use_reasoning_content(model):
    _, sim = run({"messages": ask("hi")}, model=model)
    assert sim.choices[0].reasoning and sim.style.separate_reasoning


def test_tool_call_id_formats():
    _, kimi = run({"messages": ask("Call get_weather for 'Paris'"), "tools": WEATHER, "thinking_token_budget": 0})
    call = kimi.choices[0].tool_calls[0]
    assert call.id == "functions.get_weather:0" and json.loads(call.arguments) == {"city": "Paris"}
    assert kimi.choices[0].finish_reason == "tool_calls" and kimi.choices[0].content is None
    _, minimax = run({"messages": ask("Call get_weather for 'Paris'"), "tools": WEATHER}, model=MINIMAX)
    assert re.fullmatch(r"chatcmpl-tool-[0-9a-f]{32}", minimax.choices[0].tool_calls[0].id)


def test_kimi_tool_ids_count_history_and_repeat_across_choices():
    history = [
        {"role": "user", "content": "call get_weather"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "functions.get_weather:0", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "sunny"},
        {"role": "user", "content": "again, call get_weather"},
    ]
    _, sim = run({"messages": history, "tools": WEATHER, "thinking_token_budget": 0, "n": 2}, revision=OLD)
    assert [c.tool_calls[0].id for c in sim.choices] == ["functions.get_weather:1"] * 2  # FAQ Q5 duplicate ids


def test_no_tool_call_without_an_ask_or_after_a_tool_result():
    _, sim = run({"messages": ask("hello there"), "tools": WEATHER}, model=QWEN)
    assert not sim.choices[0].tool_calls
    turn = [*ask("call get_weather"), {"role": "assistant", "content": None, "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "sunny"}]
    _, after = run({"messages": turn, "tools": WEATHER}, model=QWEN)
    assert not after.choices[0].tool_calls and after.choices[0].finish_reason == "stop"


def test_n_after_coercion():
    _, new = run({"messages": ask("hi"), "n": 3}, model=QWEN)
    assert len(new.choices) == 1
    _, old = run({"messages": ask("hi"), "n": 3, "temperature": 0.7}, model=QWEN, revision=OLD)
    assert len(old.choices) == 3 and len({"".join(c.content) for c in old.choices}) == 3
    _, zero = run({"messages": ask("hi"), "n": 3, "temperature": 0}, model=QWEN, revision=OLD)
    assert len(zero.choices) == 1


def test_stop_strings_cut_the_answer():
    _, sim = run({"messages": ask("Write 200 words"), "stop": ["."]}, model=QWEN, revision=OLD)
    assert "." not in "".join(sim.choices[0].content) and sim.choices[0].finish_reason == "stop"


def test_deterministic_for_a_given_forwarded_body():
    first = run({"messages": ask("Write 50 words about stone")}, model=QWEN)[1]
    again = run({"messages": ask("Write 50 words about stone")}, model=QWEN)[1]
    other = run({"messages": ask("Write 50 words about stones")}, model=QWEN)[1]
    assert first.choices[0].content == again.choices[0].content != other.choices[0].content


# --- response rules and the client's intent -------------------------------------------------


ID_PARTS = {"escrow": 1, "inference": 1}  # devshard-1-1


def shaped(body: dict, model: str = QWEN, revision: str = NEW):
    result, sim = run(body, model=model, revision=revision)
    intent = client_intent(result)
    shaper = responder(load_catalogue(), revision, None, result, ID_PARTS)
    if intent.stream:
        return intent, [c for c in (shaper.shape(chunk, True) for chunk in upstream_chunks(sim, 0)) if c is not None]
    return intent, shaper.shape(upstream_completion(sim, 0), False)


@pytest.mark.parametrize("revision", [OLD, NEW])
@pytest.mark.parametrize("model", [KIMI, QWEN, GLM])
@pytest.mark.parametrize("extra", [
    {}, {"stream": True}, {"stream": True, "stream_options": {"include_usage": True}}, {"logprobs": True, "top_logprobs": 2},
    {"stream": True, "logprobs": True}, {"n": 2}, {"n": 2, "stream": True, "logprobs": True}, {"return_token_ids": True},
    {"tools": WEATHER, "messages": ask("What is the weather in Paris? Use the tool.")},
])
def test_fields_the_gateway_strips_need_not_be_rendered(revision: str, model: str, extra: dict):
    """The host skips what the response rules strip (``Responder.removes``): the client's answer
    is exactly the one shaped from the full host output, and no stripped field is in either."""
    result, sim = run({"messages": ask("Write 30 words about rivers"), **extra}, model=model, revision=revision)
    shaper = responder(load_catalogue(), revision, None, result, ID_PARTS)
    if client_intent(result).stream:
        full = [shaper.shape(c, True) for c in upstream_chunks(sim, 0)]
        lean = [shaper.shape(c, True) for c in upstream_chunks(sim, 0, shaper.removes)]
    else:
        full = shaper.shape(upstream_completion(sim, 0), False)
        lean = shaper.shape(upstream_completion(sim, 0, shaper.removes), False)
    assert shaper.removes  # every revision strips token ids
    assert json.dumps(lean) == json.dumps(full)
    assert not any(f'"{name}"' in json.dumps(lean) for name in shaper.removes)
    rendered = json.dumps(upstream_completion(sim, 0, shaper.removes))
    assert '"token_ids"' not in rendered and '"prompt_token_ids"' not in rendered  # never built


def test_client_intent_survives_forced_upstream_stream():
    result, _ = run({"messages": ask("hi")}, model=QWEN)
    assert result.body["stream"] is True  # newest: the upstream always streams
    assert client_intent(result).stream is False
    result, _ = run({"messages": ask("hi"), "stream": True}, model=QWEN)
    assert client_intent(result).stream and not client_intent(result).include_usage
    result, _ = run({"messages": ask("hi"), "stream": True, "stream_options": {"include_usage": True}}, model=QWEN)
    assert client_intent(result).include_usage
    result, _ = run({"messages": ask("hi"), "extra_body": {"stream": True}}, model=QWEN)
    assert client_intent(result).stream


def test_client_intent_logprobs_ignores_forced_logprobs():
    result, sim = run({"messages": ask("hi")}, model=QWEN, revision=OLD)
    assert result.body["logprobs"] is True and sim.logprobs  # 2026-05 forces logprobs upstream
    assert client_intent(result).logprobs is False
    result, _ = run({"messages": ask("hi"), "top_logprobs": 2, "logprobs": True}, model=QWEN, revision=OLD)
    assert client_intent(result).logprobs


def test_response_rules_strip_and_rewrite():
    _, body = shaped({"messages": ask("hi")}, revision=OLD)
    text = json.dumps(body)
    assert body["id"] == "devshard-1-1"
    for field in ("token_ids", "prompt_token_ids", "prompt_logprobs", "logprobs"):
        assert f'"{field}"' not in text
    _, asked = shaped({"messages": ask("hi"), "logprobs": True, "top_logprobs": 2})
    entries = asked["choices"][0]["logprobs"]["content"]
    assert entries and len(entries[0]["top_logprobs"]) == 2 and "token_ids" not in asked["choices"][0]
    _, forced = shaped({"messages": ask("hi"), "logprobs": True, "top_logprobs": 2}, revision=OLD)
    assert len(forced["choices"][0]["logprobs"]["content"][0]["top_logprobs"]) == 5  # 2026-05 forces top_logprobs 5


def test_stream_usage_only_when_asked():
    _, chunks = shaped({"messages": ask("hi"), "stream": True})
    assert all("usage" not in c for c in chunks) and all(c["choices"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    _, with_usage = shaped({"messages": ask("hi"), "stream": True, "stream_options": {"include_usage": True}})
    assert with_usage[-1]["choices"] == [] and with_usage[-1]["usage"]["completion_tokens"] > 0


# --- review regressions: response-rule data and applicability come from the catalogue -------------


def test_strip_fields_and_the_token_estimate_come_from_the_catalogue():
    """The strip fields are the verbs' options (not the live examples' no_fields), and the
    admission estimate is the admission verb's bytes_per_token."""
    from gonka_conformance.engine.gateway import route
    from gonka_conformance.engine.types import RouteFacts

    catalogue = load_catalogue()
    result, _ = run({"messages": ask("hi")}, model=QWEN)
    assert responder(catalogue, NEW, None, result, ID_PARTS).removes == {
        "token_ids", "prompt_token_ids", "prompt_logprobs", "logprobs", "logprob"}
    asked, _ = run({"messages": ask("hi"), "logprobs": True}, model=QWEN)
    assert responder(catalogue, NEW, None, asked, ID_PARTS).removes == {"token_ids", "prompt_token_ids", "prompt_logprobs"}
    seen: list[int] = []
    for size, tokens in ((0, 1), (9, 3)):
        assert route(catalogue, NEW, None, RouteFacts(admit=lambda n: seen.append(n), body_size=size)) is None
        assert seen[-1] == tokens


def test_response_rules_follow_the_engine_plan_including_inactive_divergences():
    import dataclasses

    from gonka_conformance.catalogue.model import Divergence

    catalogue = load_catalogue()
    rule = "strip-stream-usage-unless-asked"
    result, _ = run({"messages": ask("hi"), "stream": True}, model=QWEN)
    assert responder(catalogue, "2026-09", None, result, ID_PARTS).stream_removes == {"usage"}
    assert not responder(catalogue, "2026-05", None, result, ID_PARTS).stream_removes  # newest only
    broker = next(iter(catalogue.brokers.values()))
    fields = {f.name for f in dataclasses.fields(Divergence)}
    inactive = Divergence(**{name: None for name in fields} | {"rule": rule, "behaviour": "inactive"})
    patched = dataclasses.replace(catalogue, brokers={**catalogue.brokers, broker.id: dataclasses.replace(
        broker, divergences=(*broker.divergences, inactive))})
    assert not responder(patched, "2026-09", broker.id, result, ID_PARTS).stream_removes


@pytest.mark.parametrize(("extra", "kept"), [
    ({"logprobs": 1}, False),             # 2026-05 forwards it; only `true` asks for logprobs
    ({"top_logprobs": 1}, True),          # a positive top_logprobs asks for them
    ({"top_logprobs": 0}, False),
    ({"logprobs": True}, True),
])
def test_only_true_or_a_positive_top_logprobs_keeps_logprobs(extra: dict, kept: bool):
    result, _ = run({"messages": ask("hi"), **extra}, model=QWEN, revision=OLD)
    removes = responder(load_catalogue(), OLD, None, result, ID_PARTS).removes
    assert ("logprobs" not in removes) is kept and client_intent(result).logprobs is kept


def test_the_stream_end_event_is_the_rules_option():
    """stream-done-sentinel's respond verb names the end event; the gateway writes what it says."""
    result, _ = run({"messages": ask("hi"), "stream": True}, model=QWEN)
    assert responder(load_catalogue(), NEW, None, result, ID_PARTS).stream_end == "[DONE]"
