"""Live cases from the catalogue, and the exact request each sends to a model."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..catalogue.loader import Catalogue
from ..catalogue.model import Rule
from ..engine import family_of, rule_applies

BASE_PROMPT = "Reply with the single word OK."
CHEAP_MAX_TOKENS = 16


@dataclass(frozen=True)
class LiveCase:
    rule: Rule
    spec: Mapping[str, Any]
    id: str  # stable: "<rule-id>" or "<rule-id>:<case-name>"

    @property
    def tier(self) -> str:
        return str(self.spec.get("tier", "cheap"))

    @property
    def observable(self) -> str:
        return str(self.spec.get("observable", "black-box"))

    @property
    def expect(self) -> Mapping[str, Any]:
        return self.spec.get("expect") or {}

    def applies_to(self, catalogue: Catalogue, model: str, revision: str) -> bool:
        family = family_of(catalogue, model)
        if not rule_applies(catalogue, self.rule, revision, family):
            return False
        wanted = self.spec.get("families")
        return not wanted or family in wanted


@dataclass(frozen=True)
class LiveRequest:
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    remove_auth: bool = False
    streaming: bool = False
    nonce: str = ""


def live_cases(catalogue: Catalogue, tier: str = "cheap") -> list[LiveCase]:
    """Every live example of every rule, in catalogue order; ``full`` includes ``cheap``."""
    cases = []
    for rule in catalogue.rules:
        many = len(rule.live) > 1
        for index, spec in enumerate(rule.live):
            name = spec.get("name") or f"case{index + 1}"
            case = LiveCase(rule, spec, f"{rule.id}:{name}" if many else rule.id)
            if tier == "full" or case.tier == "cheap":
                cases.append(case)
    return cases


def new_nonce() -> str:
    return f"gc-{uuid.uuid4().hex[:12]}"


def build_request(case: LiveCase, model: str, nonce: str | None = None) -> LiveRequest:
    """The request for ``case`` on ``model``: the minimal chat request, the case's fields over
    it, and a nonce in the first user message so the gateway's one-hour cache never answers."""
    spec = case.spec
    headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
    remove_auth = headers.get("Authorization", None) == ""
    headers = {k: v for k, v in headers.items() if not (k == "Authorization" and v == "")}
    if "raw_body" in spec:
        return LiveRequest(str(spec["raw_body"]).encode(), headers, remove_auth, False, "")
    return _json_request([case], model, headers, remove_auth, nonce)


def build_packed_request(cases: list[LiveCase], model: str, nonce: str | None = None) -> LiveRequest:
    """One request carrying the fields of several plain-JSON cases (``packing`` decides which
    may share; a case later in the list wins a field, though packed cases agree on shared ones)."""
    return _json_request(cases, model, {}, False, nonce)


def _json_request(cases: list[LiveCase], model: str, headers: dict[str, str], remove_auth: bool,
                  nonce: str | None) -> LiveRequest:
    nonce = nonce or new_nonce()
    request: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": BASE_PROMPT}]}
    overrides: dict[str, Any] = {}
    for case in cases:
        overrides.update(case.spec.get("request") or {})
    if all(case.tier == "cheap" for case in cases) and "max_tokens" not in overrides and "max_completion_tokens" not in overrides:
        request["max_tokens"] = CHEAP_MAX_TOKENS
    request.update(json.loads(json.dumps(overrides)))  # deep copy of YAML data
    _stamp_nonce(request, nonce)
    pad = [int(case.spec["pad_bytes"]) for case in cases if "pad_bytes" in case.spec]
    body = _pad(request, pad[-1]) if pad else json.dumps(request, ensure_ascii=False).encode()
    return LiveRequest(body, headers, remove_auth, request.get("stream") is True, nonce)


def _stamp_nonce(request: dict[str, Any], nonce: str) -> None:
    messages = request.get("messages")
    if not isinstance(messages, list):
        return
    for message in messages:
        # A blank message stays blank: cases about empty content must not be "fixed" by the nonce.
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, str) and content.strip():
            message["content"] = f"[{nonce}] {message['content']}"
            return


_PAD_MARK = "\u0000gc-pad\u0000"  # (JSON escapes a NUL: this encoding appears only where a string holds the mark)


def _pad(request: dict[str, Any], size: int) -> bytes:
    """Grow the first text message so the encoded body is exactly ``size`` bytes: encoded once
    with a mark at the content's end, the filler goes in as bytes (a 10 MiB body is not encoded
    twice per model)."""
    message = next(m for m in request["messages"] if isinstance(m, dict) and isinstance(m.get("content"), str))
    content = message["content"]
    message["content"] = content + _PAD_MARK
    try:
        body = json.dumps(request, ensure_ascii=False).encode()
    finally:
        message["content"] = content
    mark = json.dumps(_PAD_MARK).strip('"').encode()
    filler = max(size - (len(body) - len(mark)), 0)
    message["content"] = content + "a" * filler
    return body.replace(mark, b"a" * filler, 1)


def canonical_models(catalogue: Catalogue) -> list[str]:
    """One model id per family (the family's first documented id)."""
    return [family.models[0] for family in catalogue.families if family.models]
