"""Properties that must hold for any payload (Hypothesis)."""

from __future__ import annotations

import json
import math

from hypothesis import example, HealthCheck, given, settings
from hypothesis import strategies as st

from gonka_conformance.engine.pipeline import analyse, forwarded_bytes, normalize
from models import ALL_MODELS as MODELS, CATALOGUE, KIMI, MINIMAX, NEW, OLD, REVISIONS

ALLOWED = set(CATALOGUE.by_id["reject-unknown-param"].targets[0].options["allowed"])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["nan", "inf", "1.5", "-0", "auto", "required", "none", "enabled", "disabled", "adaptive"]),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "tool", "developer", "function"]),
     "content": st.one_of(st.text(max_size=20), st.just([{"type": "text", "text": "a"}]), st.none())},
    optional={"tool_call_id": st.sampled_from(["c1", "c2"]), "name": st.just("f"),
              "tool_calls": st.just([{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}])},
)
field_values = {
    "temperature": st.one_of(st.floats(-5, 5), st.text(max_size=5)), "top_p": st.floats(-1, 3),
    "top_k": st.integers(-3, 50), "min_p": st.floats(-2, 2), "repetition_penalty": st.floats(-1, 5),
    "frequency_penalty": st.floats(-5, 5), "presence_penalty": st.floats(-5, 5), "n": st.integers(0, 10),
    "max_tokens": st.integers(0, 20000), "max_completion_tokens": st.integers(0, 20000),
    "stream": st.booleans(), "stream_options": st.dictionaries(st.sampled_from(["include_usage", "x"]), st.booleans()),
    "stop": st.lists(st.text(max_size=5), max_size=20), "seed": st.integers(0, 2**40),
    "thinking_token_budget": st.integers(0, 200000), "thinking": st.fixed_dictionaries({"type": st.sampled_from(["enabled", "disabled", "auto"])}),
    "enable_thinking": st.booleans(), "reasoning": st.fixed_dictionaries({"effort": st.sampled_from(["low", "high"])}),
    "logit_bias": st.dictionaries(st.sampled_from(["1", "2", "3"]), st.floats(-200, 200)),
    "plugins": json_values, "store": json_values, "user": st.text(max_size=10), "min_tokens": st.integers(0, 5000),
}
bodies = st.fixed_dictionaries(
    {"messages": st.lists(message, min_size=1, max_size=4)},
    optional={name: strategy for name, strategy in field_values.items()},
)
settings.register_profile("engine", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("engine")


@given(bodies, st.sampled_from(MODELS), st.sampled_from(REVISIONS))
@example({"messages": [{"role": "user", "content": "hi"}], "min_p": -0.0}, KIMI, OLD)
@example({"messages": [{"role": "user", "content": "hi"}], "seed": -0.0}, MINIMAX, NEW)
@example({"messages": [{"role": "user", "content": "hi"}], "temperature": -1.0, "n": 2}, KIMI, OLD)
def test_normalizing_an_accepted_body_again_changes_nothing(body, model, revision) -> None:
    first = normalize(body, model=model, revision=revision)
    if first.outcome != "accepted":
        return
    once = forwarded_bytes(first)
    second = normalize(once, model=model, revision=revision)
    assert second.outcome == "accepted", second.message
    if forwarded_bytes(second) != once:
        # The one change upstream makes on a second pass (contract.md §2.1 row 7, older
        # revision): `n` is forced to 1 when the *raw* temperature is 0, so a temperature the
        # first pass clamped to 0 meets that rule only the second time.
        assert {event.rule for event in second.events} == {"coerce-n-when-temperature-zero"}, second.events
        assert any(event.rule == "clamp-temperature" and event.after == 0 for event in first.events)


@given(bodies, st.sampled_from(MODELS), st.sampled_from(REVISIONS), st.text(min_size=1, max_size=20))
def test_an_unknown_top_level_key_is_always_rejected_and_named(body, model, revision, key) -> None:
    if key in ALLOWED or key == "extra_body":
        return
    result = normalize({**body, key: 1}, model=model, revision=revision)
    assert result.outcome == "rejected" and result.status == 400
    assert result.pointer == "/" + key.replace("~", "~0").replace("/", "~1")
    assert "is currently rejected by the Gonka network" in result.message


@given(bodies, st.sampled_from(MODELS), st.sampled_from(REVISIONS))
def test_every_accepted_body_respects_every_bound(body, model, revision) -> None:
    result = normalize(body, model=model, revision=revision)
    if result.outcome != "accepted":
        return
    out = json.loads(forwarded_bytes(result))
    assert not set(out) - ALLOWED
    for name, low, high in [("temperature", 0, 2), ("top_p", 0, 1), ("min_p", 0, 1), ("repetition_penalty", 0, 2),
                            ("frequency_penalty", -2, 2), ("presence_penalty", -2, 2)]:
        if name in out:
            assert isinstance(out[name], (int, float)) and math.isfinite(out[name]) and low <= out[name] <= high
    assert "top_p" not in out or out["top_p"] > 0
    assert 0 < out["max_tokens"] <= 4096
    if "max_completion_tokens" in out:
        assert out["max_completion_tokens"] == out["max_tokens"]
    if "n" in out:
        assert out["n"] == 1 if revision == "2026-09" else 1 <= out["n"] <= 5
    assert all(-100 <= v <= 100 for v in out.get("logit_bias", {}).values() if isinstance(v, (int, float)))
    assert out["return_token_ids"] is True
    assert len(out["messages"]) <= 2048
    for forbidden in ("plugins", "store", "extra_body", "stop_token_ids" if revision == "2026-09" else "extra_body"):
        assert forbidden not in out
    if revision == "2026-09":
        assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
        assert 64 <= out["max_tokens"] and out["min_tokens"] <= out["max_tokens"]
    elif "stream_options" in out:
        assert out.get("stream") is True and set(out["stream_options"]) <= {"include_usage"}
    if "kimi" in model.lower() and isinstance(out.get("thinking_token_budget"), int):
        assert out["thinking_token_budget"] <= max(out["max_tokens"] - 64, 0)


@given(json_values, st.sampled_from(MODELS), st.sampled_from(REVISIONS))
def test_the_engine_never_crashes_on_any_json(value, model, revision) -> None:
    analysis = analyse(json.dumps(value), model=model, revision=revision)
    assert analysis.result.outcome in ("accepted", "rejected")


@given(st.dictionaries(st.sampled_from(sorted(ALLOWED)), json_values, max_size=8), st.sampled_from(MODELS), st.sampled_from(REVISIONS))
def test_the_engine_never_crashes_on_wrong_types_in_known_fields(body, model, revision) -> None:
    analysis = analyse(body, model=model, revision=revision)
    assert analysis.result.outcome in ("accepted", "rejected")


@given(st.binary(max_size=200))
def test_the_engine_never_crashes_on_arbitrary_bytes(raw) -> None:
    assert normalize(raw).outcome in ("accepted", "rejected")


def test_a_negative_zero_literal_keeps_its_sign_as_go_forwards_it() -> None:
    # Go keeps json.Number("-0") verbatim when it forwards a field untouched, and ParseInt reads 0.
    body = b'{"messages":[{"role":"user","content":"hi"}],"seed":-0,"min_p":-0}'
    result = normalize(body, model=MINIMAX, revision=NEW)
    assert result.outcome == "accepted"
    assert b'"seed":-0' in forwarded_bytes(result) and b'"min_p":-0' in forwarded_bytes(result)


def test_a_long_model_id_is_answered_but_not_kept() -> None:
    # family_of and unsupported_model remember short ids; a hostile log of distinct huge ids
    # must not stay in memory through their caches (the id object itself would be held).
    import sys

    from gonka_conformance.engine import family_of, unsupported_model

    model = "kimi-" + "x" * 100_000
    before = sys.getrefcount(model)
    assert family_of(CATALOGUE, model) == family_of(CATALOGUE, "kimi-x")
    rejection = unsupported_model(CATALOGUE, model, NEW)
    assert rejection is not None and rejection.pointer == "/model"
    assert rejection == unsupported_model(CATALOGUE, model, NEW, None, "/model")
    del rejection
    assert sys.getrefcount(model) == before
    assert unsupported_model(CATALOGUE, KIMI, NEW) is None
