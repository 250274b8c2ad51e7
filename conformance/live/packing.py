"""Cost-aware probing: which live cases may share one request, as the engine predicts it.

A case that the gateway accepts costs inference tokens (the 2026-09 floor makes every accepted
request at least 64 completion tokens). Many such cases only set one field and expect a silent
change (strip, clamp, coerce, default, translate) that the white-box view shows in the forwarded
body. Those cases are packed: one request per model carries several cases' fields at once.

A pack is formed only where the engine predicts the combined outcome: the packed request is
accepted and, for every packed case's rule, its silent changes are exactly the union of the
changes that rule makes to each case alone (nothing lost, nothing new from an interaction).
Other rules' changes may differ (a packed ``max_tokens: 64`` makes the 64-token floor idle);
the judge leaves those to the rules' own cases. The runner sends a pack, judges every case in
it, and bisects a pack that deviates, so every case still gets its own outcome and evidence.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..catalogue.loader import Catalogue
from ..engine import normalize
from .cases import LiveCase, LiveRequest, build_request, build_packed_request

#: What a packed case may expect. Its status and forwarded body are predicted by the engine for
#: the packed request; response-side checks (absent fields, id shape, choice count) hold per
#: response. Finish reasons, output caps and stream framing depend on the whole request: alone.
PACKABLE_EXPECTATIONS = frozenset({"status", "forwarded", "no_fields", "id_pattern", "choices"})
#: Request fields that overlap in meaning: two cases setting them differently never share.
SAME_FIELD = {"max_completion_tokens": "max_tokens"}
#: Largest pack: a deviating pack costs about 2·log2(size) requests to bisect.
MAX_PACK = 16
#: The nonce the plan is computed with (every real request gets a fresh one).
PLAN_NONCE = "gc-000000000000"


@dataclass
class Pack:
    model: str
    cases: list[LiveCase]
    fields: dict[str, Any] = field(default_factory=dict)  # field -> value every member agrees on
    events: frozenset[tuple[str, ...]] = frozenset()  # the packed rules' changes

    @property
    def rules(self) -> set[str]:
        return {case.rule.id for case in self.cases}


def packable(case: LiveCase, whitebox: bool) -> bool:
    """A plain JSON request with no header, size or stream trick, judged on what packs keep."""
    spec = case.spec
    if case.rule.stage == "route" or any(k in spec for k in ("raw_body", "pad_bytes", "headers")):
        return False
    request = spec.get("request")
    if not isinstance(request, Mapping) or request.get("stream") is True:
        return False
    if case.observable == "reference-only" and not whitebox:
        return False  # judged on its status alone: sent by itself (or not at all when accepted)
    return set(case.expect) <= PACKABLE_EXPECTATIONS and case.expect.get("status", 200) == 200


def _event_keys(result: Any) -> frozenset[tuple[str, ...]]:
    return frozenset((e.rule, e.kind, e.pointer, e.detail, _text(e.before), _text(e.after)) for e in result.events)


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _of(events: frozenset[tuple[str, ...]], rules: set[str]) -> frozenset[tuple[str, ...]]:
    return frozenset(event for event in events if event[1] in rules)


def _fields(case: LiveCase) -> dict[str, Any]:
    request = dict(case.spec.get("request") or {})
    lifted = request.get("extra_body")
    if isinstance(lifted, Mapping):  # keys lifted out of extra_body become top-level fields
        request.update({f"extra_body.{k}": v for k, v in lifted.items()})
    return {SAME_FIELD.get(k) or k: v for k, v in request.items()}


class Planner:
    """Packs the accepted, packable cases of each model, greedily in catalogue order."""

    def __init__(self, catalogue: Catalogue, revision: str, profiles: Iterable[str | None] = (None,)) -> None:
        self.catalogue = catalogue
        self.revision = revision
        self.profiles = tuple(profiles)

    def _engine(self, request: LiveRequest, model: str) -> list[Any] | None:
        """The engine's results for ``request`` under every profile judged, or None if any rejects."""
        results = []
        for profile in self.profiles:
            result = normalize(request.body, model=model, revision=self.revision, profile=profile, catalogue=self.catalogue)
            if result.outcome != "accepted":
                return None
            results.append(result)
        return results

    def _events(self, request: LiveRequest, model: str) -> frozenset[tuple[str, ...]] | None:
        results = self._engine(request, model)
        if results is None:
            return None
        return frozenset((str(i), *key) for i, result in enumerate(results) for key in _event_keys(result))

    def plan(self, items: Iterable[tuple[LiveCase, str]], whitebox: bool) -> list[Pack]:
        """Packs of two or more cases; every other item is left to run alone."""
        packs: dict[str, list[Pack]] = {}
        for case, model in items:
            if not packable(case, whitebox):
                continue
            alone = self._events(build_request(case, model, PLAN_NONCE), model)
            if alone is None:
                continue  # the engine rejects it: it costs no tokens alone
            fields = _fields(case)
            for pack in packs.setdefault(model, []):
                if len(pack.cases) >= MAX_PACK or any(k in pack.fields and pack.fields[k] != v for k, v in fields.items()):
                    continue
                rules = pack.rules | {case.rule.id}
                merged = self._events(build_packed_request([*pack.cases, case], model, PLAN_NONCE), model)
                if merged is not None and _of(merged, rules) == pack.events | _of(alone, {case.rule.id}):
                    pack.cases.append(case)
                    pack.fields.update(fields)
                    pack.events = _of(merged, rules)
                    break
            else:
                packs[model].append(Pack(model, [case], fields, _of(alone, {case.rule.id})))
        return [pack for model_packs in packs.values() for pack in model_packs if len(pack.cases) > 1]


def token_shares(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (whole tokens, summing exactly to ``total``)."""
    if not weights:
        return []
    weight = sum(weights) or len(weights)
    shares = [total * (w or (1 if not sum(weights) else 0)) // weight for w in weights]
    for index in range(total - sum(shares)):
        shares[index % len(shares)] += 1
    return shares
