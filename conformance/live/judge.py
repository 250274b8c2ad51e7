"""What a case should show (from the engine and the catalogue) and whether the target showed it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..catalogue.loader import Catalogue
from ..catalogue.model import Rule
from ..common.pointers import split_pointer, value_at
from ..engine import EngineError, forwarded_bytes, normalize, render
from .cases import LiveCase, LiveRequest
from .fielddiff import field_diff
from .observe import Observation


@dataclass(frozen=True)
class Expectation:
    status: int
    message: str | None  # the exact error text, when the case asks for the engine's
    contains: str | None
    forwarded: Any  # the engine's forwarded body (accepted requests)
    touched: dict[str, set[str]] | None = None  # top-level field -> rules whose events changed it
    rules: frozenset[str] = frozenset()  # every rule the engine's result names (events, rejection)

    def describe(self) -> str:
        if self.status == 200:
            return "HTTP 200"
        text = f"HTTP {self.status}"
        if self.message:
            text += f" {self.message!r}"
        elif self.contains:
            text += f" containing {self.contains!r}"
        return text


def expect(
    catalogue: Catalogue, case: LiveCase, request: LiveRequest, model: str, revision: str,
    profile: str | None = None, evidence: dict[str, str] | None = None,
) -> Expectation:
    spec = case.expect
    # A route rule is answered around normalize; a response rule's error example (error-body-shape)
    # is one the engine rejects, so it takes the engine's verdict like any request rule.
    if case.rule.stage == "route" and spec.get("status") not in (None, 200):
        return route_expectation(case, model)
    result = normalize(request.body, model=model, revision=revision, profile=profile, catalogue=catalogue, evidence=evidence)
    rules = frozenset(event.rule for event in result.events)
    if result.outcome == "rejected":
        message = result.message if spec.get("error") == "engine" else None
        return Expectation(result.status, message, spec.get("error_contains"), None, rules=rules | {result.rule})
    touched: dict[str, set[str]] = {}
    for event in result.events:
        for field in _top_fields(event.pointer):
            touched.setdefault(field, set()).add(event.rule)
    return Expectation(200, None, spec.get("error_contains"), json.loads(forwarded_bytes(result)), touched, rules)


def route_expectation(case: LiveCase, model: str) -> Expectation:
    """A rule the gateway answers around normalize: its status and (``error: engine``) its
    message come from the catalogue, filled with what the request shows (the model)."""
    rule, spec = case.rule, case.expect
    status = int(rule.status or spec["status"])
    message = _route_message(rule, model) if spec.get("error") == "engine" else None
    return Expectation(status, message, spec.get("error_contains"), None)


def _route_message(rule: Rule, model: str) -> str:
    template = rule.messages.get("default")
    if template is None:
        raise EngineError(f"rule {rule.id}: `error: engine` needs a default message")
    return render(template, {"model": model})


def _top_fields(pointer: str) -> list[str]:
    """The top-level fields an event's (client) pointer concerns; a key lifted out of
    ``extra_body`` concerns both the envelope and the top-level field it became."""
    tokens = split_pointer(pointer)[:2]
    if not tokens:
        return []
    return tokens if tokens[0] == "extra_body" and len(tokens) > 1 else tokens[:1]


def judge(case: LiveCase, expectation: Expectation, obs: Observation, forwarded: Any = None,
          reject_latency: float | None = None) -> list[str]:
    """Every way the observation differs from the expectation (empty = conforms). Broker data
    of any shape is judged without raising: a wrong type is a difference where the case looks.
    ``reject_latency``: the longest an expected reject may take (the gateway answers it before
    any inference, so a slow one means the request went further than it should)."""
    spec = case.expect
    problems: list[str] = []
    if obs.status != expectation.status:
        got = f"HTTP {obs.status}" + (f" {obs.error_message!r}" if obs.error_message else "")
        return [f"expected {expectation.describe()}, got {got}"]
    if expectation.status != 200:
        text = obs.error_message
        if expectation.message is not None and text != expectation.message:
            problems.append(f"error message differs: expected {expectation.message!r}, got {text!r}")
        if expectation.contains and (text is None or expectation.contains not in text):
            problems.append(f"error message {text!r} does not contain {expectation.contains!r}")
        for path in spec.get("no_fields") or ():
            if _lookup(obs.json, path) is not _ABSENT:
                problems.append(f"error body has {path}, which the gateway never sends")
        if reject_latency is not None and obs.latency > reject_latency:
            problems.append(f"the reject took {obs.latency:.1f}s, more than the {reject_latency:g}s bound (--reject-latency): "
                            "a gateway answers it before any inference")
        return problems
    documents = [obs.json] if obs.json is not None else list(obs.chunks)
    if "choices" in spec:
        wanted = spec["choices"]
        if wanted == "engine":
            forwarded_n = expectation.forwarded.get("n") if isinstance(expectation.forwarded, dict) else None
            wanted = forwarded_n if isinstance(forwarded_n, int) else 1
        count = _choice_count(obs)
        if count != wanted:
            problems.append(f"expected {wanted} choice(s), got {count}")
    if "finish_reason" in spec:
        reasons = _finish_reasons(obs)
        if not reasons or any(r != spec["finish_reason"] for r in reasons):
            problems.append(f"expected finish_reason {spec['finish_reason']!r}, got {reasons}")
    if spec.get("max_completion_tokens") == "engine" and isinstance(expectation.forwarded, dict):
        limit = expectation.forwarded.get("max_tokens")
        usage = obs.usage if isinstance(obs.usage, dict) else {}
        used = usage.get("completion_tokens")
        if not isinstance(used, int):
            problems.append("usage.completion_tokens missing: the output cap cannot be checked")
        elif isinstance(limit, int) and used > limit:
            problems.append(f"completion_tokens {used} exceeds the effective max_tokens {limit}")
    if "stream_done" in spec and obs.done != spec["stream_done"]:
        problems.append(f"stream {'did not end' if spec['stream_done'] else 'ended'} with data: [DONE]")
    if "usage_in_stream" in spec:
        has_usage = any(isinstance(c, dict) and c.get("usage") for c in obs.chunks)
        if has_usage != spec["usage_in_stream"]:
            problems.append(f"usage chunk {'missing' if spec['usage_in_stream'] else 'present'} in the stream")
    if "id_pattern" in spec:
        ids = [d.get("id") for d in documents if isinstance(d, dict)]
        if not ids or any(not (isinstance(i, str) and re.search(spec["id_pattern"], i)) for i in ids):
            shown = sorted({i if isinstance(i, str) else f"<{type(i).__name__}>" for i in ids})
            problems.append(f"response id {shown} does not match {spec['id_pattern']}")
    for path in spec.get("no_fields") or ():
        if any(_lookup(d, path) is not _ABSENT for d in documents):
            problems.append(f"response carries {path}, which the gateway strips")
    if spec.get("forwarded") == "engine" and forwarded is not None and forwarded != expectation.forwarded:
        differing = _differing_fields(expectation.forwarded, forwarded)
        responsible = set().union(*((expectation.touched or {}).get(f, set()) for f in differing)) if differing else set()
        # A difference that only other rules' changes explain belongs to those rules' own cases.
        if not responsible or case.rule.id in responsible:
            problems.append(f"forwarded body differs from the engine's: {_diff(expectation.forwarded, forwarded)}")
    return problems


def _differing_fields(expected: Any, got: Any) -> set[str]:
    if not (isinstance(expected, dict) and isinstance(got, dict)):
        return set()
    return {k for k in set(expected) | set(got) if expected.get(k, _ABSENT) != got.get(k, _ABSENT)}


_ABSENT = object()


def _lookup(document: Any, path: str) -> Any:
    return value_at(document, path.split("."), _ABSENT)


def _choice_count(obs: Observation) -> int:
    if isinstance(obs.json, dict):
        return len(_choices(obs.json))
    indexes = {c["index"] for chunk in obs.chunks for c in _choices(chunk)
               if isinstance(c.get("index"), int) and not isinstance(c["index"], bool)}
    return len(indexes)


def _finish_reasons(obs: Observation) -> list[Any]:
    if isinstance(obs.json, dict):
        return [c.get("finish_reason") for c in _choices(obs.json)]
    return [c.get("finish_reason") for chunk in obs.chunks for c in _choices(chunk) if c.get("finish_reason")]


def _choices(document: Any) -> list[dict[str, Any]]:
    """A document's choice objects; whatever else a broker put there is no choice."""
    choices = document.get("choices") if isinstance(document, dict) else None
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


def _diff(expected: Any, got: Any) -> str:
    return "; ".join(field_diff(expected, got))[:400]
