"""The simulated model's structure, for every family: JSON mode gives a JSON object, a
json_schema / structured_outputs.json answer is an instance valid against the schema, tool-call
arguments are valid against each tool's parameters — all checked with jsonschema and the same
for the same request — and "reply with the single word X" is followed."""

from __future__ import annotations

import json

import jsonschema
import pytest

from gonka_conformance.engine.pipeline import normalize
from gonka_conformance.gateway.instances import instance, is_valid
from gonka_conformance.gateway.simulate import simulate
from models import KIMI, SERVED_BY

SCHEMAS = {
    "person": {"type": "object", "additionalProperties": False, "required": ["name", "age", "tags", "email"],
               "properties": {"name": {"type": "string", "minLength": 3, "maxLength": 20},
                              "age": {"type": "integer", "minimum": 18, "maximum": 99},
                              "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 1,
                                       "maxItems": 3, "uniqueItems": True},
                              "email": {"type": "string", "format": "email"}}},
    "order": {"type": "object", "required": ["id", "lines", "status"],
              "properties": {"id": {"type": "string", "pattern": "^ORD-[0-9]{6}$"},
                             "status": {"type": "string", "enum": ["open", "paid", "shipped"]},
                             "lines": {"type": "array", "minItems": 2, "items": {
                                 "type": "object", "required": ["sku", "qty", "price"],
                                 "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}\\d{2}$"},
                                                "qty": {"type": "integer", "exclusiveMinimum": 0},
                                                "price": {"type": "number", "minimum": 0.5, "multipleOf": 0.25}}}}}},
    "union": {"type": "object", "required": ["value", "note"],
              "properties": {"value": {"anyOf": [{"type": "integer", "minimum": 100}, {"type": "null"}]},
                             "note": {"oneOf": [{"type": "string", "maxLength": 5}, {"type": "boolean"}]},
                             "when": {"type": "string", "format": "date-time"}}},
}
TOOLS = [{"type": "function", "function": {"name": name, "parameters": schema}} for name, schema in SCHEMAS.items()]


def _answer(model: str, body: dict) -> tuple[object, str, str]:
    """(the engine's result, the visible content without a <think> block, finish_reason)."""
    result = normalize(json.dumps({"model": model, **body}).encode(), revision=SERVED_BY[model])
    assert result.outcome == "accepted", result.message
    sim = simulate(result.body, model=result.model, family=result.family)
    choice = sim.choices[0]
    text = "".join(choice.content or [])
    return sim, text.split("</think>\n\n", 1)[-1], choice.finish_reason


def _ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("model", sorted(SERVED_BY))
def test_json_mode_gives_a_json_object(model: str) -> None:
    _, text, finish = _answer(model, {"messages": _ask("Describe the sea as JSON"),
                                      "response_format": {"type": "json_object"}, "max_tokens": 4096})
    assert finish == "stop" and isinstance(json.loads(text), dict)


@pytest.mark.parametrize("model", sorted(SERVED_BY))
@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_json_schema_answer_is_valid_and_deterministic(model: str, name: str) -> None:
    body = {"messages": _ask(f"Give me a {name}"), "max_tokens": 4096,
            "response_format": {"type": "json_schema", "json_schema": {"name": name, "schema": SCHEMAS[name]}}}
    sim, text, finish = _answer(model, body)
    assert finish == "stop"
    jsonschema.validate(json.loads(text), SCHEMAS[name])
    assert _answer(model, body)[1] == text  # the same request, the same answer


@pytest.mark.parametrize("model", sorted(SERVED_BY))
def test_structured_outputs_json_is_valid_where_the_gateway_accepts_it(model: str) -> None:
    body = {"model": model, "messages": _ask("order please"), "max_tokens": 4096,
            "structured_outputs": {"json": SCHEMAS["order"]}}
    result = normalize(json.dumps(body).encode(), revision=SERVED_BY[model])
    if result.outcome != "accepted":  # Kimi and MiniMax refuse it: the catalogue's own rules say so
        assert result.rule in ("reject-structured_outputs-kimi", "reject-structured_outputs-minimax")
        return
    _, text, _ = _answer(model, {k: v for k, v in body.items() if k != "model"})
    jsonschema.validate(json.loads(text), SCHEMAS["order"])


@pytest.mark.parametrize("model", sorted(SERVED_BY))
@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_tool_call_arguments_are_valid_against_parameters(model: str, name: str) -> None:
    body = {"messages": _ask(f"Call {name} now"), "tools": TOOLS, "max_tokens": 4096}
    if model.startswith("moonshotai"):
        body["thinking_token_budget"] = 0
    sim, _, finish = _answer(model, body)
    calls = sim.choices[0].tool_calls
    assert finish == "tool_calls" and [c.name for c in calls] == [name]
    jsonschema.validate(json.loads(calls[0].arguments), SCHEMAS[name])


@pytest.mark.parametrize("model", sorted(SERVED_BY))
@pytest.mark.parametrize("prompt, word", [("Reply with the single word OK", "OK"),
                                          ("Do not use tools. Respond with one word: pong.", "pong")])
def test_single_word_instruction(model: str, prompt: str, word: str) -> None:
    _, text, finish = _answer(model, {"messages": _ask(prompt), "max_tokens": 4096})
    assert (text, finish) == (word, "stop")


def test_a_budget_too_small_cuts_the_json_with_finish_length() -> None:
    body = {"messages": _ask("order"), "max_tokens": 20, "thinking_token_budget": 0,
            "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": SCHEMAS["order"]}}}
    _, text, finish = _answer(KIMI, body)
    assert finish == "length" and text
    with pytest.raises(ValueError):
        json.loads(text)


def test_instances_for_many_seeds_are_valid() -> None:
    for seed in range(50):
        for schema in SCHEMAS.values():
            assert is_valid(schema, instance(schema, seed)), (seed, schema)
