"""Context windows per family: a request whose estimated prompt plus requested output fits the
family's window is answered; one token more gets vLLM's own 400, passed through by the gateway
(contract.md §5.1), checked with the OpenAI SDK against the reference gateway on 127.0.0.1."""

from __future__ import annotations

import json
import math

import httpx
import openai
import pytest

from gonka_conformance.catalogue.loader import load_catalogue
from gonka_conformance.engine.pipeline import normalize
from gonka_conformance.gateway.hosterrors import ContextWindows, prompt_tokens
from gonka_conformance.gateway.instances import parameters
from gonka_conformance.gateway.simulate import canonical
from gateways import serve

FAMILIES = {  # model -> (a revision that serves it, the window its Gonka hosts serve)
    "moonshotai/Kimi-K2.6": ("2026-09", 240000), "Qwen/Qwen3-235B-A22B-Instruct-2507-FP8": ("2026-05", 240000),
    "MiniMaxAI/MiniMax-M2.7": ("2026-09", 180000), "zai-org/GLM-5.3-Flash": ("2026-09", 1048576),
    "deepseek-ai/DeepSeek-V4-Flash-0731": ("2026-09", 400000),
}
ASKED = 256


def _forwarded(model: str, revision: str, filler: int) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": "x" * filler}], "max_tokens": ASKED}
    result = normalize(json.dumps(body).encode(), revision=revision)
    assert result.outcome == "accepted", result.message
    return result.body


def _asked(body: dict) -> int:
    return body.get("max_completion_tokens") or body["max_tokens"]


def _filler_at_the_edge(model: str, revision: str, window: int) -> int:
    """The content length whose forwarded body's estimate plus the requested output is exactly
    the window (each ASCII character adds one byte to the canonical encoding)."""
    base = _forwarded(model, revision, 1)  # the gateway refuses empty content
    per_token = parameters()["tokens"]["chars_per_prompt_token"]
    return per_token * (window - _asked(base)) - len(canonical(base)) + 1


def test_every_family_has_a_sourced_window_and_the_data_agrees_with_the_test():
    catalogue = load_catalogue()
    windows = ContextWindows(catalogue)
    for family in catalogue.families:
        assert family.context_window is not None and family.context_window.sources, family.id
    for model, (_, window) in FAMILIES.items():
        family = next(f.id for f in catalogue.families if f.models and model in f.models)
        assert windows.window(family) == window


@pytest.mark.parametrize("model", sorted(FAMILIES))
def test_just_under_the_window_passes_and_just_over_gets_the_vllm_error(model: str) -> None:
    revision, window = FAMILIES[model]
    edge = _filler_at_the_edge(model, revision, window)
    fits, over = _forwarded(model, revision, edge), _forwarded(model, revision, edge + 1)
    asked = _asked(fits)
    assert prompt_tokens(canonical(fits)) + asked == window            # exactly at the window
    assert prompt_tokens(canonical(over)) + asked == window + 1        # one token beyond
    prompt = prompt_tokens(canonical(over))
    with serve(revision=revision, open_models=(model,)) as gateway:
        client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0, timeout=60.0)
        answer = client.chat.completions.create(model=model, max_tokens=ASKED,
                                                messages=[{"role": "user", "content": "x" * edge}])
        assert answer.choices[0].finish_reason in ("stop", "length")
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model=model, max_tokens=ASKED,
                                           messages=[{"role": "user", "content": "x" * (edge + 1)}])
    error = caught.value
    assert error.status_code == 400
    assert error.body == {
        "message": f"'max_tokens' or 'max_completion_tokens' is too large: {asked}. This model's maximum context "
                   f"length is {window} tokens and your request has {prompt} input tokens "
                   f"({asked} > {window} - {prompt}). (parameter=max_tokens, value={asked})",
        "type": "BadRequestError", "param": "max_tokens", "code": 400}


def test_a_prompt_alone_beyond_the_window_and_the_streamed_pass_through():
    model, (revision, window) = "MiniMaxAI/MiniMax-M2.7", FAMILIES["MiniMaxAI/MiniMax-M2.7"]
    filler = parameters()["tokens"]["chars_per_prompt_token"] * window
    body = {"model": model, "messages": [{"role": "user", "content": "x" * filler}], "max_tokens": ASKED}
    forwarded = normalize(json.dumps(body).encode(), revision=revision).body
    prompt = prompt_tokens(canonical(forwarded))
    assert prompt >= window
    with serve(revision=revision, open_models=(model,)) as gateway:
        plain = httpx.post(gateway.base_url + "/chat/completions", json=body, timeout=60.0)
        streamed = httpx.post(gateway.base_url + "/chat/completions", json={**body, "stream": True}, timeout=60.0)
    assert plain.status_code == 400 and plain.headers["content-type"].startswith("application/json")
    expected = {"error": {
        "message": f"This model's maximum context length is {window} tokens. However, your request has {prompt} "
                   f"input tokens. Please reduce the length of the input messages. "
                   f"(parameter=input_tokens, value={prompt})",
        "type": "BadRequestError", "param": "input_tokens", "code": 400}}
    assert plain.json() == expected
    # Streaming: the host error before any output is one event, then [DONE], with HTTP 200.
    assert streamed.status_code == 200
    events = [line[len("data: "):] for line in streamed.text.split("\n\n") if line]
    assert [json.loads(events[0]), events[1]] == [expected, "[DONE]"] and len(events) == 2


def test_the_window_uses_the_simulations_estimate_from_yaml():
    per_token = parameters()["tokens"]["chars_per_prompt_token"]
    assert prompt_tokens(b"") == 1
    assert prompt_tokens(b"a" * (per_token * 10 + 1)) == math.ceil((per_token * 10 + 1) / per_token) == 11


def test_the_disputed_wording_is_data_too():
    catalogue = load_catalogue()
    newer = ContextWindows(catalogue, side="vllm-renderer")
    body = {"max_tokens": 100}
    refused = newer.check(body, "kimi", b"x" * (4 * 239950))
    assert refused is not None and refused.status == 400
    assert refused.payload["error"]["message"] == (
        "You passed 239950 input tokens and requested 100 output tokens. However, the model's context length is only "
        "240000 tokens, resulting in a maximum input length of 239900 tokens. Please reduce the length of the input "
        "prompt. (parameter=input_tokens, value=239950)")
    glm = next(f for f in catalogue.families if f.id == "glm")
    assert glm.context_window is not None and [d.tokens for d in glm.context_window.disputed] == [524288]


def test_the_linter_warns_when_a_payload_clearly_exceeds_the_window():
    from gonka_conformance.lint import lint

    for model, (revision, window) in FAMILIES.items():
        over = {"model": model, "messages": [{"role": "user", "content": "x" * (4 * window)}], "max_tokens": ASKED}
        found = [f for f in lint(over, revision=revision) if f.rule == "context-window-exceeded"]
        assert len(found) == 1 and f"exceed the {window}-token context window" in found[0].message, model
        fits = {**over, "messages": [{"role": "user", "content": "x" * (4 * (window - 2 * ASKED) - 200)}]}
        assert not [f for f in lint(fits, revision=revision) if f.rule == "context-window-exceeded"], model
