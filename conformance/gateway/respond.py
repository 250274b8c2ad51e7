"""From simulated host output to what the client receives.

The simulated host answers the way vLLM does for the *forwarded* body (token ids because
``return_token_ids`` is forced, logprobs when the forwarded body asks, a usage chunk when the
upstream stream asks). The gateway's response rules (cases/rules/70-gateway.yaml, stage
``response``) then shape it for the client, exactly as the client asked: the id is rewritten,
token ids always and logprobs unless asked are stripped, and (newest) streamed usage is
removed unless the client asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from typing import Any, Iterator

from ..catalogue.loader import Catalogue
from ..engine.pipeline import plan as engine_plan
from ..engine.types import MISSING, Accepted
from .simulate import SimChoice, Simulation, token_id

STREAM_TOKENS_PER_CHUNK = 4   # simulation parameter: tokens per content/reasoning delta
MAX_PROMPT_TOKEN_IDS = 8192   # stand-in length of the (always stripped) prompt_token_ids

# Rule ids this module executes (stable slugs, never reused).
FORCE_UPSTREAM_STREAM = "force-upstream-stream"
UNWRAP_EXTRA_BODY = "unwrap-extra_body"
RESPONSE_ID = "response-id-format"
STRIP_TOKEN_IDS = "strip-response-token-ids"
STRIP_LOGPROBS = "strip-response-logprobs-unless-asked"
STRIP_STREAM_USAGE = "strip-stream-usage-unless-asked"

RESPONSE_STAGES = ("response",)
_EXTRA_BODY = "/extra_body/"
_INTENT_FIELDS = ("stream", "stream_options", "top_logprobs", "logprobs")


# --- the client's intent ------------------------------------------------------------------


@dataclass(frozen=True)
class ClientIntent:
    """What the client asked for, as the gateway remembers it (contract.md §1 step 10, §6)."""

    stream: bool
    include_usage: bool
    logprobs: bool


def client_values(accepted: Accepted, fields: tuple[str, ...]) -> dict[str, Any]:
    """Top-level fields as the client sent them (after ``extra_body`` unwrapping): the forwarded
    values with the engine's later changes to them undone. The first change to a field holds
    what the client had; one pass over the events serves every field."""
    values = {name: accepted.body.get(name, MISSING) for name in fields}
    undone: set[str] = set()
    for event in accepted.events:
        pointer = event.pointer
        name = pointer[len(_EXTRA_BODY):] if pointer.startswith(_EXTRA_BODY) else pointer[1:]
        if name in values and name not in undone and event.rule != UNWRAP_EXTRA_BODY:
            values[name] = event.before
            undone.add(name)
    return values


def client_value(accepted: Accepted, field: str) -> Any:
    """One top-level field as the client sent it (see :func:`client_values`)."""
    return client_values(accepted, (field,))[field]


def client_intent(accepted: Accepted) -> ClientIntent:
    """The client's stream / usage / logprobs intent. The newest revision forces the upstream to
    stream with usage (rule force-upstream-stream); its events carry what the client had."""
    sent = client_values(accepted, _INTENT_FIELDS)
    stream = sent["stream"] is True
    options = sent["stream_options"]
    for event in accepted.events:  # force-upstream-stream saw the filtered stream_options
        if event.rule == FORCE_UPSTREAM_STREAM and event.pointer.endswith("/stream_options"):
            options = event.before
    include_usage = stream and isinstance(options, dict) and options.get("include_usage") is True
    top = sent["top_logprobs"]
    asked = sent["logprobs"] is True or (isinstance(top, int) and not isinstance(top, bool) and top > 0)
    return ClientIntent(stream, include_usage, asked)


# --- which response rules are in force ------------------------------------------------------


@dataclass(frozen=True)
class Shaping:
    """The response rules in force for one model family, decided once."""

    set_id: bool                       # response-id-format
    token_id_fields: frozenset[str]    # strip-response-token-ids (empty when not in force)
    logprob_fields: frozenset[str]     # strip-response-logprobs-unless-asked (idem)
    strip_stream_usage: bool           # strip-stream-usage-unless-asked


class ResponseRules:
    """Which response rules are in force (the engine's own applicability: revision, family and the
    profile's inactive divergences), and which fields the strip rules remove."""

    def __init__(self, catalogue: Catalogue, revision: str, profile: str | None) -> None:
        self.catalogue = catalogue
        self.revision = revision
        self.profile = profile
        self.token_id_fields = stripped_fields(catalogue, STRIP_TOKEN_IDS)
        self.logprob_fields = stripped_fields(catalogue, STRIP_LOGPROBS)
        self._shaping: dict[str | None, Shaping] = {}  # per family; a racing duplicate is equal

    def active(self, rule_id: str, family: str | None) -> bool:
        plan = engine_plan(self.catalogue, self.revision, family, self.profile, RESPONSE_STAGES)  # cached by the engine
        return plan.applicable.get(rule_id, False)

    def shaping(self, family: str | None) -> Shaping:
        shaping = self._shaping.get(family)
        if shaping is None:
            shaping = self._shaping[family] = Shaping(
                self.active(RESPONSE_ID, family),
                self.token_id_fields if self.active(STRIP_TOKEN_IDS, family) else frozenset(),
                self.logprob_fields if self.active(STRIP_LOGPROBS, family) else frozenset(),
                self.active(STRIP_STREAM_USAGE, family))
        return shaping


def stripped_fields(catalogue: Catalogue, rule_id: str) -> frozenset[str]:
    """The field names a strip rule removes at any depth: the last segment of every path its live
    examples' ``expect.no_fields`` lists (the catalogue states them once, for both sides)."""
    rule = catalogue.by_id[rule_id]
    names = {str(path).rsplit(".", 1)[-1] for spec in rule.live for path in (spec.get("expect") or {}).get("no_fields") or ()}
    if not names:
        raise ValueError(f"rule {rule_id} lists no fields (live expect.no_fields) for the gateway to strip")
    return frozenset(names)


def _strip(node: Any, names: frozenset[str]) -> None:
    if isinstance(node, dict):
        for name in names & node.keys():
            del node[name]
        for value in node.values():
            if isinstance(value, (dict, list)):
                _strip(value, names)
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, (dict, list)):
                _strip(value, names)


class Shaper:
    """Applies the response rules to one answer."""

    def __init__(self, rules: ResponseRules, family: str | None, intent: ClientIntent, response_id: str) -> None:
        shaping = rules.shaping(family)
        self.intent = intent
        self.response_id = response_id if shaping.set_id else None
        #: Field names removed at any depth: the host need not render them at all.
        self.stripped = shaping.token_id_fields | (frozenset() if intent.logprobs else shaping.logprob_fields)
        self.strip_stream_usage = shaping.strip_stream_usage and not intent.include_usage

    def shape(self, obj: dict[str, Any], streamed: bool) -> dict[str, Any] | None:
        if self.response_id is not None:
            obj["id"] = self.response_id
        if self.stripped:
            _strip(obj, self.stripped)
        if streamed and self.strip_stream_usage:
            obj.pop("usage", None)
            if not obj.get("choices"):
                return None  # a chunk left without choices is dropped
        return obj


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
    ``omit``: fields the gateway strips anyway (:attr:`Shaper.stripped`), left unrendered."""
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
