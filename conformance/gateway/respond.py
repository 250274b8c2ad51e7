"""From simulated host output to what the client receives.

The simulated host answers the way vLLM does for the *forwarded* body (token ids because
``return_token_ids`` is forced, logprobs when the forwarded body asks, a usage chunk when the
upstream stream asks). The gateway's response rules (cases/rules/70-gateway.yaml, stage
``response``) then shape it for the client through the engine's ``Responder``
(``engine.gateway.responder``): this module only renders the host's output, leaving out the
fields the responder removes anyway.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any, Iterator

from .simulate import SimChoice, Simulation, token_id

STREAM_TOKENS_PER_CHUNK = 4   # simulation parameter: tokens per content/reasoning delta
MAX_PROMPT_TOKEN_IDS = 8192   # stand-in length of the (always stripped) prompt_token_ids

# --- rendering the host's output ----------------------------------------------------------------


def _logprobs(sim: Simulation, choice: SimChoice, tokens: list[str], offset: int) -> dict[str, Any]:
    entries = []
    for position, token in enumerate(tokens, offset):
        mix = (choice.seed + position * 2654435761) % 1000
        logprob = -round(mix / 400.0, 4)
        entry: dict[str, Any] = {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8", errors="surrogatepass"))}
        entry["top_logprobs"] = [{"token": token, "logprob": logprob, "bytes": entry["bytes"]}] + [
            {"token": f" alt{k}", "logprob": round(logprob - k - 0.5, 4), "bytes": list(f" alt{k}".encode())}
            for k in range(1, sim.top_logprobs)
        ] if sim.top_logprobs else []
        entries.append(entry)
    return {"content": entries}


def _tool_call_json(call: Any) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def upstream_completion(sim: Simulation, created: int, omit: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The host's non-streamed ``chat.completion`` (or the gateway's fold of its stream).
    ``omit``: fields the gateway strips anyway (:attr:`Responder.removes`), left unrendered."""
    choices = []
    for choice in sim.choices:
        message: dict[str, Any] = {"role": "assistant", "content": None if choice.content is None else "".join(choice.content)}
        if sim.style.separate_reasoning:
            message["reasoning_content"] = "".join(choice.reasoning) if choice.reasoning else None
        if choice.tool_calls:
            message["tool_calls"] = [_tool_call_json(c) for c in choice.tool_calls]
        item: dict[str, Any] = {
            "index": choice.index, "message": message,
            "logprobs": _logprobs(sim, choice, choice.content or [], 0) if sim.logprobs and "logprobs" not in omit else None,
            "finish_reason": choice.finish_reason, "stop_reason": None,
        }
        if sim.return_token_ids and "token_ids" not in omit:
            item["token_ids"] = list(map(token_id, choice.reasoning + (choice.content or [])))
        choices.append(item)
    body: dict[str, Any] = {
        "id": f"chatcmpl-{sim.prompt_seed:016x}", "object": "chat.completion", "created": created, "model": sim.model,
        "choices": choices, "usage": sim.usage, "prompt_logprobs": None,
    }
    if sim.return_token_ids and "prompt_token_ids" not in omit:
        body["prompt_token_ids"] = list(range(min(sim.prompt_tokens, MAX_PROMPT_TOKEN_IDS)))
    return body


def _choice_deltas(sim: Simulation, choice: SimChoice, omit: frozenset[str]) -> Iterator[dict[str, Any]]:
    logprobs = sim.logprobs and "logprobs" not in omit
    token_ids = sim.return_token_ids and "token_ids" not in omit

    def delta(payload: dict[str, Any], tokens: list[str] | None = None, offset: int = 0, finish: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"index": choice.index, "delta": payload, "logprobs": None, "finish_reason": finish}
        if tokens is not None and logprobs:
            item["logprobs"] = _logprobs(sim, choice, tokens, offset)
        if token_ids:
            item["token_ids"] = list(map(token_id, tokens or ()))
        if finish is not None:
            item["stop_reason"] = None
        return item

    yield delta({"role": "assistant", "content": ""})
    step = STREAM_TOKENS_PER_CHUNK
    for start in range(0, len(choice.reasoning), step):
        piece = choice.reasoning[start:start + step]
        yield delta({"reasoning_content": "".join(piece)}, piece)
    content = choice.content or []
    for start in range(0, len(content), step):
        piece = content[start:start + step]
        yield delta({"content": "".join(piece)}, piece, start)
    for number, call in enumerate(choice.tool_calls):
        head = {"index": number, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        yield delta({"tool_calls": [head]})
        half = len(call.arguments) // 2
        for part in (call.arguments[:half], call.arguments[half:]):
            if part:
                yield delta({"tool_calls": [{"index": number, "function": {"arguments": part}}]})
    yield delta({}, finish=choice.finish_reason)


def upstream_chunks(sim: Simulation, created: int, omit: frozenset[str] = frozenset()) -> Iterator[dict[str, Any]]:
    """The host's ``chat.completion.chunk`` events, choices interleaved as vLLM emits them
    (``omit``: as for :func:`upstream_completion`)."""
    upstream_id = f"chatcmpl-{sim.prompt_seed:016x}"
    first = sim.return_token_ids and "prompt_token_ids" not in omit
    streams = [_choice_deltas(sim, choice, omit) for choice in sim.choices]
    for step in zip_longest(*streams):
        for item in step:
            if item is None:
                continue
            chunk: dict[str, Any] = {"id": upstream_id, "object": "chat.completion.chunk", "created": created,
                                     "model": sim.model, "choices": [item]}
            if first:
                chunk["prompt_token_ids"] = list(range(min(sim.prompt_tokens, MAX_PROMPT_TOKEN_IDS)))
            first = False
            yield chunk
    if sim.include_usage:
        yield {"id": upstream_id, "object": "chat.completion.chunk", "created": created, "model": sim.model,
               "choices": [], "usage": sim.usage}
